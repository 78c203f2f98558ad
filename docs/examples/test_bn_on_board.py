"""A user's own hardware-in-the-loop test (docs/pytest.md).  Copy it into
your project and run it with the toolkit installed:

    pytest test_bn_on_board.py                              # host simulator
    pytest test_bn_on_board.py --bnrt-board qemu-mps2-an386  # an emulated Cortex-M4F
    pytest test_bn_on_board.py --bnrt-port nucleo-f446re=/dev/ttyACM0   # a real board
"""
import numpy as np
import pytest
import torch

import toolkit
from toolkit.verify.run import verify


def my_model() -> torch.nn.Module:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv1d(3, 6, 1), torch.nn.BatchNorm1d(6))
    model.train()
    with torch.no_grad():
        for _ in range(4):                       # non-trivial running statistics
            model(torch.randn(8, 3, 10) * 2 + 1)
    return model.eval()


@pytest.mark.hil
def test_the_board_answers(bnrt_board, bnrt_device):
    info = bnrt_device.info()
    assert info.name == bnrt_board.name
    assert "f32" in info.dtypes


@pytest.mark.hil
def test_one_bn_layer_is_bit_exact_with_torch_eval(bnrt_device, bnrt_load):
    model = my_model()
    bn = model[1]
    x = torch.randn(4, 6, 10)
    crc, layers = bnrt_load(toolkit.export(bn, dtype="f32").blob)
    assert layers == 1
    got = bnrt_device.run(0, x.numpy(), 10).output
    assert np.array_equal(got, bn(x).detach().numpy())


@pytest.mark.hil
def test_the_whole_model_through_the_verify_api(bnrt_board):
    x = torch.randn(16, 3, 10).numpy()
    report = verify(my_model(), x, dtype="s8", board=bnrt_board.name, port=bnrt_board.url)
    assert report["pass"], report["layers"]
