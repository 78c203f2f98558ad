"""Wall-clock timing of a callable: calibrate a loop to a minimum duration,
repeat, keep the best (least disturbed) per-call time, as timeit does; or time
several callables in interleaved rounds and compare them round by round."""
from __future__ import annotations

import random
import time


def _calibrate(fn, min_time: float, max_loops: int) -> int:
    """Loops of fn() that take at least min_time."""
    fn()
    loops = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time or loops >= max_loops:
            return loops
        loops = min(max_loops, max(loops * 2, int(loops * min_time / max(dt, 1e-9) * 1.2)))


def _best_of(fn, loops: int, repeats: int) -> float:
    """Seconds per call of fn(): the fastest of `repeats` back-to-back loops of `loops` calls."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        best = min(best, time.perf_counter() - t0)
    return best / loops


def best_time(fn, min_time: float = 0.02, repeats: int = 5, max_loops: int = 1 << 20) -> float:
    """Seconds per call of `fn()`: best of `repeats` loops of >= `min_time`."""
    return _best_of(fn, _calibrate(fn, min_time, max_loops), repeats)


def interleaved(fns: dict, rounds: int = 21, min_time: float = 0.005, seed: int = 0,
                max_loops: int = 1 << 18, inner: int = 5) -> dict:
    """Seconds per call of each fn() in `rounds` rounds: every round times each
    callable in a fresh random order, so slow phases of a shared machine hit all
    of them alike; within a round a callable's time is the best of `inner`
    back-to-back loops of >= min_time (a preemption inside one loop does not
    count).  {name: [per-call seconds of each round]}."""
    rng = random.Random(seed)
    loops = {k: _calibrate(f, min_time, max_loops) for k, f in fns.items()}
    out = {k: [] for k in fns}
    names = list(fns)
    for _ in range(rounds):
        rng.shuffle(names)
        for k in names:
            out[k].append(_best_of(fns[k], loops[k], inner))
    return out


def quartiles(values) -> tuple[float, float, float]:
    """(lower quartile, median, upper quartile), linear interpolation."""
    v = sorted(values)
    def q(p):
        i = p * (len(v) - 1)
        lo = int(i)
        hi = min(lo + 1, len(v) - 1)
        return v[lo] + (v[hi] - v[lo]) * (i - lo)
    return q(0.25), q(0.5), q(0.75)


def ratio_stats(num: list, den: list) -> dict:
    """Per-round ratios num[i] / den[i] (e.g. other time / our time: > 1 means
    we are faster): median, quartiles and extremes."""
    r = [a / b for a, b in zip(num, den)]
    q1, med, q3 = quartiles(r)
    return {"median": med, "q1": q1, "q3": q3, "min": min(r), "max": max(r), "rounds": len(r)}
