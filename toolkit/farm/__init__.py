"""A labgrid place as a board.

A board spec `labgrid:TAG=VALUE[,TAG=VALUE...]` reserves any place of the
labgrid coordinator whose tags match (the coordinator hands each reservation
its own place, so parallel sessions never share a board); `labgrid:place=NAME`
takes one place by name.  `lease(spec)` acquires the place, resolves its
NetworkSerialPort to a pyserial URL (`rfc2217://host:port?ign_set_control` for
ports the exporter shares through ser2net, `socket://host:port` for
`protocol: raw`), yields a Lease and releases the place (and cancels the
reservation) on exit -- also on Ctrl-C and on SIGTERM.

The coordinator address comes from the caller (the pytest option
--bnrt-coordinator), else labgrid's own LG_COORDINATOR, else labgrid's default
127.0.0.1:20408.  We drive labgrid through `labgrid-client`, its documented
command-line interface (its commands, run in this process), pinned to 26.0.1.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import threading
import time
from dataclasses import dataclass, field

from ..errors import BoardError, InputError, ToolMissing

PREFIX = "labgrid:"
ENV_COORDINATOR = "LG_COORDINATOR"
DEFAULT_COORDINATOR = "127.0.0.1:20408"
DEFAULT_WAIT = 600.0        # seconds a reservation may wait for a free place
CALL_TIMEOUT = 30.0         # seconds for one labgrid-client call
INSTALL = "pip install 'bnrt-toolkit[farm]' (labgrid) and apt-get install ser2net on exporter hosts"
_KEY = re.compile(r"^[a-z][a-z0-9_]+$")


@dataclass(frozen=True)
class PlaceSpec:
    """What to acquire: a place by name, or any place whose tags match."""
    place: str | None = None
    tags: dict = field(default_factory=dict)

    def __str__(self) -> str:
        if self.place:
            return f"{PREFIX}place={self.place}"
        return PREFIX + ",".join(f"{k}={v}" for k, v in self.tags.items())


@dataclass(frozen=True)
class Lease:
    place: str
    url: str
    token: str | None      # the reservation, None for a place taken by name
    coordinator: str


def is_spec(text: str | None) -> bool:
    return bool(text) and text.startswith(PREFIX)


def parse_spec(text: str) -> PlaceSpec:
    """`labgrid:place=NAME` or `labgrid:KEY=VALUE[,KEY=VALUE...]`."""
    body = text[len(PREFIX):] if is_spec(text) else text
    pairs = [p.strip() for p in body.split(",") if p.strip()]
    fix = "write labgrid:place=NAME or labgrid:TAG=VALUE[,TAG=VALUE], e.g. labgrid:board=host-sim"
    if not pairs:
        raise InputError(f"{text!r} names no place and no tag", fix)
    tags = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not value:
            raise InputError(f"{text!r}: {pair!r} is not KEY=VALUE", fix)
        if not _KEY.match(key):
            raise InputError(f"{text!r}: tag {key!r} is not a labgrid tag name "
                             "(lower-case letters, digits, _; two or more)", fix)
        if key in tags:
            raise InputError(f"{text!r}: {key!r} is given twice", fix)
        tags[key] = value
    if "place" in tags:
        if len(tags) > 1:
            raise InputError(f"{text!r}: place=NAME takes no tags besides", fix)
        return PlaceSpec(place=tags["place"])
    return PlaceSpec(tags=tags)


def coordinator_address(option: str | None = None) -> str:
    return option or os.environ.get(ENV_COORDINATOR) or DEFAULT_COORDINATOR


def require_labgrid():
    """labgrid's client module, or ToolMissing with the install line."""
    try:
        from labgrid.remote import client
    except ImportError:
        raise ToolMissing("labgrid is not installed", INSTALL) from None
    return client


_loops = threading.local()


def _thread_loop():
    """One event loop per thread, never closed: gRPC's poller keeps calling
    the loop it first ran on, and a closed one makes it log errors."""
    import asyncio

    if getattr(_loops, "loop", None) is None:
        _loops.loop = asyncio.new_event_loop()
    return _loops.loop


class Labgrid:
    """labgrid-client commands against one coordinator.  They run in this
    process (labgrid-client's own parser and ClientSession, the pinned
    labgrid 26.0.1): a labgrid-client process costs about 0.3 s of imports
    per call, over 1 s on a loaded CI machine, and a lease takes eight calls."""

    def __init__(self, coordinator: str):
        self.coordinator = coordinator
        self.client = require_labgrid()

    def run(self, *args: str, place: str | None = None, timeout: float = CALL_TIMEOUT) -> str:
        """What `labgrid-client -x COORDINATOR [-p PLACE] ARGS` prints; BoardError on failure."""
        import asyncio
        import inspect
        import io

        lg = self.client
        argv = ["-x", self.coordinator, *(["-p", place] if place else []), *args]
        command = " ".join(args)
        try:
            parsed = lg.get_parser().parse_args(argv)
        except SystemExit:
            raise BoardError(f"labgrid-client rejected {command!r}", "check the labgrid version "
                             "(26.0.1 is tested)") from None
        out = io.StringIO()
        # labgrid logs through the root logger (logging.error), which would
        # install a stderr handler of its own when there is none: our error
        # line says it instead
        root = logging.getLogger()
        quiet = logging.NullHandler() if not root.handlers else None
        if quiet:
            root.addHandler(quiet)
        loop = _thread_loop()
        asyncio.set_event_loop(loop)       # the session's gRPC channel binds to the current loop
        try:
            with contextlib.redirect_stdout(out):
                session = lg.start_session(self.coordinator, loop=loop, extra={
                    "args": parsed, "env": None, "role": None, "prog": "labgrid-client"})
                try:
                    if inspect.iscoroutinefunction(parsed.func):
                        loop.run_until_complete(asyncio.wait_for(parsed.func(session), timeout))
                    else:
                        parsed.func(session)
                finally:
                    loop.run_until_complete(session.stop())
                    loop.run_until_complete(session.close())
        except TimeoutError:
            raise BoardError(f"labgrid-client {command} did not finish within {timeout:g} s "
                             f"(coordinator {self.coordinator})", "check the coordinator") from None
        except (lg.Error, lg.ErrorGroup) as e:
            why = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
            raise BoardError(f"labgrid-client {command} failed on {self.coordinator}: {why}",
                             f"check the coordinator address ({ENV_COORDINATOR}) and "
                             "`labgrid-client places`") from None
        finally:
            asyncio.set_event_loop(None)
            if quiet:
                root.removeHandler(quiet)
        return out.getvalue()

    def reserve(self, tags: dict) -> str:
        out = self.run("reserve", "--shell", *(f"{k}={v}" for k, v in tags.items()))
        m = re.search(r"LG_TOKEN=(\S+)", out)
        if not m:
            raise BoardError(f"labgrid-client reserve printed no token: {out.strip()!r}",
                             "check the labgrid version (26.0.1 is tested)")
        return m.group(1)

    def places(self) -> dict[str, dict]:
        """Place name -> its tags, from `labgrid-client -v places`."""
        found, name = {}, None
        for line in self.run("-v", "places").splitlines():
            m = re.match(r"^Place '([^']+)':", line)
            if m:
                name = m.group(1)
                found[name] = {}
            elif name and line.strip().startswith("tags:"):
                pairs = line.split(":", 1)[1].split(",")
                found[name] = dict(p.strip().split("=", 1) for p in pairs if "=" in p)
        return found

    def wait(self, token: str, tags: dict, seconds: float) -> None:
        """Until the reservation holds a place (labgrid-client wait polls every second)."""
        try:
            out = self.run("wait", token, timeout=seconds)
        except BoardError as e:
            if "did not finish" in e.problem:
                raise BoardError(f"no place tagged {_tags(tags)} became free within {seconds:g} s",
                                 "free one (`labgrid-client who`), add places with these tags or "
                                 "wait longer") from None
            raise
        states = re.findall(r"^\s*state: (\w+)", out, re.M)
        if not states or states[-1] not in ("allocated", "acquired"):
            raise BoardError(f"reservation {token} for {_tags(tags)} ended "
                             f"{states[-1] if states else 'without a state'}",
                             "check that places with these tags exist (`labgrid-client places -v`)")

    def serial_url(self, place: str) -> str:
        """The URL of the acquired place's NetworkSerialPort, from `labgrid-client env`."""
        import yaml

        env = yaml.safe_load(self.run("env", place=place)) or {}
        for target in (env.get("targets") or {}).values():
            for resource in target.get("resources") or []:
                port = resource.get("NetworkSerialPort")
                if port and port.get("port"):
                    host, number = port["host"], int(port["port"])
                    if port.get("protocol", "rfc2217") == "raw":
                        return f"socket://{host}:{number}"
                    # ser2net on a pseudo-terminal cannot set modem lines: do not ask
                    return f"rfc2217://{host}:{number}?ign_set_control"
        raise BoardError(f"place {place} has no NetworkSerialPort",
                         f"add one: labgrid-client -p {place} add-match 'EXPORTER/GROUP/NetworkSerialPort'")

    def place_of(self, token: str) -> str:
        m = re.search(r"^Place '([^']+)':", self.run("show", place=f"+{token}"), re.M)
        if not m:
            raise BoardError(f"reservation {token} holds no place", "check `labgrid-client reservations`")
        return m.group(1)


def _tags(tags: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in tags.items())


@contextlib.contextmanager
def _sigterm_interrupts():
    """SIGTERM (a CI job cancelled) unwinds like Ctrl-C, so the place is released."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def lease(spec: PlaceSpec | str, coordinator: str | None = None, wait: float = DEFAULT_WAIT,
          sharers: int = 1):
    """Acquire a place for the block; yields a Lease (place, url, token).
    `sharers`: how many sessions reserve this tag together (pytest-xdist
    workers); fewer places than that would leave one waiting for a place that
    only frees when the whole run ends, so that fails at once."""
    if isinstance(spec, str):
        spec = parse_spec(spec)
    lab = Labgrid(coordinator_address(coordinator))
    if spec.place and sharers > 1:
        raise BoardError(f"{sharers} workers cannot share {spec}: a place holds one session",
                         "give a tag several places carry (labgrid:TAG=VALUE), or run without -n")
    token, place, acquired = None, spec.place, False
    with _sigterm_interrupts():
        try:
            if place is None:
                count = sum(tags.items() >= spec.tags.items() for tags in lab.places().values())
                if count == 0:
                    raise BoardError(f"no place of {lab.coordinator} is tagged {_tags(spec.tags)}",
                                     "list them with `labgrid-client -v places`; tag one with "
                                     "`labgrid-client -p PLACE set-tags KEY=VALUE`")
                if count < sharers:
                    raise BoardError(f"{sharers} workers share {_tags(spec.tags)} but only {count} "
                                     f"places of {lab.coordinator} carry it",
                                     f"run with -n {count} or tag more places")
                token = lab.reserve(spec.tags)
                lab.wait(token, spec.tags, wait)
                place = lab.place_of(token)
            _acquire(lab, place, wait if token is None else CALL_TIMEOUT)
            acquired = True
            yield Lease(place, lab.serial_url(place), token, lab.coordinator)
        finally:
            with _sigterm_ignored():
                if acquired:
                    with contextlib.suppress(BoardError):
                        lab.run("release", place=place)
                if token is not None:
                    with contextlib.suppress(BoardError):
                        lab.run("cancel-reservation", token)


def _acquire(lab: Labgrid, place: str, wait: float) -> None:
    """A place taken by name may be busy: retry until `wait` runs out."""
    deadline = time.monotonic() + wait
    while True:
        try:
            lab.run("acquire", place=place)
            return
        except BoardError as e:
            if "already acquired" not in e.problem or time.monotonic() > deadline:
                raise
            time.sleep(2.0)


@contextlib.contextmanager
def _sigterm_ignored():
    """Releasing must not be cut short by a second SIGTERM."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
