"""Text from user models (layer names, paths) made safe to show: control
characters as \\xNN, and rich markup escaped for tables."""
from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def plain(text) -> str:
    """Control characters (escape sequences included) shown as \\xNN."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def safe(text) -> str:
    """plain() plus rich markup escaped: for table cells and titles."""
    from rich.markup import escape
    return escape(plain(text))
