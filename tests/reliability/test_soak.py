"""`toolkit soak` smoke: a few hundred samples on host-sim, 0 mismatches with
toolkit/reference.py, memory within tolerance; and the checker does catch a
wrong output."""
from __future__ import annotations

import json

import numpy as np

from toolkit import soak
from toolkit.cli import main


def test_soak_smoke_on_host_sim(capsys, host_sim):
    code = main(["soak", "--board", "host-sim", "--port", host_sim, "--samples", "400", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    r = json.loads(out)
    assert r["pass"] and r["mismatches"] == 0 and r["problems"] == []
    assert r["samples"] == 400
    assert set(r["layers"]) == {"f32/nchw", "f32/nhwc", "s8/nchw", "s16/nhwc"}
    assert r["start"]["device"] == r["end"]["device"]
    assert r["host_growth_mb"] <= r["tolerance_mb"]["host"]


def test_soak_starts_its_own_board_and_reports_memory(capsys):
    code = main(["soak", "--board", "host-sim", "--samples", "200"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "0 mismatches" in out and "host RSS" in out and out.strip().endswith("pass")


def test_soak_counts_a_wrong_output(monkeypatch, capsys, host_sim):
    """Make the reference disagree with the board in one element per run:
    soak must count it and fail with exit code 1."""
    real = soak._expected

    def off_by_one(layer, x):
        want = real(layer, x).copy()
        flat = want.reshape(-1)
        flat[0] = np.nextafter(flat[0], np.inf) if flat.dtype == np.float32 else flat[0] ^ 1
        return want
    monkeypatch.setattr(soak, "_expected", off_by_one)
    code = main(["soak", "--board", "host-sim", "--port", host_sim, "--samples", "50"])
    out, err = capsys.readouterr()
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: soak failed:")
    assert "differ from toolkit.reference" in lines[0]
