"""Interleaved timing: every round times every callable, in fresh random
orders, and the statistics are the textbook quartiles (numpy's)."""
from __future__ import annotations

import numpy as np
import pytest

from toolkit.bench.report import Target
from toolkit.bench.timing import interleaved, quartiles, ratio_stats


def test_rounds_interleave_in_random_orders():
    log = []
    fns = {k: (lambda k=k: log.append(k)) for k in "abcd"}
    t = interleaved(fns, rounds=12, min_time=0.0, max_loops=1, inner=1)
    assert {k: len(v) for k, v in t.items()} == {k: 12 for k in "abcd"}
    calls = log[-48:]                                     # after the calibration calls
    rounds = [tuple(calls[i:i + 4]) for i in range(0, len(calls), 4)]
    assert all(sorted(r) == list("abcd") for r in rounds)
    assert len(set(rounds)) > 3                           # the order changes between rounds


def test_quartiles_and_ratios_match_numpy():
    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 15, 16):
        v = rng.random(n).tolist()
        assert quartiles(v) == pytest.approx(tuple(np.percentile(v, [25, 50, 75])))
    num, den = [2.0, 4.0, 9.0, 3.0], [1.0, 2.0, 3.0, 1.0]
    st = ratio_stats(num, den)
    assert st["median"] == pytest.approx(np.median([2, 2, 3, 3]))
    assert (st["min"], st["max"], st["rounds"]) == (2.0, 3.0, 4)


def test_a_target_is_met_only_in_its_worst_quartile():
    spread = {"q1": 0.9, "median": 1.4, "q3": 2.0, "rounds": 15}
    assert Target("ratio", spread["q1"], "x", ">=", 1.0, spread=spread).met is False
    assert Target("time", spread["q3"], "us", "<=", 1.5, spread=spread).met is False
    assert Target("time", spread["q3"], "us", "<=", 2.0, spread=spread).met is True
