"""Entry point for firmware/include/bnrt_spec.h; the renderer is render.py.

`python -m toolkit.format.cheader` writes the C header (and the MicroPython
constants: one renderer, both outputs); `--check` exits 1 while either is stale.
"""
from __future__ import annotations

import sys

from .render import HEADER_PATH, field_offsets, main
from .render import render_c as render

__all__ = ["HEADER_PATH", "field_offsets", "main", "render"]

if __name__ == "__main__":
    sys.exit(main())
