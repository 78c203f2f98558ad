"""Writing files the way every toolkit output is written: atomically (a
temporary file beside the target, then a rename, so no partial file is ever
visible) and with the mode a plain `open(path, "w")` would give (0666 minus
the umask), also when an existing file is replaced."""
from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from pathlib import Path


def umask() -> int:
    """The process umask, read without changing it where Linux allows."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_mode() -> int:
    return 0o666 & ~umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp"):
    """Yields a temporary path beside `path` to write to (by name, e.g. for
    savefig); on success it gets the umask's mode and replaces `path`; on any
    error it is removed and `path` is left as it was."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent or ".")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, default_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike, data: bytes | str) -> None:
    """Write `data` (text is UTF-8) to `path`, atomically, mode from the umask."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


@contextlib.contextmanager
def locked(folder: str | os.PathLike):
    """Hold an exclusive lock on `folder` (created if needed) across processes:
    one build at a time in a build folder that several runs or projects share."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
