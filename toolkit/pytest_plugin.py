"""pytest plugin (entry point `pytest11`): hardware-in-the-loop options and fixtures.

Options (namespaced, so the plugin coexists with pytest-embedded, labgrid, ...):
  --bnrt-board NAMES    boards to run `hil` tests on, comma-separated; a kind
                        name (sim, qemu, serial, micropython) stands for every
                        board of that kind.  Default: the `boards=` of the
                        test's `hil` marker, else host-sim.  (`--board` is an
                        alias when no other plugin has taken it.)
  --bnrt-port [NAME=]URL
                        a board already running or plugged in.  Repeatable as
                        NAME=URL for several boards in one session; a bare URL
                        serves one board (the one --bnrt-board names, else
                        whatever answers there).
  --bnrt-boards-path DIR
                        a folder of <name>/board.toml boards, searched first
                        (like `toolkit --boards-path`).

Marker: `@pytest.mark.hil(boards=["host-sim", "qemu"])` -- the boards a test
runs on when --bnrt-board is not given.

Fixtures (docs/pytest.md):
  bnrt_board   session-scoped, parametrized over the chosen boards: a
               BoardUnderTest (name, board, url, info) for a started board
               (host simulator, QEMU) or for a --bnrt-port.  Boards run one
               after the other; each image is built once (make is
               incremental).  Real boards without --bnrt-port, and boards
               whose tools are missing, are skipped with the reason.  A
               board that fails to build or to start is an error of every
               test that uses it, with the compiler's (or launcher's) message.
  bnrt_device  a connected toolkit.protocol.client.Client (per test).
  bnrt_load    function(blob) -> (crc32, layer_count): upload a .bnm to the
               device under test.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

import pytest

from . import boardschema, farm

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


def _taken(parser) -> set[str]:
    """Option strings other plugins registered before us."""
    names = set()
    groups = [getattr(parser, "_anonymous", None), *getattr(parser, "_groups", [])]
    for group in filter(None, groups):          # pytest's parser has no public listing
        for option in getattr(group, "options", []):
            names.update(option.names())
    return names


def pytest_addoption(parser):
    group = parser.getgroup("bnrt", "BatchNorm runtime hardware-in-the-loop")
    board_names = ["--bnrt-board"] + (["--board"] if "--board" not in _taken(parser) else [])
    group.addoption(*board_names, dest="bnrt_board", action="store", default=None,
                    help="boards to run hil tests on, comma-separated; a kind (qemu, sim, ...) "
                         "means all boards of that kind (default: the hil marker's, else host-sim)")
    group.addoption("--bnrt-port", dest="bnrt_port", action="append", default=[], metavar="[NAME=]URL",
                    help="serial URL of a running board (/dev/ttyACM0, socket://127.0.0.1:PORT); "
                         "NAME=URL names the board, repeatable for several boards")
    group.addoption("--bnrt-boards-path", dest="bnrt_boards_path", action="append", default=[],
                    metavar="DIR", help="folder of <name>/board.toml boards, searched first")
    group.addoption("--bnrt-coordinator", action="store", default=None, metavar="HOST:PORT",
                    help="labgrid coordinator for --bnrt-board labgrid:... (default: $LG_COORDINATOR, "
                         "else 127.0.0.1:20408)")


def pytest_configure(config):
    config.addinivalue_line("markers", "hil(boards=None): hardware-in-the-loop test; runs on "
                                       "--bnrt-board, else on `boards` (names or kinds), else host-sim")
    ports(config)                  # a malformed --bnrt-port is a usage error before collection
    pm = config.pluginmanager
    if pm.has_plugin("labgrid") and pm.has_plugin("pytest_embedded") and not config.getoption("lg_env", None):
        config.issue_config_time_warning(pytest.PytestConfigWarning(
            "labgrid's and pytest-embedded's plugins are both active without --lg-env: labgrid's "
            "`target` fixture, which pytest-embedded requests for every test, skips them all; "
            "run with -p no:labgrid (docs/pytest.md)"), stacklevel=2)
    if config.getoption("bnrt_boards_path"):
        from .boards import use_boards_path
        use_boards_path(config.getoption("bnrt_boards_path"))


def ports(config) -> dict[str, str]:
    """--bnrt-port values as {name: url}; a bare URL is under PORT_PARAM."""
    out = {}
    for value in config.getoption("bnrt_port") or ():
        name, sep, url = value.partition("=")
        if not sep or "://" in name or name.startswith("/"):
            name, url = PORT_PARAM, value
        if not url or name in out:
            raise pytest.UsageError(f"--bnrt-port {value!r}: give URL once, or NAME=URL once per board")
        out[name] = url
    if PORT_PARAM in out and len(out) > 1:
        raise pytest.UsageError("--bnrt-port: a bare URL serves one board; name each of several "
                                "boards as NAME=URL")
    return out


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
            raise pytest.UsageError(f"--bnrt-board: unknown board {token!r}; choose from "
                                    f"{', '.join(boards)} or a kind ({', '.join(KINDS)})")
        out += [n for n in found if n not in out]
    return out


def _selected(config, marker) -> list[str]:
    option, given = config.getoption("bnrt_board"), ports(config)
    if farm.is_spec(option):
        return [option]            # one labgrid place, whatever board it holds
    if option:
        names = option.split(",")
    elif given:
        return list(given)          # the boards on the ports (a bare URL: whatever answers)
    elif marker is not None and marker.kwargs.get("boards"):
        names = list(marker.kwargs["boards"])
    else:
        names = list(DEFAULT_BOARDS)
    names = resolve_boards(names)
    if PORT_PARAM in given and len(names) != 1:
        raise pytest.UsageError("a bare --bnrt-port URL serves one board: give exactly one "
                                "--bnrt-board NAME, or --bnrt-port NAME=URL per board")
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
    if farm.is_spec(name):
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        yield from _farm_board(name, request.config.getoption("bnrt_coordinator"), workers)
        return
    given = ports(request.config)
    port = given.get(name) or given.get(PORT_PARAM)
    if port:
        try:
            with Client(port) as client:
                info = client.info()
        except ToolkitError as e:
            pytest.fail(f"--bnrt-port {port}: {e}", pytrace=False)
        if name == PORT_PARAM:
            name = info.name
        yield BoardUnderTest(name, load_boards().get(name), port, info)
        return
    board = get_board(name)
    if board.get("real") or board.kind == "serial":
        pytest.skip(f"{name} is a real board: connect it and pass --bnrt-port {name}=URL")
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
