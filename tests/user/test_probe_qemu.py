"""Your own application as the board: examples/probe/app.c links the probe
library, registers a bit-exact BN function for layer 0 and one that forgets
eps for the others, and serves the protocol from its own main loop with
bnrt_cmd_poll() in QEMU (qemu-mps2-an386): `verify --kernel probe --port URL`
checks its functions, a plain `verify --port URL` the runtime's kernels, on
the same running image."""
from __future__ import annotations

import json
import os
from pathlib import Path
import shutil
import subprocess
import sys

import pytest

from toolkit.boards import get_board, start_board
from toolkit.verify.kernel import build_app, verify_kernel

ROOT = Path(__file__).resolve().parents[2]

BOARD = "qemu-mps2-an386"
EXAMPLE = ROOT / "examples" / "probe"
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
    reason="needs arm-none-eabi-gcc and qemu-system-arm")]


@pytest.fixture(scope="module")
def app_board(tmp_path_factory):
    elf = build_app(BOARD, [EXAMPLE / "app.c"], tmp_path_factory.mktemp("app"))
    with start_board(get_board(BOARD), elf=elf) as session:
        yield session


def test_application_functions_checked_per_layer(app_board):
    import importlib.util

    spec = importlib.util.spec_from_file_location("probe_example_model", EXAMPLE / "model.py")
    model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model)
    report = verify_kernel(model.build(), model.example_inputs().numpy(), "probe", board=BOARD,
                           port=app_board.url)
    stem, *others = report["layers"]
    assert stem["pass"] and stem["bit_exact"]
    assert others and all(e["diagnosis"]["mistake"] == "eps_missing" for e in others)


def test_cli_against_the_running_application(app_board):
    r = subprocess.run([sys.executable, "-m", "toolkit", "verify", "model.py:build", "--kernel", "probe",
                        "--port", app_board.url], capture_output=True, text=True, cwd=EXAMPLE,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=300, check=False)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "mid: eps_missing (all channels)" in r.stdout and "head: eps_missing" in r.stdout


def test_same_loop_answers_the_normal_protocol(app_board, tmp_path):
    """One bnrt_cmd_poll() serves both: besides the USER probe, a normal verify
    uploads the model (LOAD) and runs it with the runtime's kernels (RUN)."""
    report = tmp_path / "report.json"
    r = subprocess.run([sys.executable, "-m", "toolkit", "verify", "model.py:build", "--board", BOARD,
                        "--port", app_board.url, "--report", str(report)], capture_output=True, text=True,
                       cwd=EXAMPLE, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=300, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    result = json.loads(report.read_text())
    assert result["board_info"]["name"] == BOARD and result["uploaded"]
    names = [e["name"] for e in result["layers"]]
    assert names == ["stem", "mid", "head"]
    assert all(e["pass"] and e["bit_exact"] for e in result["layers"])
