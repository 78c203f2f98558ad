"""CI's short fuzzing pass: scripts/fuzz.sh builds both libFuzzer targets
(ASan + UBSan), replays every committed regression input, then fuzzes each
target for a few seconds; any crash or sanitizer report fails the test.
The long run (>= 10^7 executions) is `scripts/fuzz.sh 1800`, docs/reliability.md."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECONDS = 8          # split between the two targets


def _libfuzzer_available() -> bool:
    if not shutil.which("clang"):
        return False
    r = subprocess.run(["clang", "-print-file-name=libclang_rt.fuzzer-x86_64.a"], capture_output=True, text=True)
    pattern = "llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a"
    return Path(r.stdout.strip()).is_file() or bool(list(Path("/usr/lib").glob(pattern)))


@pytest.mark.skipif(not _libfuzzer_available(),
                    reason="needs clang with libFuzzer (Debian: clang libclang-rt-14-dev)")
def test_fuzz_short_pass():
    r = subprocess.run(["bash", str(ROOT / "scripts" / "fuzz.sh"), str(SECONDS)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHON": sys.executable})
    assert r.returncode == 0, f"fuzzing found a problem:\n{r.stdout}\n{r.stderr[-3000:]}"
    rows = {line.split()[0]: line.split() for line in r.stdout.splitlines()
            if line.split() and line.split()[0] in ("parser", "cmdloop")}
    assert set(rows) == {"parser", "cmdloop"}, r.stdout
    for target, cols in rows.items():
        assert cols[-1] == "ok", r.stdout
        assert int(cols[1]) > 100, f"{target} hardly ran: {r.stdout}"
    m = re.search(r"total executions: (\d+); crashes: 0", r.stdout)
    assert m and int(m.group(1)) > 0, r.stdout
