"""Train-mode BN on an emulated Cortex-M4F (qemu-mps2-an386): double sums in
soft-float, fused multiply-adds in VFMA; still bit-exact with torch."""
from __future__ import annotations

import copy
import shutil

import numpy as np
import pytest
import torch

import toolkit
from toolkit.boards import get_board, start_board
from toolkit.protocol import train as tr
from toolkit.protocol.client import Client

from adapt_helpers import batches, device_step, make_bn, state_of, torch_input

pytestmark = pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
    reason="needs qemu-system-arm and arm-none-eabi-gcc")


def test_train_mode_on_cortex_m4f():
    with start_board(get_board("qemu-mps2-an386")) as session, Client(session.url, timeout=5.0) as client:
        for shape, channels_last, momentum in (((4, 5, 4, 3), True, 0.1), ((40, 6), False, None),
                                               ((3, 4, 7), False, 0.25)):
            bn = make_bn(shape, momentum=momentum)
            tr.setup(client, state_of(bn))
            for x in batches(shape, 3):
                with torch.no_grad():
                    want = bn(torch_input(x, channels_last)).contiguous().numpy()
                np.testing.assert_array_equal(device_step(client, x, channels_last), want)
            mean, var, nbt = tr.stats(client, shape[1])
            assert nbt == 3
            np.testing.assert_array_equal(mean, bn.running_mean.numpy())
            np.testing.assert_array_equal(var, bn.running_var.numpy())
        # the blob holds the layer's initial statistics; FREEZE puts the adapted ones in
        old_crc, _ = client.load(toolkit.export(make_bn((3, 4, 7), momentum=0.25).eval(), "f32", "nchw").blob)
        assert tr.freeze(client, 0) != old_crc
        x = batches((3, 4, 7), 1, seed=9)[0]
        with torch.no_grad():
            want = copy.deepcopy(bn).eval()(torch.from_numpy(x)).numpy()
        np.testing.assert_array_equal(client.run(0, x, spatial=7).output, want)
