"""The labgrid farm on one machine (docs/farm.md): a coordinator and an
exporter on loopback serving emulated boards.  Leases hold distinct places and
are released on exit and on SIGTERM; the HIL tests sharded over two boards of
different kinds give the same outcomes as a direct run on those boards.
Skipped (with the install line) where labgrid or ser2net is missing."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from toolkit import farm
from toolkit.errors import ToolMissing
from toolkit.protocol.client import Client

ROOT = Path(__file__).resolve().parents[2]


def _require_farm_tools():
    try:
        farm.require_labgrid()
    except ToolMissing as e:
        pytest.skip(str(e))
    if shutil.which("ser2net") is None:
        pytest.skip("ser2net is not installed (apt-get install ser2net)")


@pytest.fixture(scope="module")
def two_sims():
    """Two host simulators as two places tagged farm=test_pair."""
    _require_farm_tools()
    from toolkit.farm.lab import Lab

    with Lab(["host-sim", "host-sim"], tags={"farm": "test_pair"}, name="bnrt-test") as lab:
        yield lab


def _held(lab) -> tuple[str, str]:
    """(`labgrid-client who`, `labgrid-client reservations`) without headers."""
    who = lab.lab.run("who").strip().splitlines()[1:]
    return "\n".join(who), lab.lab.run("reservations").strip()


def test_two_leases_hold_two_places(two_sims):
    spec = "labgrid:farm=test_pair"
    with farm.lease(spec, two_sims.coordinator) as a, farm.lease(spec, two_sims.coordinator) as b:
        assert {a.place, b.place} == {board.place for board in two_sims.boards}
        assert a.url != b.url and a.url.startswith("rfc2217://127.0.0.1:")
        for lease in (a, b):
            with Client(lease.url) as client:
                assert client.info().name == "host-sim"
        who, _ = _held(two_sims)
        assert a.place in who and b.place in who
    assert _held(two_sims) == ("", "")


def test_place_by_name(two_sims):
    name = two_sims.boards[1].place
    with farm.lease(f"labgrid:place={name}", two_sims.coordinator) as lease:
        assert lease.place == name and lease.token is None
        with Client(lease.url) as client:
            assert client.info().name == "host-sim"
    assert _held(two_sims) == ("", "")


def test_cli_verify_on_a_place(two_sims, tmp_path, monkeypatch, capsys):
    """`toolkit verify --port labgrid:...` holds a place for the run, verifies
    bit-exact against torch eval there, and releases the place."""
    pytest.importorskip("torch")
    from toolkit.cli import main

    monkeypatch.setenv(farm.ENV_COORDINATOR, two_sims.coordinator)
    model = f"{ROOT / 'tests' / 'sim' / 'bn_models.py'}:all_shapes"
    report = tmp_path / "report.json"
    code = main(["verify", model, "--port", "labgrid:farm=test_pair", "--input-shape", "6,4,5",
                 "--samples", "2", "--report", str(report)])
    assert code == 0, capsys.readouterr().err
    import json
    rep = json.loads(report.read_text())
    assert rep["pass"] and rep["board"] == "host-sim" and len(rep["layers"]) == 4
    assert _held(two_sims) == ("", "")
    code = main(["verify", model, "--port", "labgrid:farm=elsewhere", "--input-shape", "6,4,5"])
    assert code == 5 and "is tagged farm=elsewhere" in capsys.readouterr().err


def test_unknown_tag_fails_at_once(two_sims):
    from toolkit.errors import BoardError

    with pytest.raises(BoardError) as e:
        with farm.lease("labgrid:farm=nowhere", two_sims.coordinator):
            pass
    assert "is tagged farm=nowhere" in e.value.problem
    assert _held(two_sims) == ("", "")


def test_more_workers_than_places_fail_at_once(two_sims):
    """Three xdist workers on two places: the third would wait for a place that
    frees only when the whole run ends."""
    from toolkit.errors import BoardError

    with pytest.raises(BoardError) as e:
        with farm.lease("labgrid:farm=test_pair", two_sims.coordinator, sharers=3):
            pass
    assert "only 2 places" in e.value.problem and "-n 2" in e.value.fix
    with pytest.raises(BoardError) as e:
        with farm.lease(f"labgrid:place={two_sims.boards[0].place}", two_sims.coordinator, sharers=2):
            pass
    assert "a place holds one session" in e.value.problem
    with farm.lease("labgrid:farm=test_pair", two_sims.coordinator, sharers=2) as lease:
        assert lease.place
    assert _held(two_sims) == ("", "")


def test_sigterm_releases_the_place(two_sims):
    code = ("import sys, time\nfrom toolkit import farm\n"
            f"with farm.lease('labgrid:farm=test_pair', {two_sims.coordinator!r}) as lease:\n"
            "    print(lease.place, flush=True)\n    time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        place = proc.stdout.readline().strip()
        assert place in {board.place for board in two_sims.boards}
        assert place in _held(two_sims)[0]
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _held(two_sims) == ("", "")


@pytest.mark.slow
def test_sharded_hil_run_equals_direct_run():
    """pytest -n 2 over a host-sim place and a qemu-mps2-an386 place."""
    _require_farm_tools()
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("needs qemu-system-arm and gcc-arm-none-eabi (scripts/setup-and-test.sh)")
    from toolkit.farm.rehearsal import rehearse

    t0 = time.monotonic()
    report = rehearse(["host-sim", "qemu-mps2-an386"],
                      ["tests/hil/test_boards.py", "-k",
                       "info_fields or run_matches_reference or multi_frame"])
    print(f"rehearsal {time.monotonic() - t0:.1f} s: sharded {report['sharded_seconds']} s, "
          f"direct {report['direct_seconds']} s")
    assert report["boards_used"] == ["host-sim", "qemu-mps2-an386"]
    assert report["differences"] == []
    assert report["left_running"] == []
    # info fields, eight dtype/layout cases and a tensor over several frames
    # (RFC 2217 carrying full frames): each ran once, on one of the boards
    assert len(report["sharded"]) == 10
    assert set(report["sharded"].values()) == {"passed"}
    assert report["pass"]


def test_real_board_exporter_config():
    """boards/nucleo-f446re/labgrid-exporter.yaml loads as labgrid's exporter
    loads it, every resource is one labgrid exports, and the serial speed is
    the board's UART baud rate."""
    import contextlib
    import io

    _require_farm_tools()
    from labgrid.remote.config import ResourceConfig
    from labgrid.remote.exporter import exports

    from toolkit.boards import get_board

    board = get_board("nucleo-f446re")
    with contextlib.redirect_stdout(io.StringIO()):      # the loader prints what it read
        config = ResourceConfig(str(board.path / "labgrid-exporter.yaml")).data
    for group in config.values():
        assert set(group) <= set(exports), set(group) - set(exports)
        assert group["USBSerialPort"]["speed"] == board.get("uart.baud")
        assert group["USBSerialPort"]["match"] == group["USBDebugger"]["match"]  # one ST-LINK
