"""Every subcommand against a table of bad inputs: missing, unreadable,
wrong dtype or shape, empty, an output folder that does not exist (checked
before the work starts) and hostile layer names.  Each bad case gives exactly
one line `error: <problem>; <fix>` with the documented exit code, no
traceback and no output file."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

from toolkit.cli import main
from toolkit.errors import EXIT_CODES, InputError, ModelError


class UsageError:
    """click's command-line usage errors (exit code 2)."""
    exit_code = 2

MODELS = textwrap.dedent("""
    import sys
    import torch
    from torch import nn

    def _bn(c=4):
        bn = nn.BatchNorm1d(c)
        with torch.no_grad():
            bn.running_mean.copy_(torch.arange(c) * 0.5)
            bn.running_var.copy_(torch.arange(c) + 1.0)
        return bn

    def good():
        return nn.Sequential(_bn()).eval()

    def bf16():
        return nn.Sequential(_bn()).eval().to(torch.bfloat16)

    def hostile():
        m = nn.Module()
        m.add_module("[/bold]", _bn())
        m.add_module("x\\x1b[2Jy", _bn())
        m.forward = lambda x: m._modules["x\\x1b[2Jy"](m._modules["[/bold]"](x))
        return m.eval()

    def exits():
        sys.exit(3)
""")

EXIT_AT_IMPORT = "import sys\nsys.exit(2)\n"


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    (d / "models.py").write_text(MODELS)
    (d / "exits.py").write_text(EXIT_AT_IMPORT)
    np.save(d / "x.npy", np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32))
    np.save(d / "wrong_shape.npy", np.zeros((3, 7), np.float32))
    np.save(d / "strings.npy", np.array(["a", "b"]))
    np.save(d / "no_samples.npy", np.zeros((0, 4), np.float32))
    np.save(d / "int_x.npy", np.zeros((3, 4), np.int8))
    np.save(d / "all_nan.npy", np.full((3, 4), np.nan, np.float32))
    (d / "empty.npy").write_bytes(b"")
    (d / "garbage.npy").write_bytes(b"\x93NUMPY garbage")
    (d / "garbage.bnm").write_bytes(b"BNMF" + b"\0" * 10)
    (d / "not_a_model.bnm").write_bytes(b"hello")
    (d / "adir").mkdir()
    (d / "m.c").write_text("const unsigned char model[] = {0};\n")
    (d / "k.c").write_text('#include "bnrt_user.h"\nvoid my_bn(const bnrt_user_bn_t *bn, const float *x, float *y, '
                           'uint32_t batch, uint32_t spatial) { (void)bn; (void)x; (void)y; (void)batch; '
                           '(void)spatial; }\n')
    assert main(["export", f"{d / 'models.py'}:good", "-o", str(d / "m.bnm")]) == 0
    torch = pytest.importorskip("torch")
    from torch import nn
    ts = torch.jit.script(nn.Sequential(nn.BatchNorm1d(4)).eval())
    ts.save(str(d / "m.ts"))
    return d


M, X = "{d}/models.py:good", "{d}/x.npy"
NOFOLDER = "{d}/missing/out"
VERIFY = ["verify", M, "--samples", "2", "--input-shape", "4"]
# (id, argv with {d} for the work folder, exit class, words in the error line)
CASES = [
    # inspect
    ("inspect missing", ["inspect", "{d}/nope.pt2"], InputError, ["not found"]),
    ("inspect directory", ["inspect", "{d}/adir"], InputError, []),
    ("inspect garbage blob", ["inspect", "{d}/garbage.bnm"], InputError, ["invalid model file"]),
    ("inspect sys.exit at import", ["inspect", "{d}/exits.py:build"], InputError, ["SystemExit"]),
    ("inspect sys.exit in factory", ["inspect", "{d}/models.py:exits"], InputError, ["SystemExit"]),
    ("inspect a C file", ["inspect", "{d}/m.c"], InputError, ["not a model", "!--allow-pickle"]),
    # export
    ("export module without factory", ["export", "toolkit.examples.tiny", "-o", "{d}/o.bnm"], InputError,
     ["no factory", "toolkit.examples.tiny:build"]),
    ("export missing model", ["export", "{d}/nope.py:good", "-o", "{d}/o.bnm"], InputError, ["not found"]),
    ("export -o missing folder", ["export", M, "-o", NOFOLDER + ".bnm"], InputError, ["does not exist"]),
    ("export -o a directory", ["export", M, "-o", "{d}/adir"], InputError, ["directory"]),
    ("export bfloat16", ["export", "{d}/models.py:bf16", "-o", "{d}/o.bnm"], ModelError, ["bfloat16", "model.float()"]),
    ("export calib missing", ["export", M, "--dtype", "s8", "--calib", "{d}/nope.npy", "-o", "{d}/o.bnm"],
     InputError, ["not found"]),
    ("export calib empty file", ["export", M, "--dtype", "s8", "--calib", "{d}/empty.npy", "-o", "{d}/o.bnm"],
     InputError, ["cannot read"]),
    ("export calib garbage", ["export", M, "--dtype", "s8", "--calib", "{d}/garbage.npy", "-o", "{d}/o.bnm"],
     InputError, ["cannot read"]),
    ("export calib strings", ["export", M, "--dtype", "s8", "--calib", "{d}/strings.npy", "-o", "{d}/o.bnm"],
     InputError, ["not numbers"]),
    ("export calib no samples", ["export", M, "--dtype", "s8", "--calib", "{d}/no_samples.npy", "-o", "{d}/o.bnm"],
     InputError, ["no samples"]),
    ("export calib wrong shape", ["export", M, "--dtype", "s8", "--calib", "{d}/wrong_shape.npy", "-o", "{d}/o.bnm"],
     InputError, ["rejected the inputs"]),
    ("export calib all NaN", ["export", M, "--dtype", "s8", "--calib", "{d}/all_nan.npy", "-o", "{d}/o.bnm"],
     InputError, ["no finite input"]),
    ("export torchscript calib", ["export", "{d}/m.ts", "--dtype", "s8", "--calib", X, "-o", "{d}/o.bnm"],
     ModelError, ["TorchScript", "--ranges"]),
    # verify
    ("verify inputs missing", [*VERIFY[:2], "--inputs", "{d}/nope.npy"], InputError, ["not found"]),
    ("verify inputs empty file", [*VERIFY[:2], "--inputs", "{d}/empty.npy"], InputError, ["cannot read"]),
    ("verify inputs strings", [*VERIFY[:2], "--inputs", "{d}/strings.npy"], InputError, ["not numbers"]),
    ("verify zero samples", [*VERIFY[:2], "--inputs", "{d}/no_samples.npy"], InputError, ["no samples"]),
    ("verify wrong shape", [*VERIFY[:2], "--inputs", "{d}/wrong_shape.npy"], InputError, ["rejected the inputs"]),
    ("verify --report missing folder", [*VERIFY, "--report", NOFOLDER + ".json"], InputError, ["--report"]),
    ("verify --junit missing folder", [*VERIFY, "--junit", NOFOLDER + ".xml"], InputError, ["--junit"]),
    ("verify --plot missing folder", [*VERIFY, "--plot", NOFOLDER + ".png"], InputError, ["--plot"]),
    ("verify --report a directory", [*VERIFY, "--report", "{d}/adir"], UsageError, ["directory", "--help"]),
    ("verify unknown dtype", [*VERIFY, "--dtype", "f64"], UsageError, ["f64", "--help"]),
    ("verify bfloat16", ["verify", "{d}/models.py:bf16", "--samples", "2", "--input-shape", "4"],
     ModelError, ["bfloat16"]),
    ("verify torchscript", ["verify", "{d}/m.ts", "--inputs", X], ModelError, ["TorchScript", ".pt2", "!--ranges"]),
    ("verify sys.exit at import", ["verify", "{d}/exits.py:build", "--inputs", X], InputError, ["SystemExit"]),
    ("verify --kernel no such function", [*VERIFY, "--kernel", "{d}/k.c:nosuch"], InputError,
     ["defines no function nosuch"]),
    ("verify --kernel s16", [*VERIFY, "--kernel", "{d}/k.c:my_bn", "--dtype", "s16"], InputError, ["not s16"]),
    ("verify --kernel nhwc", [*VERIFY, "--kernel", "{d}/k.c:my_bn", "--layout", "nhwc"], InputError,
     ["--layout nhwc", "!--no-upload"]),
    # simulate
    ("simulate missing model", ["simulate", "{d}/nope.bnm", "--input", X, "-o", "{d}/y.npy"], InputError, []),
    ("simulate garbage model", ["simulate", "{d}/garbage.bnm", "--input", X, "-o", "{d}/y.npy"],
     InputError, ["invalid model file"]),
    ("simulate -o missing folder", ["simulate", "{d}/m.bnm", "--input", X, "-o", NOFOLDER + ".npy"],
     InputError, ["does not exist"]),
    ("simulate input missing", ["simulate", "{d}/m.bnm", "--input", "{d}/nope.npy", "-o", "{d}/y.npy"],
     InputError, ["not found"]),
    ("simulate input empty file", ["simulate", "{d}/m.bnm", "--input", "{d}/empty.npy", "-o", "{d}/y.npy"],
     InputError, ["cannot read"]),
    ("simulate input strings", ["simulate", "{d}/m.bnm", "--input", "{d}/strings.npy", "-o", "{d}/y.npy"],
     InputError, ["<U1"]),
    ("simulate input wrong dtype", ["simulate", "{d}/m.bnm", "--input", "{d}/int_x.npy", "-o", "{d}/y.npy"],
     InputError, ["int8"]),
    ("simulate input wrong shape", ["simulate", "{d}/m.bnm", "--input", "{d}/wrong_shape.npy", "-o", "{d}/y.npy"],
     InputError, ["channels"]),
    ("simulate layer out of range", ["simulate", "{d}/m.bnm", "--layer", "3", "--input", X, "-o", "{d}/y.npy"],
     InputError, ["layer 3"]),
    # adapt
    ("adapt -o missing folder", ["adapt", M, "--inputs", X, "-o", NOFOLDER + ".pth"], InputError, ["does not exist"]),
    ("adapt inputs missing", ["adapt", M, "--inputs", "{d}/nope.npy", "-o", "{d}/s.pth"], InputError, ["not found"]),
    ("adapt inputs strings", ["adapt", M, "--inputs", "{d}/strings.npy", "-o", "{d}/s.pth"], InputError,
     ["not numbers"]),
    ("adapt inputs empty", ["adapt", M, "--inputs", "{d}/empty.npy", "-o", "{d}/s.pth"], InputError, ["cannot read"]),
    # flash, soak
    ("flash missing model", ["flash", "--board", "qemu-mps2-an385", "{d}/nope.bnm"], InputError, ["nope.bnm"]),
    ("flash not a model", ["flash", "--board", "qemu-mps2-an385", "{d}/not_a_model.bnm"], InputError,
     ["not a .bnm"]),
    ("soak missing model", ["soak", "--model", "{d}/nope.bnm"], InputError, ["nope.bnm"]),
    ("soak not a model", ["soak", "--model", "{d}/not_a_model.bnm"], InputError, ["not a .bnm"]),
    # build, bench, boards
    ("build unknown board", ["build", "--board", "no-such-board"], InputError, ["no-such-board"]),
    ("bench --out is a file", ["bench", "--quick", "--out", X], InputError, ["not a folder"]),
    ("bench --copy-md is a directory", ["bench", "--quick", "--copy-md", "{d}/adir"], InputError, ["directory"]),
    ("boards unknown option", ["boards", "--colour"], UsageError, ["--colour"]),
]


def _files(d) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*") if "__pycache__" not in p.parts}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input(capsys, work, case):
    _, argv, exit_class, words = case
    before = _files(work)
    capsys.readouterr()
    code = main([a.format(d=work) for a in argv])
    out, err = capsys.readouterr()
    assert code == exit_class.exit_code and code in EXIT_CODES, (code, err)
    assert "Traceback" not in err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "; " in lines[0], err
    for w in words:
        if w.startswith("!"):
            assert w[1:].lower() not in lines[0].lower(), lines[0]
        else:
            assert w.lower() in lines[0].lower(), lines[0]
    assert _files(work) == before


@pytest.mark.parametrize("argv", [["inspect", "{d}/models.py:hostile"],
                                  ["inspect", "--json", "{d}/models.py:hostile"],
                                  ["export", "{d}/models.py:hostile", "-o", "{d}/h.bnm"],
                                  ["inspect", "{d}/h.bnm"],
                                  ["verify", "{d}/models.py:hostile", "--samples", "2", "--input-shape", "4"]])
def test_hostile_layer_names_are_shown_escaped(capsys, work, argv):
    """A name with rich markup ([/bold]) and one with an escape sequence: no
    crash, the markup shown literally, no raw ESC on the terminal."""
    if argv[1] == "{d}/h.bnm" and not (work / "h.bnm").exists():
        assert main(["export", f"{work}/models.py:hostile", "-o", f"{work}/h.bnm"]) == 0
    capsys.readouterr()
    code = main([a.format(d=work) for a in argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "\x1b" not in out + err
    assert "[/bold]" in out.replace("\n", "") or argv[0] == "export"
    if "--json" in argv:
        assert "x\\u001b[2Jy" in out
    elif argv[0] != "export":
        assert "x\\x1b[2Jy" in out
