"""A labgrid lab on one machine: emulated boards behind pseudo-terminals,
exported like USB serial ports, so the farm can be rehearsed without hardware.

`Lab` starts (each process by its own id, each killed with its parent):
  - a labgrid-coordinator on a loopback address (or uses a given one),
  - one emulated board per name: host-sim and micropython-unix on their
    pseudo-terminals, QEMU with `-serial pty`,
  - a labgrid-exporter serving every pty as a RawSerialPort (ser2net shares
    each as RFC 2217 while a place holds it),
  - one place per board, matching its port, tagged `board=<name>`,
    `kind=<kind>` and the lab's own tags (`farm=<name>` by default).
`stop()` deletes the places it created and stops what it started, by pid,
including the ser2net processes the exporter left behind.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BoardError, ToolMissing
from ..launchers import die_with_parent, stop_process
from ..launchers.qemu import free_port
from . import INSTALL, Labgrid

PTY_LINE = re.compile(r"char device redirected to (/dev/pts/\d+)")
READY_TIMEOUT = 30.0


@dataclass
class LabBoard:
    name: str          # board name (boards/<name>)
    kind: str
    place: str         # labgrid place (and exporter group) name
    pty: str
    proc: subprocess.Popen = field(repr=False, default=None)
    session: object = field(repr=False, default=None)


def _tool(name: str) -> str:
    import sys

    here = Path(sys.executable).with_name(name)
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        raise ToolMissing(f"`{name}` is not installed", INSTALL)
    return found


def exporter_config(boards: list[LabBoard]) -> str:
    """The exporter's YAML: one group per board, its pty as a RawSerialPort.
    (labgrid reads it as a jinja2 template with `#` line statements: no comments.)"""
    lines = []
    for b in boards:
        lines += [f"{b.place}:", "  RawSerialPort:", f"    port: {b.pty}", "    speed: 115200"]
    return "\n".join(lines) + "\n"


def _start_qemu_pty(board, log: Path) -> subprocess.Popen:
    """The board's image in QEMU with its UART on a fresh pseudo-terminal."""
    from .. import firmware_build
    from ..launchers.qemu import QEMU, QEMU_PACKAGE, qemu_command

    elf = firmware_build.build(board).elf
    firmware_build.require_tool(QEMU, QEMU_PACKAGE)
    cmd = qemu_command(board, elf, 0)
    cmd[cmd.index("-serial") + 1] = "pty"
    with open(log, "wb") as f:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                preexec_fn=die_with_parent)


def _wait_pty(proc: subprocess.Popen, log: Path, deadline: float) -> str:
    while time.monotonic() < deadline and proc.poll() is None:
        m = PTY_LINE.search(log.read_text(errors="replace"))
        if m:
            return m.group(1)
        time.sleep(0.05)
    raise BoardError(f"QEMU gave no pseudo-terminal (see {log})", "run the QEMU command in the log by hand")


def _wait_info(board_name: str, url: str, deadline: float) -> None:
    """Until the board answers INFO on its pty (STM32 UARTs drop early bytes)."""
    from ..errors import ProtocolError
    from ..protocol.client import Client

    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with Client(url, timeout=0.5, retries=1) as client:
                if client.info().name == board_name:
                    return
                last = "another board answered"
        except (BoardError, ProtocolError, OSError) as e:
            last = str(e)
        time.sleep(0.1)
    raise BoardError(f"{board_name} did not answer INFO on {url} ({last})",
                     f"run `toolkit build --board {board_name}` and retry")


def _children(pid: int) -> list[int]:
    """Process ids whose parent is `pid` (the exporter's ser2net processes)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


class Lab:
    def __init__(self, board_names: list[str], *, coordinator: str | None = None,
                 tags: dict | None = None, name: str = "bnrt-lab", workdir: Path | str | None = None):
        self.board_names, self.name = list(board_names), name
        self.tags = dict(tags or {"farm": name.replace("-", "_")})
        self.coordinator = coordinator
        self.own_workdir = workdir is None     # removed by stop() unless the start failed
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="bnrt-farm-"))
        self.boards: list[LabBoard] = []
        self.procs: list[subprocess.Popen] = []      # coordinator, exporter
        self.exporter: subprocess.Popen | None = None
        self.places: list[str] = []
        self.lab: Labgrid | None = None
        self.own_coordinator = coordinator is None

    # ------------------------------------------------------------------ start
    def start(self) -> Lab:
        if shutil.which("ser2net") is None:
            raise ToolMissing("ser2net is not installed (the exporter shares serial ports with it)",
                              "apt-get install ser2net")
        try:
            if self.coordinator is None:
                self.coordinator = f"127.0.0.1:{free_port()}"
                self._spawn("coordinator", [_tool("labgrid-coordinator"), "--listen", self.coordinator])
            self.lab = Labgrid(self.coordinator)
            if self.own_coordinator:
                self._wait_listening(time.monotonic() + READY_TIMEOUT)
            self._start_boards()
            config = self.workdir / "exporter.yaml"
            config.write_text(exporter_config(self.boards))
            self.exporter = self._spawn("exporter", [_tool("labgrid-exporter"), "-c", self.coordinator,
                                                     "--hostname", "127.0.0.1", "-n", self.name, str(config)])
            self._wait_resources(time.monotonic() + READY_TIMEOUT)
            self._create_places()
        except BaseException:
            self.own_workdir = False        # keep the logs the error points at
            self.stop()
            raise
        return self

    def _spawn(self, role: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.workdir / f"{role}.log", "wb")
        proc = subprocess.Popen(argv, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        log.close()
        self.procs.append(proc)
        return proc

    def _start_boards(self) -> None:
        from ..boards import get_board, start_board

        for i, name in enumerate(self.board_names):
            board = get_board(name)
            place = f"{self.name}-{i}-{name}"
            if board.kind in ("sim", "micropython") and board.emulated:
                session = start_board(board)          # host-sim and micropython-unix serve on a pty
                self.boards.append(LabBoard(name, board.kind, place, session.url, session=session))
            elif board.kind == "qemu":
                log = self.workdir / f"qemu-{place}.log"
                proc = _start_qemu_pty(board, log)
                lb = LabBoard(name, board.kind, place, "", proc=proc)
                self.boards.append(lb)
                lb.pty = _wait_pty(proc, log, time.monotonic() + 10.0)
            else:
                raise BoardError(f"{name} is a real board: the rehearsal lab runs emulated ones "
                                 "(host-sim, qemu-*, micropython-unix)",
                                 "export real boards with an exporter configuration (docs/farm.md)")
        deadline = time.monotonic() + READY_TIMEOUT
        for b in self.boards:
            _wait_info(b.name, b.pty, deadline)

    def _wait_listening(self, deadline: float) -> None:
        """Until our coordinator accepts connections (labgrid logs each refused one)."""
        host, port = self.coordinator.rsplit(":", 1)
        while True:
            try:
                socket.create_connection((host, int(port)), timeout=1.0).close()
                return
            except OSError:
                if self.procs[0].poll() is not None or time.monotonic() > deadline:
                    raise BoardError(f"labgrid-coordinator did not start on {self.coordinator}",
                                     f"see {self.workdir / 'coordinator.log'}") from None
                time.sleep(0.1)

    def _wait_resources(self, deadline: float) -> None:
        want = {f"{self.name}/{b.place}/NetworkSerialPort" for b in self.boards}
        while True:
            if self.exporter.poll() is not None:
                raise BoardError(f"labgrid-exporter exited with status {self.exporter.returncode}",
                                 f"see {self.workdir / 'exporter.log'}")
            try:
                out = self.lab.run("resources")
            except BoardError:
                out = ""                       # the coordinator is still starting
            if all(w in out for w in want):
                return
            if time.monotonic() > deadline:
                raise BoardError("the exporter's ports did not appear at the coordinator",
                                 f"see {self.workdir / 'exporter.log'} and coordinator.log")
            time.sleep(0.2)

    def _create_places(self) -> None:
        for b in self.boards:
            self.lab.run("create", place=b.place)
            self.places.append(b.place)
            self.lab.run("add-match", f"{self.name}/{b.place}/NetworkSerialPort", place=b.place)
            tags = {"board": b.name, "kind": b.kind, **self.tags}
            self.lab.run("set-tags", *(f"{k}={v}" for k, v in tags.items()), place=b.place)

    # ------------------------------------------------------------------- stop
    def stop(self) -> None:
        if self.lab is not None and not self.own_coordinator:
            for place in self.places:      # a shared coordinator keeps no stale places
                try:
                    self.lab.run("delete", place=place, timeout=10.0)
                except BoardError:
                    pass
        self.places = []
        leftovers = _children(self.exporter.pid) if self.exporter is not None else []
        for proc in reversed(self.procs):
            stop_process(proc)
        for pid in leftovers:            # ser2net of a place still held
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        self.procs = []
        for b in self.boards:
            if b.session is not None:
                b.session.stop()
            stop_process(b.proc)
        self.boards = []
        if self.own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs] + [b.proc.pid if b.proc else b.session.proc.pid
                                              for b in self.boards]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
