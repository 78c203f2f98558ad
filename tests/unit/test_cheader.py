"""firmware/include/bnrt_spec.h is generated from spec.py and must not be stale."""
from __future__ import annotations

import subprocess
import sys

from toolkit.format import cheader


def test_committed_header_matches_spec():
    assert cheader.HEADER_PATH.read_text() == cheader.render(), \
        "firmware/include/bnrt_spec.h is stale: run python -m toolkit.format.cheader"


def test_check_flag():
    r = subprocess.run([sys.executable, "-m", "toolkit.format.cheader", "--check"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_header_has_every_constant_the_parser_needs():
    text = cheader.render()
    for needle in ("BNRT_HDR_SIZE 32u", "BNRT_LAYER_SIZE 40u", "BNRT_S8_MULT_MAX", "BNRT_S16_BIAS_MAX",
                   "BNRT_LAYER_FLAG_FMA", "X(ERR_CRC,"):
        assert needle in text
