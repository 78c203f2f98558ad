"""Launcher for `kind = "qemu"` boards: the board's real Cortex-M image in
qemu-system-arm, its UART on a loopback TCP socket.

QEMU runs with `-icount shift=0,sleep=on`: virtual time advances one
nanosecond per executed instruction, so the SysTick-based kernel counter
reports instructions (QEMU's DWT CYCCNT reads 0), while an idle guest (WFI)
still sleeps in real time.  The serial port is a TCP server with `wait=on`
(the guest starts when the first client connects, so no early byte is lost)
and `nodelay=on` (without it every reply waits about 40 ms).
"""
from __future__ import annotations

import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from ..errors import BoardError, ToolMissing
from . import ProcessSession, die_with_parent, stop_process

QEMU = "qemu-system-arm"
QEMU_PACKAGE = "qemu-system-arm"
DEFAULT_HARD_TIMEOUT = 1800.0   # seconds: a forgotten emulator ends by itself
READY_TIMEOUT = 20.0
EXIT_FAULT = 3                  # the firmware's fault handler exits with this (startup.c)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def qemu_command(board, elf: Path, port: int) -> list[str]:
    machine = board.get("qemu.machine")
    if not machine:
        raise BoardError(f"board {board.name!r} has no [qemu] machine in its board.toml",
                         "add `machine = \"<qemu machine>\"` under [qemu]")
    return [QEMU, "-M", machine, "-nographic", "-monitor", "none",
            "-icount", "shift=0,sleep=on",
            "-semihosting-config", "enable=on,target=native",
            "-kernel", str(elf),
            "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on",
            *board.get("qemu.extra_args", [])]


class Session(ProcessSession):
    """A running emulator.  `url` is for serial.serial_for_url; `info` is the
    board's INFO answer (toolkit.protocol.client.BoardInfo)."""

    def __init__(self, board, proc: subprocess.Popen, url: str, port: int, log: Path):
        self.board, self.proc, self.url, self.port, self.log = board, proc, url, port, log
        self.info = None
        self.detached = False
        self.keep_log = False      # kept when the start failed: the error names it
        self._timer: threading.Timer | None = None

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        stop_process(self.proc, grace=3.0)
        if not self.detached and not self.keep_log:
            self.log.unlink(missing_ok=True)

    def __del__(self):
        proc = getattr(self, "proc", None)
        if proc is not None and proc.poll() is None and not getattr(self, "detached", True):
            proc.kill()


def _log_tail(log: Path) -> str:
    try:
        lines = [l for l in log.read_text(errors="replace").splitlines()
                 if l.strip() and "waiting for connection" not in l]
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def _wait_ready(session: Session, deadline: float):
    """Connect and ask INFO until the firmware answers (STM32 USARTs drop
    bytes sent before the firmware enables them, so the first try may go
    unanswered).  Returns BoardInfo."""
    from ..errors import ProtocolError
    from ..protocol.client import Client

    last = "no answer"
    while time.monotonic() < deadline:
        if not session.running():
            code = session.proc.returncode
            why = "the firmware crashed (fault handler)" if code == EXIT_FAULT else \
                f"QEMU exited with status {code}"
            tail = _log_tail(session.log)
            raise BoardError(f"{session.board.name}: {why}" + (f": {tail}" if tail else ""),
                             f"run `toolkit build --board {session.board.name}` and see {session.log}")
        try:
            with Client(session.url, timeout=0.5, retries=1) as client:
                return client.info()
        except (BoardError, ProtocolError, OSError) as e:
            last = str(e)
            time.sleep(0.05)
    raise BoardError(f"{session.board.name} did not answer INFO on {session.url} ({last})",
                     f"see the QEMU log {session.log}; rebuild with `toolkit build --board {session.board.name}`")


def start(board, *, elf: Path | str | None = None, model: bytes | None = None,
          hard_timeout: float | None = DEFAULT_HARD_TIMEOUT, detach: bool = False,
          log_dir: Path | str | None = None, ready_timeout: float = READY_TIMEOUT,
          port: int | None = None, **options) -> Session:
    """Build the image if needed (or use `elf`), start QEMU, wait until the
    firmware answers INFO, upload `model` (bytes of a .bnm) if given.  The
    UART is served on TCP `port` of 127.0.0.1 (default: a free one).

    detach=True (`toolkit flash`): QEMU gets its own session, outlives this
    process and has no hard timeout; stop it by pid.  Otherwise it dies with
    this thread (PR_SET_PDEATHSIG) and after `hard_timeout` seconds."""
    from .. import firmware_build

    if elf is None:
        elf = firmware_build.build(board).elf
    elf = Path(elf)
    if not elf.exists():
        raise BoardError(f"no firmware image at {elf}", f"run `toolkit build --board {board.name}`")
    firmware_build.require_tool(QEMU, QEMU_PACKAGE)
    log_dir = Path(log_dir) if log_dir else Path(tempfile.gettempdir())
    log_dir.mkdir(parents=True, exist_ok=True)

    fixed_port = port
    for attempt in range(3):   # a free port can be taken between probe and bind
        port = fixed_port or free_port()
        log = log_dir / f"bnrt-qemu-{board.name}-{port}.log"
        with open(log, "wb") as log_file:
            popen = dict(stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT)
            if detach:
                popen["start_new_session"] = True
            else:
                popen["preexec_fn"] = die_with_parent
            try:
                proc = subprocess.Popen(qemu_command(board, elf, port), **popen)
            except FileNotFoundError:
                raise ToolMissing(f"`{QEMU}` is not installed", f"apt-get install {QEMU_PACKAGE}") from None
        session = Session(board, proc, f"socket://127.0.0.1:{port}", port, log)
        session.detached = detach
        if not detach and hard_timeout:
            session._timer = threading.Timer(hard_timeout, proc.kill)
            session._timer.daemon = True
            session._timer.start()
        if not _wait_listening(session, port, time.monotonic() + 5.0):
            session.keep_log = True
            session.stop()
            if "Address already in use" in _log_tail(log) and attempt < 2 and not fixed_port:
                continue
            raise BoardError(f"QEMU did not start for {board.name}: {_log_tail(log) or 'no output'}",
                             f"run the command in {log} by hand")
        break
    try:
        session.info = _wait_ready(session, time.monotonic() + ready_timeout)
        if model is not None:
            from ..protocol.client import Client

            with Client(session.url) as client:
                client.load(model)
    except BaseException:
        session.keep_log = True
        session.stop()
        raise
    return session


def _wait_listening(session: Session, port: int, deadline: float) -> bool:
    """True once QEMU says it waits for the serial client (it listens then)."""
    while time.monotonic() < deadline:
        if not session.running():
            return False
        if _log_has(session.log, "waiting for connection"):
            return True
        time.sleep(0.01)
    return False


def _log_has(log: Path, text: str) -> bool:
    try:
        return text in log.read_text(errors="replace")
    except OSError:
        return False
