"""Checks and loaders the subcommands share: output paths checked before the
work starts, .npy inputs read into one-line errors."""
from __future__ import annotations

import os
from pathlib import Path

from ..display import plain
from ..errors import InputError


def check_output(path, option: str) -> Path:
    """A file we will write later: refuse now if it cannot be written."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise InputError(f"{option} {plain(p)} is a directory", f"give a file name for {option}")
    if not parent.is_dir():
        raise InputError(f"the folder of {option} {plain(p)} does not exist", f"create {plain(parent)} first")
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise InputError(f"cannot write {option} {plain(p)} (permission denied)",
                         "choose a writable location")
    return p


def load_npy(path, option: str, numeric: bool = True, samples: bool = True):
    """np.load(path) with every failure as one InputError; numeric: refuse
    strings and objects; samples: refuse an empty first axis."""
    import numpy as np
    fix = "give a .npy file saved with numpy.save"
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{option} file not found: {plain(p)}", "check the path")
    try:
        x = np.load(p, allow_pickle=False)
    except Exception as e:      # numpy raises ValueError, EOFError, OSError, UnpicklingError ...
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"cannot read {option} {plain(p)}: {plain(text)}", fix) from None
    if not isinstance(x, np.ndarray):
        raise InputError(f"{option} {plain(p)} holds several arrays (.npz)", fix)
    if numeric and x.dtype.kind not in "biuf":
        raise InputError(f"{option} {plain(p)} holds {x.dtype} values, not numbers", fix)
    if samples and (x.ndim == 0 or x.shape[0] == 0):
        raise InputError(f"{option} {plain(p)} holds no samples (shape {x.shape})",
                         "give at least one sample (first axis: batch)")
    return x
