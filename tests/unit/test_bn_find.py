"""Finding BN layers: every variant, file order, eps/momentum read, errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from _bnutil import randomize
from toolkit.errors import ModelError
from toolkit.model.bn import TrainModeWarning, find_bn
from toolkit.model.capture import capture
from toolkit.model.export import export

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.bn2 = nn.BatchNorm2d(4, eps=1e-3, momentum=0.25)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 5 * 5, 6), nn.BatchNorm1d(6, momentum=None))
        self.bn_free = nn.BatchNorm1d(6, affine=False, eps=0.01)

    def forward(self, x):
        return self.bn_free(self.head(self.bn2(self.conv(x))))


def net():
    torch.manual_seed(0)
    m = Net()
    randomize(m.bn2, 1)
    randomize(m.head[2], 2)
    randomize(m.bn_free, 3)
    return m.eval()


def _summary(layers):
    return [(l.name, l.kind, l.channels, l.eps, l.momentum) for l in layers]


EXPECTED = [("bn2", "BatchNorm2d", 4, 1e-3, 0.25), ("head.2", "BatchNorm1d", 6, 1e-5, None),
            ("bn_free", "BatchNorm1d", 6, 0.01, 0.1)]


def test_module_order_and_fields():
    m = net()
    layers = find_bn(m)
    assert _summary(layers) == EXPECTED
    assert layers[2].weight is None and layers[2].bias is None
    np.testing.assert_array_equal(layers[0].running_var, m.bn2.running_var.numpy())


def test_torchscript_scripted_and_traced(tmp_path):
    m = net()
    x = torch.randn(2, 3, 5, 5)
    for i, ts in enumerate((torch.jit.script(m), torch.jit.trace(m, x))):
        p = tmp_path / f"m{i}.pt"
        ts.save(str(p))
        loaded = torch.jit.load(str(p))
        assert _summary(find_bn(loaded)) == [(n, k, c, e, mo if i == 0 or mo is not None else 0.0)
                                             for n, k, c, e, mo in EXPECTED]
        assert export(loaded).blob == export(m).blob


def test_torch_export_program_and_capture(tmp_path):
    m = net()
    x = torch.randn(8, 3, 5, 5)
    p = tmp_path / "m.pt2"
    torch.export.save(torch.export.export(m, (x,)), str(p))
    ep = torch.export.load(str(p))
    assert [(n, c, e) for n, _, c, e, _ in _summary(find_bn(ep))] == [(n, c, e) for n, _, c, e, _ in EXPECTED]
    assert export(ep).blob == export(m).blob
    for (n1, x1, y1), (n2, x2, y2) in zip(capture(m, x), capture(ep, x)):
        assert n1 == n2
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)


def test_capture_outputs_are_torch_eval_and_mode_is_restored():
    m = net().train()
    x = torch.randn(8, 3, 5, 5)
    got = capture(m, x.numpy())
    assert m.training and m.bn2.training
    m.eval()
    with torch.no_grad():
        ref = m.bn2(m.conv(x)).numpy()
    np.testing.assert_array_equal(got[0][2], ref)


def test_train_mode_warns_and_exports_eval_semantics():
    m = net()
    eval_blob = export(m).blob
    m.train()
    with pytest.warns(TrainModeWarning, match="eval-mode semantics"):
        result = export(m)
    assert result.train_mode_warning and result.blob == eval_blob
    assert all(l.mode == "train" for l in result.layers)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainModeWarning)
        assert not export(m.eval()).train_mode_warning


def test_lazy_uninitialized_is_a_model_error():
    m = nn.Sequential(nn.Conv2d(3, 3, 1), nn.LazyBatchNorm2d())
    with pytest.raises(ModelError, match="run one forward pass first"):
        find_bn(m)


def test_no_running_stats_is_a_model_error():
    m = nn.Sequential(nn.BatchNorm2d(3, track_running_stats=False))
    with pytest.raises(ModelError, match=r"'0'.*track_running_stats=False"):
        find_bn(m)


def test_no_bn_is_a_model_error():
    with pytest.raises(ModelError, match="no BatchNorm"):
        find_bn(nn.Linear(2, 2))


@pytest.mark.parametrize("attr", ["weight", "bias", "running_mean", "running_var"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_parameter_names_layer_and_channel(attr, value):
    m = net()
    with torch.no_grad():
        getattr(m.bn2, attr)[2] = value
    with pytest.raises(ModelError, match=rf"'bn2', channel 2: {attr}"):
        find_bn(m)


def test_non_positive_var_plus_eps_names_layer_and_channel():
    m = net()
    with torch.no_grad():
        m.head[2].running_var[4] = -1e-5        # + eps 1e-5 == 0
    with pytest.raises(ModelError, match=r"'head.2', channel 4: running_var \+ eps"):
        find_bn(m)
