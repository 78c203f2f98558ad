"""pytest plugin (entry point `pytest11`): hardware-in-the-loop options and fixtures.

Options:
  --board NAMES   boards to run `hil` tests on, comma-separated; a kind name
                  (sim, qemu, serial, micropython) stands for every board of
                  that kind.  Default: the `boards=` of the test's `hil`
                  marker, else host-sim.
  --port URL      a board already running or plugged in (one board; --board
                  names it, for its board.toml).

Marker: `@pytest.mark.hil(boards=["host-sim", "qemu"])` -- the boards a test
runs on when --board is not given.

Fixtures (docs/boards.md):
  bnrt_board   session-scoped, parametrized over the chosen boards: a
               BoardUnderTest (name, board, url, info) for a started board
               (host simulator, QEMU) or for --port.  Boards run one after
               the other; each image is built once (make is incremental).
               Real boards without --port, and boards whose tools are
               missing, are skipped with the reason.  A board that fails
               to build or to start is an error of every test that uses
               it, with the compiler's (or launcher's) message.
  bnrt_device  a connected toolkit.protocol.client.Client (per test).
  bnrt_load    function(blob) -> (crc32, layer_count): upload a .bnm to the
               device under test.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass

import pytest

from . import boardschema

DEFAULT_BOARDS = ("host-sim",)
PORT_PARAM = "port"
KINDS = boardschema.KINDS
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


def pytest_configure(config):
    config.addinivalue_line("markers", "hil(boards=None): hardware-in-the-loop test; runs on "
                                       "--board, else on `boards` (names or kinds), else host-sim")


def resolve_boards(names) -> list[str]:
    """Board names for a list of names and kinds, in the order given."""
    from .boards import load_boards
    from .errors import ToolkitError

    try:
        boards = load_boards()
    except ToolkitError as e:          # a board.toml that fails the schema
        raise pytest.UsageError(str(e)) from None
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
    from .boards import get_board, load_boards, start_board
    from .errors import BuildFailed, ToolkitError, ToolMissing
    from .protocol.client import Client

    name = getattr(request, "param", None) or DEFAULT_BOARDS[0]
    port = request.config.getoption("--port")
    if port:
        try:
            with Client(port) as client:
                info = client.info()
        except ToolkitError as e:
            pytest.fail(f"--port {port}: {e}", pytrace=False)
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
    except BuildFailed as e:
        pytest.fail(f"{name}: {e}\n{e.output.strip()}", pytrace=False)
    except ToolkitError as e:
        pytest.fail(f"{name} did not start: {e}", pytrace=False)
    try:
        try:
            with Client(session.url) as client:
                info = client.info()
        except ToolkitError as e:
            pytest.fail(f"{name} did not start: {e}", pytrace=False)
        yield BoardUnderTest(name, board, session.url, info, session)
    finally:
        session.stop()


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
