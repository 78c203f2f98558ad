"""One module per board kind.  Each has `start(board, **options) -> Session`,
where a Session has `url` (for serial.serial_for_url), `stop()`, and works as a
context manager that stops the board on exit.  Kinds: sim, qemu, serial,
micropython.  The helpers below are shared by the launchers that start a
process (sim, qemu, micropython)."""
from __future__ import annotations

import ctypes
import signal
import subprocess

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL when the thread that started it ends,
    so an emulator or simulator never outlives the toolkit (or a killed test run)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def stop_process(proc: subprocess.Popen | None, grace: float = 2.0) -> None:
    """Terminate, then kill after `grace` seconds; reaps the process."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class BaseSession:
    """Context-manager plumbing: leaving the block stops the board."""

    url: str

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class ProcessSession(BaseSession):
    """A board that is a process of ours (`proc`): an emulator."""

    proc: subprocess.Popen

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None
