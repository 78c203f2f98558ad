"""One module per board kind.  Each has `start(board, **options) -> Session`,
where a Session has `url` (for serial.serial_for_url), `stop()`, and works as a
context manager that stops the board on exit.  Kinds: sim, qemu, serial,
micropython."""
