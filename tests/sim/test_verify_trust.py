"""`toolkit verify` never passes a model that computes something else than the
board, reports every call of a reused layer, and leaves the model unchanged."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from toolkit.cli import main
from toolkit.errors import ModelError
from toolkit.model.capture import capture_calls
from toolkit.model.export import export
from toolkit.verify.run import verify

sys.path.insert(0, str(Path(__file__).parent))
import trust_models  # noqa: E402

MODELS = Path(__file__).with_name("trust_models.py")


def _x(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).numpy()


def _run(sim, model, x, dtype):
    return verify(model, x, dtype=dtype, port=sim.url)


@pytest.mark.parametrize("dtype", ["f32", "s16", "s8"])
def test_subclass_with_its_own_forward_fails(sim, dtype):
    rep = _run(sim, trust_models.subclass(), _x(4, 3, 5, 6), dtype)
    by = {e["name"]: e for e in rep["layers"]}
    assert rep["pass"] is False and by["plain"]["pass"] is True
    odd = by["odd"]
    assert odd["pass"] is False and odd["bit_exact"] is (dtype != "f32")
    assert any("ScaledBN overrides forward" in r for r in odd["fail_reasons"])
    assert odd["max_abs_err"] > 0.1 and odd["model_vs_bn"]["elements"] == 4 * 3 * 5 * 6
    assert any("ScaledBN overrides forward" in w for w in rep["warnings"])


def test_compiled_model_whose_outputs_differ_fails(sim):
    rep = _run(sim, trust_models.compiled(), _x(2, 3, 4, 4), "f32")
    (e,) = rep["layers"]
    assert not e["pass"] and not e["bit_exact"]
    assert "torch.compile" in e["fail_reasons"][0]
    assert e["max_abs_err"] == pytest.approx(1e-3, rel=0.01)


def test_strided_input_torch_computes_differently_fails(sim):
    model, x = trust_models.strided(), _x(4, 3, 7, 9)
    with torch.no_grad():         # independent of the toolkit: torch in the model vs on a contiguous copy
        xs = torch.from_numpy(x).unsqueeze(2).expand(-1, -1, 3, -1, -1)
        differs = not torch.equal(model.bn(xs), model.bn(xs.contiguous()))
    rep = _run(sim, model, x, "f32")
    (e,) = rep["layers"]
    assert e["pass"] is (not differs)
    if differs:
        assert "strided" in e["fail_reasons"][0] and e["max_ulp_err"] > 0


@pytest.mark.parametrize("dtype", ["f32", "s8"])
def test_reused_layer_every_call_is_calibrated_and_reported(sim, dtype):
    model, x = trust_models.reused(), _x(4, 3, 6)
    rep = _run(sim, model, x, dtype)
    assert [(e["name"], e["layer"], e["call"], e["shape"]) for e in rep["layers"]] == \
        [("bn#0", "bn", 0, [4, 3, 6]), ("bn#1", "bn", 1, [4, 3, 2])]
    assert rep["pass"], rep
    if dtype == "s8":
        layer = export(model, dtype="s8", calib=x).layers[0].quant
        second = x[:, :, :2] * 50           # the second call's input, computed here
        half = layer.in_scale / 2          # within half a step of the ends: rounded, not saturated
        top = layer.in_scale * (127 - layer.in_zero_point) + half
        bottom = layer.in_scale * (-128 - layer.in_zero_point) - half
        assert bottom <= second.min() and second.max() <= top
        assert top - bottom < 1.1 * (second.max() - second.min())     # and the range is not wider


def test_reused_layer_in_an_exported_program():
    model, x = trust_models.reused(), _x(2, 3, 6)
    ep = torch.export.export(model, (torch.from_numpy(x),))
    got, want = capture_calls(ep, x)["bn"], capture_calls(model, x)["bn"]
    assert [c.x.shape for c in got] == [(2, 3, 6), (2, 3, 2)]
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.y, b.y)


def test_call_forms_keyword_forward_and_functional(sim):
    model, x = trust_models.call_forms(), _x(2, 3, 4, 5)
    calls = capture_calls(model, x)
    assert list(calls) == ["kw", "fwd", "fn"] and all(len(c) == 1 for c in calls.values())
    t = torch.from_numpy(x)
    with torch.no_grad():
        a = model.kw(t)
        b = model.fwd(a - 1)
        want = {"kw": (t, a), "fwd": (a - 1, b), "fn": (b * 3, model.fn(b * 3))}
    for name, (xin, yout) in want.items():
        np.testing.assert_array_equal(calls[name][0].x, xin.numpy())
        np.testing.assert_array_equal(calls[name][0].y, yout.numpy())
    assert _run(sim, model, x, "s16")["pass"]


def test_outputs_changed_in_place_later_are_captured_as_produced(sim):
    model, x = trust_models.in_place(), _x(2, 3, 4, 5)
    (call,) = capture_calls(model, x)["bn"]
    with torch.no_grad():
        want = model.bn(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(call.x, x)
    np.testing.assert_array_equal(call.y, want)
    assert _run(sim, model, x, "f32")["pass"]


def _buffers(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_capture_never_changes_the_model():
    model = trust_models.subclass().train()
    before = _buffers(model)
    capture_calls(model, _x(2, 3, 4, 5))
    assert model.training and model.odd.training
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_other_buffers_the_forward_changes_are_put_back():
    model = trust_models.counter()
    calls = capture_calls(model, _x(2, 3, 4, 5))
    assert len(calls["bn"]) == 1 and int(model.calls) == 0


def test_layer_that_trains_in_eval_mode_is_refused_and_restored():
    model = trust_models.always_train()
    before = _buffers(model)
    with pytest.raises(ModelError, match="changed its buffers"):
        capture_calls(model, _x(2, 3, 4, 5))
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_program_exported_in_train_mode_is_refused(tmp_path, capsys):
    model = trust_models.subclass().train()
    x = torch.from_numpy(_x(2, 3, 4, 5))
    ep = torch.export.export(model, (x,))
    before = {k: v.clone() for k, v in ep.state_dict.items()}
    with pytest.raises(ModelError, match=r"model\.eval\(\) before torch\.export"):
        capture_calls(ep, x)
    assert all(torch.equal(before[k], ep.state_dict[k]) for k in before)
    torch.export.save(ep, str(tmp_path / "m.pt2"))
    np.save(tmp_path / "x.npy", x.numpy())
    code = main(["verify", str(tmp_path / "m.pt2"), "--inputs", str(tmp_path / "x.npy")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 4 and err[-1].startswith("error: the program was exported in train mode")


def test_exported_subclass_compares_with_the_module_output(sim):
    model, x = trust_models.subclass(), _x(2, 3, 4, 5)
    ep = torch.export.export(model, (torch.from_numpy(x),))
    calls = capture_calls(ep, x)
    with torch.no_grad():
        want = model.odd(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(calls["odd"][0].y, want)
    rep = _run(sim, ep, x, "f32")
    assert [e["pass"] for e in rep["layers"]] == [False, True]


def test_nan_and_inf_inputs_follow_the_contract(sim):
    model = nn_plain()
    x = _x(2, 3, 4, 5)
    x[0, 0, 0, :3] = [np.nan, np.inf, -np.inf]
    rep = _run(sim, model, x, "f32")
    (e,) = rep["layers"]
    assert e["pass"] and e["nan_mismatch"] == 0
    rep = _run(sim, model, x, "s8")
    (e,) = rep["layers"]
    assert e["nonfinite_inputs"] == 3


def nn_plain():
    return torch.nn.Sequential(trust_models._init(torch.nn.BatchNorm2d(3))).eval()


def test_inspect_and_export_warn_by_name(tmp_path, capsys):
    assert main(["inspect", f"{MODELS}:subclass"]) == 0
    assert "warning: layer 'odd': ScaledBN overrides forward" in capsys.readouterr().err
    assert main(["export", f"{MODELS}:subclass", "-o", str(tmp_path / "m.bnm")]) == 0
    err = capsys.readouterr().err
    assert "warning: layer 'odd': ScaledBN overrides forward" in err
