"""The pytest plugin as a user meets it: a project of its own, next to other
plugins (pytest-embedded), several boards on ports in one session, and the
documented example HIL test (docs/examples/test_bn_on_board.py)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import toolkit
from toolkit.boards import get_board, start_board

ROOT = Path(toolkit.__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "test_bn_on_board.py"


def run_pytest(project: Path, *args, timeout=300, extra_env=None, import_project=False):
    """pytest in `project` as a user runs it; import_project: its modules are
    importable as plugins (`-p NAME`)."""
    path = [str(project)] * import_project + [str(ROOT)]
    path += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = dict(os.environ, **(extra_env or {}), PYTHONPATH=os.pathsep.join(path))
    # -p no:labgrid: with labgrid installed too (the farm extra), labgrid's `target` fixture, which
    # pytest-embedded's autouse fixture requests, skips every test without --lg-env (docs/pytest.md).
    return subprocess.run([sys.executable, "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:labgrid",
                           *args],
                          cwd=project, env=env, capture_output=True, text=True, timeout=timeout)


SEEN = """
import json, os

def test_seen(bnrt_board, bnrt_device):
    with open(os.environ["SEEN"], "a") as f:
        f.write(json.dumps([bnrt_board.name, bnrt_board.url, bnrt_device.info().name]) + "\\n")
"""


@pytest.fixture(scope="module")
def two_sims():
    board = get_board("host-sim")
    with start_board(board) as one, start_board(board) as two:
        yield one.url, two.url


def test_several_boards_on_ports_in_one_session(tmp_path, two_sims, monkeypatch):
    (tmp_path / "test_seen.py").write_text(SEEN)
    seen = tmp_path / "seen.jsonl"
    monkeypatch.setenv("SEEN", str(seen))
    one, two = two_sims
    r = run_pytest(tmp_path, "--bnrt-port", f"left={one}", "--bnrt-port", f"right={two}")
    assert r.returncode == 0, r.stdout + r.stderr
    rows = sorted(tuple(__import__("json").loads(l)) for l in seen.read_text().splitlines())
    assert rows == [("left", one, "host-sim"), ("right", two, "host-sim")]


def test_a_bare_port_is_whatever_answers_there(tmp_path, two_sims, monkeypatch):
    (tmp_path / "test_seen.py").write_text(SEEN)
    seen = tmp_path / "seen.jsonl"
    monkeypatch.setenv("SEEN", str(seen))
    r = run_pytest(tmp_path, "--bnrt-port", two_sims[0])
    assert r.returncode == 0, r.stdout + r.stderr
    assert seen.read_text().count('"host-sim"') == 2          # name from INFO, and INFO itself


def test_a_bare_port_with_two_boards_is_a_usage_error(tmp_path, two_sims):
    (tmp_path / "test_seen.py").write_text(SEEN)
    r = run_pytest(tmp_path, "--bnrt-port", two_sims[0], "--bnrt-port", f"x={two_sims[1]}")
    assert r.returncode == 4 and "NAME=URL" in r.stdout + r.stderr


def test_the_documented_example_runs_next_to_pytest_embedded(tmp_path):
    pytest.importorskip("pytest_embedded", reason="pytest-embedded is not installed (pip install -e '.[test]')")
    shutil.copy(EXAMPLE, tmp_path)
    r = run_pytest(tmp_path, "-p", "pytest_embedded", "-W", "ignore", EXAMPLE.name)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 passed" in r.stdout
    help_text = run_pytest(tmp_path, "--help").stdout
    assert "--bnrt-board" in help_text and "--bnrt-port" in help_text
    assert "serial port" in help_text            # pytest-embedded kept its own --port


def test_the_board_alias_yields_to_a_plugin_that_owns_board(tmp_path, two_sims):
    (tmp_path / "other_plugin.py").write_text(
        "def pytest_addoption(parser):\n"
        "    parser.addoption('--board', default='theirs', help='another plugin owns --board')\n"
        "\n"
        "def test_theirs(request):\n"
        "    assert request.config.getoption('--board') == 'esp32'\n")
    (tmp_path / "test_other.py").write_text("from other_plugin import test_theirs\n")
    (tmp_path / "test_seen.py").write_text(SEEN)
    r = run_pytest(tmp_path, "-p", "other_plugin", "--board", "esp32", "--bnrt-port", two_sims[0],
                   extra_env={"SEEN": str(tmp_path / "seen.jsonl")}, import_project=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 passed" in r.stdout
