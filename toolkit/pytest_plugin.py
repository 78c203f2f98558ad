"""pytest plugin (entry point `pytest11`): hardware-in-the-loop options and fixtures.

Options:
  --board NAMES   boards to run `hil` tests on, comma-separated; a kind name
                  (sim, qemu, serial, micropython) stands for every board of
                  that kind.  Default: the `boards=` of the test's `hil`
                  marker, else host-sim.
  --port URL      a board already running or plugged in (one board; --board
                  names it, for its board.toml).
  --board labgrid:TAG=VALUE[,...] | labgrid:place=NAME
                  a place of a labgrid board farm, held for the session
                  (toolkit/farm, docs/farm.md); --bnrt-coordinator HOST:PORT,
                  else LG_COORDINATOR.  With pytest-xdist every worker holds
                  its own place.

Marker: `@pytest.mark.hil(boards=["host-sim", "qemu"])` -- the boards a test
runs on when --board is not given.

Fixtures (docs/boards.md):
  bnrt_board   session-scoped, parametrized over the chosen boards: a
               BoardUnderTest (name, board, url, info) for a started board
               (host simulator, QEMU) or for --port.  Boards run one after
               the other; each image is built once (make is incremental).
               Real boards without --port, and boards whose tools are
               missing, are skipped with the reason.
  bnrt_device  a connected toolkit.protocol.client.Client (per test).
  bnrt_load    function(blob) -> (crc32, layer_count): upload a .bnm to the
               device under test.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

import pytest

from . import farm

DEFAULT_BOARDS = ("host-sim",)
PORT_PARAM = "port"
KINDS = ("sim", "qemu", "serial", "micropython")
# Tools each kind needs here, with the Debian packages that bring them.
KIND_TOOLS = {
    "sim": [("make", "make"), ("gcc", "gcc")],
    "qemu": [("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi"),
             ("qemu-system-arm", "qemu-system-arm"), ("make", "make")],
}


@dataclass
class BoardUnderTest:
    name: str
    board: object          # toolkit.boards.Board
    url: str
    info: object = None    # toolkit.protocol.client.BoardInfo
    session: object = None


def pytest_addoption(parser):
    group = parser.getgroup("bnrt", "BatchNorm runtime hardware-in-the-loop")
    group.addoption("--board", action="store", default=None,
                    help="boards to run hil tests on, comma-separated; a kind (qemu, sim, ...) "
                         "means all boards of that kind (default: the hil marker's, else host-sim)")
    group.addoption("--port", action="store", default=None,
                    help="serial URL of a running board (/dev/ttyACM0, socket://127.0.0.1:PORT)")
    group.addoption("--bnrt-coordinator", action="store", default=None, metavar="HOST:PORT",
                    help="labgrid coordinator for --board labgrid:... (default: $LG_COORDINATOR, "
                         "else 127.0.0.1:20408)")


def pytest_configure(config):
    config.addinivalue_line("markers", "hil(boards=None): hardware-in-the-loop test; runs on "
                                       "--board, else on `boards` (names or kinds), else host-sim")


def resolve_boards(names) -> list[str]:
    """Board names for a list of names and kinds, in the order given."""
    from .boards import load_boards

    boards = load_boards()
    out = []
    for token in names:
        token = token.strip()
        if not token:
            continue
        if token in KINDS:
            found = [n for n, b in boards.items() if b.kind == token]
        elif token in boards:
            found = [token]
        else:
            raise pytest.UsageError(f"--board: unknown board {token!r}; choose from "
                                    f"{', '.join(boards)} or a kind ({', '.join(KINDS)})")
        out += [n for n in found if n not in out]
    return out


def _selected(config, marker) -> list[str]:
    option = config.getoption("--board")
    if farm.is_spec(option):
        return [option]            # one labgrid place, whatever board it holds
    if option:
        names = option.split(",")
    elif config.getoption("--port"):
        return [PORT_PARAM]        # a bare --port: the board is whatever answers there
    elif marker is not None and marker.kwargs.get("boards"):
        names = list(marker.kwargs["boards"])
    else:
        names = list(DEFAULT_BOARDS)
    names = resolve_boards(names)
    if config.getoption("--port") and len(names) != 1:
        raise pytest.UsageError("--port serves one board: give exactly one --board NAME")
    return names


def pytest_generate_tests(metafunc):
    if "bnrt_board" not in metafunc.fixturenames:
        return
    names = _selected(metafunc.config, metafunc.definition.get_closest_marker("hil"))
    metafunc.parametrize("bnrt_board", names, indirect=True, scope="session", ids=names)


def _missing_tool(kind: str) -> str | None:
    for tool, package in KIND_TOOLS.get(kind, []):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (apt-get install {package})"
    return None


@pytest.fixture(scope="session")
def bnrt_board(request):
    from .boards import get_board, start_board
    from .errors import ToolMissing
    from .protocol.client import Client

    from .boards import load_boards

    name = getattr(request, "param", None) or DEFAULT_BOARDS[0]
    if farm.is_spec(name):
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        yield from _farm_board(name, request.config.getoption("--bnrt-coordinator"), workers)
        return
    port = request.config.getoption("--port")
    if port:
        with Client(port) as client:
            info = client.info()
        if name == PORT_PARAM:
            name = info.name
        yield BoardUnderTest(name, load_boards().get(name), port, info)
        return
    board = get_board(name)
    if board.get("real") or board.kind == "serial":
        pytest.skip(f"{name} is a real board: connect it and pass --port (and --board {name})")
    missing = _missing_tool(board.kind)
    if missing:
        pytest.skip(f"{name} needs {missing}")
    try:
        session = start_board(board)
    except ToolMissing as e:
        pytest.skip(f"{name}: {e}")
    try:
        with Client(session.url) as client:
            info = client.info()
        yield BoardUnderTest(name, board, session.url, info, session)
    finally:
        session.stop()


def _farm_board(spec: str, coordinator: str | None, workers: int):
    from .boards import load_boards
    from .errors import ToolkitError
    from .protocol.client import Client

    try:
        with farm.lease(spec, coordinator, sharers=workers) as lease:
            with Client(lease.url) as client:
                info = client.info()
            yield BoardUnderTest(info.name, load_boards().get(info.name), lease.url, info, lease)
    except ToolkitError as e:
        pytest.fail(f"{spec}: {e}", pytrace=False)


def pytest_runtest_call(item):
    """JUnit XML names the board (and labgrid place) each hil test ran on."""
    under_test = getattr(item, "funcargs", {}).get("bnrt_board")
    if isinstance(under_test, BoardUnderTest):
        item.user_properties.append(("bnrt_board", under_test.name))
        if isinstance(under_test.session, farm.Lease):
            item.user_properties.append(("labgrid_place", under_test.session.place))


@pytest.fixture
def bnrt_device(bnrt_board):
    from .protocol.client import Client

    with Client(bnrt_board.url) as client:
        yield client


@pytest.fixture
def bnrt_load(bnrt_device):
    def load(blob: bytes):
        return bnrt_device.load(bytes(blob))
    return load
