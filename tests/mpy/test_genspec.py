"""micropython/bnrt_spec.py is generated from spec.py and must not be stale."""
import importlib.util

from toolkit.resources import micropython_dir

GEN = micropython_dir() / "genspec.py"


def test_generated_constants_are_current():
    spec_ = importlib.util.spec_from_file_location("genspec", GEN)
    mod = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(mod)
    assert mod.OUTPUT.read_text() == mod.render(), \
        "micropython/bnrt_spec.py is stale: run `python micropython/genspec.py`"
