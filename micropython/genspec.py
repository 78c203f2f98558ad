"""Entry point for micropython/bnrt_spec.py; the renderer is toolkit/format/render.py.

`python micropython/genspec.py` writes the MicroPython constants and the C
header (one renderer, both outputs); `--check` exits 1 while either is stale.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from toolkit.format.render import MPY_PATH as OUTPUT  # noqa: E402
from toolkit.format.render import main  # noqa: E402
from toolkit.format.render import render_mpy as render  # noqa: E402

__all__ = ["OUTPUT", "main", "render"]

if __name__ == "__main__":
    sys.exit(main())
