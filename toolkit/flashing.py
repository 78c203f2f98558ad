"""Put firmware on a board and a model on the firmware (`toolkit flash`).

Emulated boards (kind "qemu"): QEMU is started detached with the image; a
state file under the user's runtime dir records it so a later `toolkit flash
--stop` (or a new flash of the same board) ends it.  The state belongs to one
project (the build folder and the folder toolkit runs in): another project's
or user's emulator is never reused or stopped, and two projects can run the
same board at once.  Real boards (kind
"serial"): the image is programmed and verified with pyOCD or OpenOCD,
whichever is installed.  Either way the model is then uploaded over the
serial protocol; changing the model never needs a new image.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from .errors import BoardError, InputError, ToolMissing

FLASH_TIMEOUT = 300


def runtime_dir() -> Path:
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    path = Path(base) / f"bnrt-toolkit-{os.getuid()}"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def project_key() -> str:
    """Which project a state belongs to: its build folder and the current folder."""
    from .resources import build_dir

    return f"{build_dir()}\0{Path.cwd().resolve()}"


def _state_path(board_name: str) -> Path:
    tag = hashlib.sha256(project_key().encode()).hexdigest()[:16]
    return runtime_dir() / f"{board_name}.{tag}.json"


def _alive(state: dict) -> bool:
    """The recorded pid is still our QEMU (not a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{state['pid']}/cmdline").read_bytes().split(b"\0")
    except (OSError, KeyError):
        return False
    return bool(cmdline) and cmdline[0].endswith(b"qemu-system-arm") and \
        state.get("elf", "").encode() in cmdline


def running() -> list[dict]:
    """States of the emulators `toolkit flash` left running for this project
    (its stale files removed)."""
    out, key = [], project_key()
    for path in sorted(runtime_dir().glob("*.json")):
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if state.get("project") != key:
            continue
        if _alive(state):
            out.append(state)
        else:
            path.unlink(missing_ok=True)
    return out


def stop(board_name: str | None = None) -> list[dict]:
    """Stop this project's detached emulators (of one board, or all); returns their states."""
    stopped = []
    for state in running():
        if board_name and state["board"] != board_name:
            continue
        try:
            os.kill(state["pid"], signal.SIGTERM)
            for _ in range(50):
                if not _alive(state):
                    break
                time.sleep(0.05)
            else:
                os.kill(state["pid"], signal.SIGKILL)
        except ProcessLookupError:
            pass
        _state_path(state["board"]).unlink(missing_ok=True)
        if state.get("log"):
            Path(state["log"]).unlink(missing_ok=True)
        stopped.append(state)
    return stopped


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def upload_model(url: str, model: bytes | None, ready_timeout: float = 10.0):
    """Wait for INFO on `url`, upload `model`; returns (BoardInfo, commit or None)."""
    from .protocol.client import Client

    deadline, last = time.monotonic() + ready_timeout, None
    while True:
        try:
            with Client(url) as client:
                info = client.info()
                return info, (client.load(model) if model is not None else None)
        except BoardError as e:
            last = e
            if time.monotonic() > deadline:
                raise BoardError(f"the board on {url} did not answer after flashing ({last.problem})",
                                 "check the port (--port) and reset the board") from None
            time.sleep(0.3)


def flash_qemu(board, model: bytes | None, tcp_port: int | None = None) -> dict:
    """(Re)start the board's emulator detached, unless the same image already
    runs there; upload the model.  Returns the state (url, pid, ...)."""
    from .firmware_build import build
    from .launchers import qemu

    image = build(board)
    digest = _digest(image.elf)
    for state in running():
        if state["board"] == board.name and state["sha256"] == digest and \
                (tcp_port is None or state["port"] == tcp_port):
            info, commit = upload_model(state["url"], model)
            return dict(state, reused=True, commit=commit, info_name=info.name)
    stop(board.name)
    session = qemu.start(board, elf=image.elf, detach=True, log_dir=runtime_dir(), port=tcp_port)
    state = {"board": board.name, "pid": session.pid, "url": session.url, "port": session.port,
             "elf": str(image.elf), "sha256": digest, "log": str(session.log),
             "started": time.time(), "project": project_key()}
    path = _state_path(board.name)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, path)
    commit = upload_model(session.url, model)[1] if model is not None else None
    return dict(state, reused=False, commit=commit, info_name=session.info.name)


PROBE_TIMEOUT = 15
NO_PROBE_FIX = ("connect the board's ST-LINK/debug probe over USB, check `lsusb`, its udev rules "
                "and that no other debugger holds it")
# What pyOCD and OpenOCD print when no debug probe is attached.
NO_PROBE = re.compile(r"no available debug probes|no (connected )?(debug )?probes? (are )?(connected|found)|"
                      r"open failed|unable to find a matching cmsis-dap|no j-link device found|"
                      r"unable to open ftdi device|couldn't find a .*probe", re.I)
UNKNOWN_TARGET = re.compile(r"target type .* not recognized|unknown target", re.I)


def program_real(board, elf: Path, bin_path: Path) -> str:
    """Program and verify `elf` with pyOCD or OpenOCD; returns the tool used.
    With no probe attached this fails within PROBE_TIMEOUT s."""
    origin = board.get("memory.flash_origin")
    if shutil.which("pyocd"):
        target = board.get("flash.pyocd_target")
        out = _run(["pyocd", "list", "--probes"], "pyOCD could not list the debug probes", PROBE_TIMEOUT)
        if NO_PROBE.search(out) or not out.strip():
            raise BoardError("no probe found (pyocd list --probes lists none)", NO_PROBE_FIX)
        try:
            _run(["pyocd", "load", "--no-wait", "-t", target, str(elf)], "pyOCD could not program the board")
        except BoardError as e:
            if UNKNOWN_TARGET.search(e.problem):
                raise BoardError(f"pyOCD does not know the target {target} (its target pack is not installed)",
                                 f"pyocd pack install {target}  (docs/boards.md)") from None
            raise
        with tempfile.TemporaryDirectory() as tmp:
            back = Path(tmp) / "readback.bin"
            size = bin_path.stat().st_size
            _run(["pyocd", "cmd", "--no-wait", "-t", target, "-c", f"savemem {origin:#x} {size} {back}"],
                 "pyOCD could not read the flash back")
            if back.read_bytes() != bin_path.read_bytes():
                raise BoardError("the flash does not match the image after programming",
                                 "flash again; if it persists, erase with `pyocd erase --chip`")
        _run(["pyocd", "reset", "--no-wait", "-t", target], "pyOCD could not reset the board")
        return "pyocd"
    if shutil.which("openocd"):
        cfg = board.get("flash.openocd_config")
        _run(["openocd", "-f", cfg, "-c", f"program {elf} verify reset exit"],
             "OpenOCD could not program and verify the board")
        return "openocd"
    raise ToolMissing("neither pyOCD nor OpenOCD is installed",
                      "pip install pyocd  (or: apt-get install openocd); docs/boards.md has the target pack")


def _tail(text: str, lines: int = 3) -> str:
    """The flasher's last lines, on one line."""
    last = [l.strip() for l in text.strip().splitlines() if l.strip()][-lines:]
    return " | ".join(last)


def _run(cmd: list[str], problem: str, timeout: float = FLASH_TIMEOUT) -> str:
    """Run a flasher; its output, or a BoardError with its last lines."""
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"") + (e.stderr or b"")
        out = out.decode(errors="replace") if isinstance(out, bytes) else out
        if NO_PROBE.search(out) or cmd[1:2] == ["list"]:
            raise BoardError(f"no probe found: `{' '.join(cmd[:2])}` gave no answer in {timeout:g} s",
                             NO_PROBE_FIX) from None
        raise BoardError(f"{problem}: no result after {timeout:g} s" + (f" ({_tail(out)})" if out.strip() else ""),
                         "check the USB cable and that the ST-LINK is detected") from None
    out = (r.stdout or "") + (r.stderr or "")
    if r.returncode != 0:
        if NO_PROBE.search(out):
            raise BoardError(f"no probe found ({cmd[0]}: {_tail(out, 1)})", NO_PROBE_FIX)
        raise BoardError(f"{problem} (exit {r.returncode}): {_tail(out) or 'no output'}",
                         "check the USB cable, the probe's driver/udev rules, and close other debuggers")
    return out


def flash_real(board, model: bytes | None, port: str | None, skip_image: bool = False) -> dict:
    from .firmware_build import build

    url = port or board.get("uart.port")
    if not url:
        raise InputError(f"board {board.name!r} has no default serial port", "pass --port")
    tool = None
    if not skip_image:
        image = build(board)
        tool = program_real(board, image.elf, image.bin)
    info, commit = upload_model(url, model)
    return {"board": board.name, "url": url, "tool": tool, "commit": commit, "info_name": info.name}


def read_model_file(path: str | os.PathLike) -> bytes:
    """The bytes of a .bnm file (checked for the magic only; the board validates the rest)."""
    from .format import spec

    try:
        blob = Path(path).read_bytes()
    except OSError as e:
        raise InputError(f"cannot read model {path}: {e.strerror}", "check the path") from None
    if blob[:len(spec.MAGIC)] != spec.MAGIC:
        raise InputError(f"{path} is not a .bnm model file", "export one with `toolkit export`")
    return blob
