"""pyserial URL handlers of this project (`faulty://`, see docs/reliability.md).

pyserial finds `<scheme>://` through the packages listed in
`serial.protocol_handler_packages`; `register()` adds this one.
"""
from __future__ import annotations

PACKAGE = __name__


def register() -> None:
    """Make `serial.serial_for_url` understand this package's schemes (idempotent)."""
    import serial

    if PACKAGE not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append(PACKAGE)
