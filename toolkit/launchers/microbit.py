"""The BBC micro:bit under QEMU (`-M microbit`) with Debian's MicroPython 1.9.2
(package firmware-microbit-micropython): a `kind = "micropython"` board whose
board.toml has `[micropython] emulator = "qemu-microbit"` (docs/micropython.md).

The firmware's hex file is converted to a flat image without its UICR section
(`objcopy -R .sec5`; with it the image would span 256 MB), QEMU serves the UART
on a loopback TCP socket, and the host talks through the raw REPL, paced: the
firmware's receive ring is small and drops what arrives while the interpreter
is busy.  The heap (about 9 KB) cannot compile the small-board module
(micropython/bnrt_tiny*.py, about 8 KB of source) in one piece, nor keep a
table of constants, so `start` sends it one top-level statement at a time with
the bnrt_spec constants put in as literals, starts the protocol loop on
`microbit.uart`, and uploads the model that `toolkit flash` stored (the
emulated board lives only as long as QEMU).  The protocol URL is
`paced://127.0.0.1:PORT` (toolkit/serial_handlers/protocol_paced.py).
"""
from __future__ import annotations

import re
import socket
import subprocess
import time
from pathlib import Path

from ..errors import BoardError, InputError, ToolMissing
from ..resources import build_dir, micropython_dir
from . import ProcessSession, die_with_parent, stop_process

QEMU = "qemu-system-arm"
MODULES = ("bnrt_tiny", "bnrt_tiny_cmd", "bnrt_tiny_main")
MODEL_FILE = "model.bnm"
CHUNK = 48             # bytes per paced write
CHUNK_GAP = 0.02       # seconds after each: the ring holds about 64 bytes
BOOT_TIMEOUT = 20.0


def _settings(board) -> dict:
    s = dict(board.data.get("micropython", {}))
    s.setdefault("firmware_hex", "/usr/share/firmware-microbit-micropython/firmware.hex")
    s.setdefault("max_payload", 256)
    s.setdefault("max_model", 2048)
    return s


def image(board) -> Path:
    """The flat firmware image (built once into <build dir>/<board>/)."""
    hexfile = Path(_settings(board)["firmware_hex"])
    if not hexfile.is_file():
        raise ToolMissing(f"the micro:bit MicroPython firmware {hexfile} is missing",
                          "apt-get install firmware-microbit-micropython")
    out = build_dir() / board.name / "firmware.bin"
    if not out.is_file() or out.stat().st_mtime < hexfile.stat().st_mtime:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        try:
            subprocess.run(["arm-none-eabi-objcopy", "-I", "ihex", "-O", "binary", "-R", ".sec5",
                            str(hexfile), str(tmp)], check=True, capture_output=True)
        except FileNotFoundError:
            raise ToolMissing("`arm-none-eabi-objcopy` is not installed",
                              "apt-get install binutils-arm-none-eabi") from None
        tmp.replace(out)
    return out


def spec_values() -> dict[str, str]:
    """NAME -> Python literal, from the generated micropython/bnrt_spec.py."""
    values = {}
    for line in (micropython_dir() / "bnrt_spec.py").read_text().splitlines():
        m = re.match(r"([A-Z][A-Z0-9_]*) = (?:const\((.*)\)|(.*))$", line)
        if m:
            values[m.group(1)] = m.group(2) if m.group(2) is not None else m.group(3)
    return values


def prepare() -> bytes:
    """The module as the micro:bit gets it: bnrt_tiny, bnrt_tiny_cmd and
    bnrt_tiny_main in one namespace (no imports between them), the bnrt_spec
    constants put in as literals (a module of constants alone costs 2.4 KB of
    the 9 KB heap), without blank lines, comment lines and one-line docstrings,
    so that every line that does not start with a space starts a top-level
    statement (LOADER runs the file one statement at a time)."""
    values = spec_values()
    out = []
    for name in MODULES:
        for line in (micropython_dir() / f"{name}.py").read_text().splitlines():
            t = line.strip()
            if not t or t.startswith(("#", "from bnrt_spec import", "import bnrt_tiny")) or \
                    (t.startswith('"""') and t.endswith('"""') and len(t) > 5):
                continue
            line = re.sub(r"(?<![\w.])(T|bnrt_tiny_cmd)\.", "", line)
            out.append(re.sub(r"\b[A-Z][A-Z0-9_]+\b",
                              lambda m: values.get(m.group(0), m.group(0)), line))
    return ("\n".join(out) + "\n").encode()


def statements(source: bytes) -> list[str]:
    """The top-level statements of prepare()'s output, in order."""
    out, cur = [], ""
    for line in source.decode().splitlines(True):
        if cur and not line.startswith(" "):
            out.append(cur)
            cur = ""
        cur += line
    return out + ([cur] if cur else [])


class Repl:
    """The raw REPL over a socket, paced."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = b""

    def write(self, data: bytes) -> None:
        for i in range(0, len(data), CHUNK):
            self.sock.sendall(data[i:i + CHUNK])
            time.sleep(CHUNK_GAP)

    def read_until(self, marker: bytes, timeout: float) -> bytes:
        """Bytes up to and including marker; what follows stays buffered."""
        end = time.monotonic() + timeout
        while marker not in self.buf:
            if time.monotonic() > end:
                raise BoardError(f"micro:bit: no {marker!r} from the REPL (got {self.buf[-80:]!r})",
                                 "stop the board (`toolkit flash --stop`) and start it again")
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            if not data:
                raise BoardError("micro:bit: QEMU closed the serial port", "start the board again")
            self.buf += data
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def enter(self) -> None:
        self.sock.sendall(b"\r\x03\x03")
        time.sleep(0.2)
        self.sock.sendall(b"\x01")
        self.read_until(b"raw REPL; CTRL-B to exit\r\n>", BOOT_TIMEOUT)

    def exec(self, code: str, timeout: float = 30.0, wait: bool = True) -> str:
        """Run code; returns its output (raises BoardError with the traceback)."""
        self.write(code.encode())
        self.sock.sendall(b"\x04")
        self.read_until(b"OK", timeout)
        if not wait:
            return ""
        out = self.read_until(b"\x04>", timeout)
        text, _, err = out[:-2].partition(b"\x04")
        if err.strip():
            raise BoardError(f"micro:bit: {err.decode(errors='replace').strip().splitlines()[-1]}",
                             "see docs/micropython.md (heap: about 9 KB)")
        return text.decode(errors="replace")


class Session(ProcessSession):
    def __init__(self, board, proc, port: int):
        self.board, self.proc, self.port = board, proc, port
        self.url = f"paced://127.0.0.1:{port}?chunk={CHUNK}&gap_ms={CHUNK_GAP * 1000:g}"
        self.detached = False

    def connect(self) -> Repl:
        deadline = time.monotonic() + BOOT_TIMEOUT
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=1.0)
                break
            except OSError:
                if not self.running() or time.monotonic() > deadline:
                    raise BoardError("micro:bit: QEMU did not open its serial port",
                                     f"check `{QEMU} -M microbit` by hand") from None
                time.sleep(0.05)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return Repl(sock)

    def stop(self) -> None:
        if not self.detached:
            stop_process(self.proc)


def launch(board, detach: bool = False, port: int | None = None) -> Session:
    from .qemu import free_port
    fw = image(board)
    port = port or free_port()
    cmd = [QEMU, "-M", "microbit", "-device", f"loader,file={fw},addr=0", "-nographic",
           "-monitor", "none", "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on"]
    popen = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL,
             "stderr": subprocess.DEVNULL}
    if detach:
        popen["start_new_session"] = True
    else:
        popen["preexec_fn"] = die_with_parent
    try:
        proc = subprocess.Popen(cmd, **popen)
    except FileNotFoundError:
        raise ToolMissing(f"`{QEMU}` is not installed", "apt-get install qemu-system-arm") from None
    session = Session(board, proc, port)
    session.detached = detach
    return session


def stored_model(board) -> Path:
    """Where `toolkit flash` keeps the board's model between QEMU runs."""
    from .micropython import unix_fs
    return unix_fs(board) / MODEL_FILE


def install(board, model_path=None) -> list[str]:
    """`toolkit flash`: keep `model_path` for the next starts (the emulated
    board lives only as long as QEMU); every start uploads it."""
    if model_path is None:
        return []
    data = Path(model_path).read_bytes()
    limit = _settings(board)["max_model"]
    if len(data) > limit:
        raise InputError(f"model {model_path} has {len(data)} bytes; the micro:bit takes "
                         f"at most {limit}", "export fewer layers or channels")
    dest = stored_model(board)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(dest)
    return [MODEL_FILE]


def serve(board, session: Session, model: Path | None) -> None:
    """Send the module one statement at a time, start the protocol loop and
    upload `model` over the protocol (writing it into the micro:bit's flash
    file system and reading it back left too fragmented a heap)."""
    s = _settings(board)
    repl = session.connect()
    try:
        repl.enter()
        repl.exec("import gc,microbit\n")
        for stmt in statements(prepare()):
            if not stmt.startswith("def serve("):     # the loop is started below
                repl.exec(stmt + "gc.collect()\n", timeout=30.0)
        repl.exec(f"s=server({board.name.encode()!r},{int(s['max_payload'])},"
                  f"{int(s['max_model'])})\ngc.collect()\n")
        repl.exec("loop(s,microbit.uart)\n", wait=False)
    finally:
        repl.sock.close()
    if model is not None:
        from ..protocol.client import Client
        with Client(session.url, timeout=5.0) as client:
            client.load(Path(model).read_bytes())


def start(board, model: str | None = None, **options) -> Session:
    """A fresh micro:bit: QEMU started, module (and `model`) installed, serving."""
    if model is not None:
        install(board, model)
    stored = stored_model(board)
    session = launch(board)
    try:
        serve(board, session, stored if stored.is_file() else None)
    except BaseException:
        session.stop()
        raise
    return session
