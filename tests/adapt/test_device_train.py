"""Train-mode BN on the host simulator against torch's own train-mode forward
(the independent reference): running statistics after K batches, outputs,
errors, retries and FREEZE."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from toolkit.errors import InputError, ProtocolError
from toolkit.format import spec
from toolkit.protocol import train as tr

from adapt_helpers import batches, device_step, make_bn, state_of, torch_input

CASES = [  # shape, channels_last, momentum
    ((16, 5), False, 0.1),          # BatchNorm1d (N, C): torch's channels-last kernel
    ((2, 6), False, 0.1),           # (N, C) with N <= threads
    ((300, 7), False, 0.1),         # (N, C) with float partial sums per thread
    ((6, 4, 33), False, 0.1),       # BatchNorm1d (N, C, L)
    ((4, 6, 5, 7), False, 0.1),     # BatchNorm2d, contiguous: double sums
    ((4, 6, 5, 7), True, 0.1),      # BatchNorm2d, channels_last
    ((5, 3, 9, 2), False, 0.5),
    ((9, 8), False, 0.01),
    ((3, 4, 10), False, None),      # cumulative average
    ((12, 3), False, None),
    ((2, 3, 2, 3, 4), False, 0.2),  # BatchNorm3d
]


@pytest.mark.parametrize("shape,channels_last,momentum", CASES)
def test_running_stats_and_outputs_match_torch(client, shape, channels_last, momentum):
    bn = make_bn(shape, momentum=momentum, eps=1e-3)
    tr.setup(client, state_of(bn))
    for x in batches(shape, 4):
        with torch.no_grad():
            want = bn(torch_input(x, channels_last)).contiguous().numpy()
        got = device_step(client, x, channels_last)
        np.testing.assert_array_equal(got, want)          # bit-exact, measured
    mean, var, nbt = tr.stats(client, shape[1])
    assert nbt == int(bn.num_batches_tracked) == 4
    # Bit-exact (stronger than the 1e-6 relative target).
    np.testing.assert_array_equal(mean, bn.running_mean.numpy())
    np.testing.assert_array_equal(var, bn.running_var.numpy())


def test_affine_false_and_nonzero_tracked_count(client):
    shape = (8, 4, 6)
    bn = make_bn(shape, momentum=None, affine=False)
    bn.num_batches_tracked.fill_(5)        # cumulative average continues from 5
    tr.setup(client, state_of(bn))
    for x in batches(shape, 3, seed=7):
        with torch.no_grad():
            want = bn(torch.from_numpy(x)).numpy()
        np.testing.assert_array_equal(device_step(client, x), want)
    mean, var, nbt = tr.stats(client, 4)
    assert nbt == 8
    np.testing.assert_array_equal(mean, bn.running_mean.numpy())
    np.testing.assert_array_equal(var, bn.running_var.numpy())


def test_train_output_depends_on_batch_size_eval_does_not(client):
    """Side by side: the same 8 samples as one batch of 8 and as two of 4."""
    shape = (8, 3, 5, 4)
    x = batches(shape, 1, seed=3)[0]
    bn = make_bn(shape)
    blob = __import__("toolkit").export(copy.deepcopy(bn).eval(), "f32", "nchw").blob
    client.load(blob)
    eval_whole = client.run(0, x, spatial=20).output
    eval_split = np.concatenate([client.run(0, x[:4], spatial=20).output,
                                 client.run(0, x[4:], spatial=20).output])
    with torch.no_grad():
        eval_torch = copy.deepcopy(bn).eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(eval_whole, eval_split)
    np.testing.assert_array_equal(eval_whole, eval_torch)

    tr.setup(client, state_of(bn))
    train_whole = device_step(client, x)
    train_split = np.concatenate([device_step(client, x[:4]), device_step(client, x[4:])])
    with torch.no_grad():
        t = copy.deepcopy(bn)
        torch_whole = t(torch.from_numpy(x)).numpy()
        torch_split = np.concatenate([t(torch.from_numpy(x[:4])).numpy(), t(torch.from_numpy(x[4:])).numpy()])
    np.testing.assert_array_equal(train_whole, torch_whole)
    np.testing.assert_array_equal(train_split, torch_split)
    assert np.abs(train_whole - train_split).max() > 1e-3     # batch statistics differ


def test_one_value_per_channel_is_err_batch(client):
    bn = make_bn((1, 4))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(torch.zeros(1, 4))                      # what PyTorch does with it
    tr.setup(client, state_of(bn))
    begin = spec.TRAIN_PHASES["BEGIN"]
    with pytest.raises(ProtocolError, match="ERR_BATCH"):        # (1, C) or (1, C, 1, 1)
        client.request("TRAIN", spec.TRAIN_BEGIN.pack(begin, 0, 0, 1, 1, 0))
    with pytest.raises(ProtocolError, match="ERR_SHAPE"):        # an empty batch
        client.request("TRAIN", spec.TRAIN_BEGIN.pack(begin, 0, 0, 0, 5, 0))
    client.request("TRAIN", spec.TRAIN_BEGIN.pack(begin, 0, 0, 1, 2, 0))   # (1, C, 2) is legal
    with pytest.raises(InputError, match="more than 1 value per channel"):
        tr.forward(client, np.zeros((1, 4, 1, 1), np.float32))   # the host says so first


def test_out_of_order_and_repeated_requests(client):
    shape = (6, 3, 4)
    bn = make_bn(shape)
    tr.setup(client, state_of(bn))
    data = spec.TRAIN_PHASES["DATA"]
    with pytest.raises(ProtocolError, match="ERR_TRAIN_STATE"):     # no BEGIN yet
        client.request("TRAIN", spec.TRAIN.pack(data, 1, 0, 0, 1) + b"\0" * 4)
    x = batches(shape, 1, seed=5)[0]
    flat = np.ascontiguousarray(x).reshape(-1)
    client.request("TRAIN", spec.TRAIN_BEGIN.pack(spec.TRAIN_PHASES["BEGIN"], 0, 0, 6, 4, 0))
    with pytest.raises(ProtocolError, match="ERR_TRAIN_STATE"):     # a gap
        client.request("TRAIN", spec.TRAIN.pack(data, 1, 0, 10, 2) + flat[10:12].tobytes())
    for p in (1, 2):       # every chunk twice, as a client retry after a lost answer sends it
        for first in range(0, flat.size, 20):
            part = flat[first:first + 20].tobytes()
            for _ in range(2):
                client.request("TRAIN", spec.TRAIN.pack(data, p, 0, first, len(part) // 4) + part)
    client.request("TRAIN", spec.TRAIN.pack(data, 1, 0, 0, 20) + flat[:20].tobytes())  # stale pass
    with torch.no_grad():
        bn(torch.from_numpy(x))
    mean, var, nbt = tr.stats(client, 3)
    assert nbt == 1
    np.testing.assert_array_equal(mean, bn.running_mean.numpy())
    np.testing.assert_array_equal(var, bn.running_var.numpy())


def test_setup_rejects_too_many_channels(client):
    big = make_bn((2, 4))
    st = state_of(big)
    with pytest.raises(ProtocolError, match="ERR_CHANNELS"):
        client.request("TRAIN", spec.TRAIN_SETUP.pack(0, 0, 0, 1 << 20, 1e-5, 0.1, 0))
    tr.setup(client, st)


def test_freeze_folds_into_the_active_f32_model(client):
    import toolkit
    shape = (6, 5, 3, 3)
    bn = make_bn(shape, eps=1e-3)
    blob = toolkit.export(copy.deepcopy(bn).eval(), "f32", "nchw").blob
    old_crc, _ = client.load(blob)
    tr.setup(client, state_of(bn))
    for x in batches(shape, 3, seed=11):
        device_step(client, x)
        with torch.no_grad():
            bn(torch.from_numpy(x))
    crc = tr.freeze(client, 0)
    assert crc != old_crc and client.model_info(0).crc32 == crc
    x = batches(shape, 1, seed=12)[0]
    with torch.no_grad():
        want = copy.deepcopy(bn).eval()(torch.from_numpy(x)).numpy()   # torch eval with its own stats
    np.testing.assert_array_equal(client.run(0, x, spatial=9).output, want)
    with pytest.raises(ProtocolError, match="ERR_LAYER"):
        tr.freeze(client, 1)


def test_freeze_needs_f32_layer(client):
    import toolkit
    shape = (8, 4)
    bn = make_bn(shape)
    calib = batches(shape, 1)[0]
    blob = toolkit.export(copy.deepcopy(bn).eval(), "s8", "nchw", calib=calib).blob
    client.load(blob)
    tr.setup(client, state_of(bn))
    with pytest.raises(ProtocolError, match="ERR_DTYPE"):
        tr.freeze(client, 0)


@pytest.mark.parametrize("threads", [1, 3])
def test_partial_sums_follow_torch_thread_count(client, threads):
    """torch's channels-last kernel sums in float per thread chunk, so its
    result depends on torch.get_num_threads(); the host passes the chunking."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for shape, channels_last in (((64, 7), False), ((3, 9), False), ((5, 6, 4, 4), True)):
            bn = make_bn(shape)
            tr.setup(client, state_of(bn))
            for x in batches(shape, 2, seed=threads):
                with torch.no_grad():
                    want = bn(torch_input(x, channels_last)).contiguous().numpy()
                np.testing.assert_array_equal(device_step(client, x, channels_last), want)
            mean, var, _ = tr.stats(client, shape[1])
            np.testing.assert_array_equal(mean, bn.running_mean.numpy())
            np.testing.assert_array_equal(var, bn.running_var.numpy())
    finally:
        torch.set_num_threads(old)
