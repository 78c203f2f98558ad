"""Wall-clock timing of a callable: calibrate a loop to a minimum duration,
repeat, keep the best (least disturbed) per-call time, as timeit does."""
from __future__ import annotations

import time


def best_time(fn, min_time: float = 0.02, repeats: int = 5, max_loops: int = 1 << 20) -> float:
    """Seconds per call of `fn()`: best of `repeats` loops of >= `min_time`."""
    fn()                      # warm caches, allocate, page in
    loops = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time or loops >= max_loops:
            break
        loops = min(max_loops, max(loops * 2, int(loops * min_time / max(dt, 1e-9) * 1.2)))
    best = dt / loops
    for _ in range(repeats - 1):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        best = min(best, (time.perf_counter() - t0) / loops)
    return best
