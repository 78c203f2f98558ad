"""`toolkit adapt` end to end on the host simulator: the state_dict it writes
loads strictly and equals what PyTorch's own train-mode passes produce."""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from toolkit.cli import main

from adapt_model import net

MODEL = str(Path(__file__).with_name("adapt_model.py")) + ":net"


def torch_train_passes(model, x, batch_size):
    """PyTorch's answer, written out here: BN layers in train mode, batch by batch."""
    ref = copy.deepcopy(model).eval()
    for m in ref.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.train()
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            ref(torch.from_numpy(x[i:i + batch_size]))
    return ref.state_dict()


@pytest.fixture
def inputs(tmp_path):
    x = (np.random.default_rng(4).standard_normal((22, 3, 6, 5)) * 2 + 0.7).astype(np.float32)
    path = tmp_path / "x.npy"
    np.save(path, x)
    return x, path


def test_adapt_writes_state_dict_equal_to_torch(sim, inputs, tmp_path, capsys):
    x, path = inputs
    out = tmp_path / "adapted.pth"
    code = main(["adapt", MODEL, "--port", sim.url, "--inputs", str(path), "--batch-size", "8",
                 "-o", str(out), "--check"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "bn3" in text and "max rel err" in text
    model = net()
    adapted = torch.load(out, weights_only=True)
    model.load_state_dict(adapted, strict=True)
    want = torch_train_passes(net(), x, 8)
    for key, value in want.items():
        torch.testing.assert_close(adapted[key], value, rtol=0, atol=0, msg=key)   # bit-exact
    assert int(adapted["bn1.num_batches_tracked"]) == 3
    assert not torch.equal(adapted["bn1.running_mean"], net().state_dict()["bn1.running_mean"])


def test_adapt_refuses_a_last_batch_of_one(sim, inputs, tmp_path, capsys):
    _, path = inputs
    out = tmp_path / "adapted.pth"
    code = main(["adapt", MODEL, "--port", sim.url, "--inputs", str(path), "--batch-size", "7",
                 "-o", str(out)])
    err = capsys.readouterr().err
    assert code != 0 and "single sample" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == [path]          # no output, no temporary file
