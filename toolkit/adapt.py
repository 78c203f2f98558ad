"""Adaptive BN: re-estimate a model's BN running statistics on unlabeled data,
with every BN layer's train-mode computation done on a board (docs/adapt.md).

The host runs the model batch by batch; each BN module's forward is replaced
by a call to the device (toolkit/protocol/train.py), so every BN layer sees
exactly the input it sees in a PyTorch train-mode pass (earlier BN layers
normalize with batch statistics too).  The result is a state_dict equal to
what those PyTorch train-mode passes leave behind.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import BoardError, InputError, ModelError
from .fsutil import atomic_path
from .protocol import train as tr


@dataclass
class LayerReport:
    name: str
    channels: int
    calls: int = 0                     # train-mode batches this layer saw
    num_batches_tracked: int = 0
    mean_rel_err: float | None = None  # vs the host torch replay (--check)
    var_rel_err: float | None = None


@dataclass
class AdaptResult:
    state_dict: dict
    layers: list[LayerReport] = field(default_factory=list)
    batches: int = 0
    samples: int = 0
    board: str = ""


def bn_modules(model) -> list[tuple[str, object]]:
    """The BatchNorm modules adapt can drive, in definition order."""
    import torch

    if not isinstance(model, torch.nn.Module) or isinstance(model, torch.jit.ScriptModule):
        raise ModelError("adapt needs an eager torch.nn.Module (its BN forward is replaced)",
                         "give the model as file.py:factory or a pickled module (--allow-pickle), "
                         "not TorchScript or .pt2")
    found = []
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            if not m.track_running_stats:
                raise ModelError(f"BN layer {name!r} does not track running statistics",
                                 "adapt only layers built with track_running_stats=True")
            found.append((name, m))
    if not found:
        raise ModelError("the model has no BatchNorm layers", "check the model")
    return found


def split_batches(x: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Consecutive batches; a batch with one value per channel is refused
    (PyTorch raises on it in train mode)."""
    if x.ndim < 2 or x.shape[0] == 0:
        raise InputError(f"inputs of shape {x.shape} hold no samples", "save a (N, ...) array with N >= 2")
    if batch_size < 1:
        raise InputError(f"--batch-size {batch_size} must be positive", "use --batch-size 2 or more")
    out = [x[i:i + batch_size] for i in range(0, x.shape[0], batch_size)]
    if out[-1].shape[0] == 1:
        raise InputError(f"the last batch would hold a single sample ({x.shape[0]} samples, "
                         f"batch size {batch_size}); train-mode BN needs more than one value per "
                         "channel", "pick a --batch-size that does not leave one sample over")
    return out


def _state(m) -> tr.TrainState:
    c = m.num_features
    def arr(t, default):
        return np.full(c, default, np.float32) if t is None else t.detach().cpu().numpy().astype(np.float32)
    return tr.TrainState(arr(m.weight, 1.0), arr(m.bias, 0.0), arr(m.running_mean, 0.0),
                         arr(m.running_var, 1.0), int(m.num_batches_tracked), float(m.eps), m.momentum)


def _device_forward(client, name, module, state, report, fma, progress):
    """A forward for `module` that runs train-mode BN on the device."""
    import torch

    def forward(inp):
        module._check_input_dim(inp)
        if inp.dtype != torch.float32:
            raise InputError(f"BN layer {name!r} got a {inp.dtype} input", "adapt float32 models")
        image_size = inp[0, 0].numel() if inp.dim() > 2 else 1
        channels_last = not inp.is_contiguous() and inp.dim() in (4, 5) and inp.is_contiguous(
            memory_format=torch.channels_last if inp.dim() == 4 else torch.channels_last_3d)
        rows = inp.numel() // inp.shape[1]
        chunk = tr.torch_chunk(rows, channels_last, image_size, torch.get_num_threads())
        x = inp.detach().cpu().contiguous().numpy()
        tr.setup(client, state, fma=fma)
        y = tr.forward(client, x, chunk=chunk, channels_last=channels_last)
        state.running_mean, state.running_var, state.num_batches_tracked = tr.stats(client, state.channels)
        report.calls += 1
        report.num_batches_tracked = state.num_batches_tracked
        if progress is not None:
            progress("layers", 1)
        out = torch.from_numpy(y)
        return out.contiguous(memory_format=torch.channels_last if inp.dim() == 4 else
                              torch.channels_last_3d) if channels_last else out
    return forward


def _rel_err(got: np.ndarray, want: np.ndarray) -> float:
    got, want = got.astype(np.float64), want.astype(np.float64)
    scale = np.maximum(np.abs(want), np.finfo(np.float32).tiny)
    return float(np.max(np.abs(got - want) / scale, initial=0.0))


def replay(model, batches) -> dict:
    """PyTorch's own answer: the BN layers in train mode (everything else in
    eval mode) over the same batches in the same order.  Returns the state_dict."""
    import torch

    ref = copy.deepcopy(model)
    ref.eval()
    for _, m in bn_modules(ref):
        m.train()
    with torch.no_grad():
        for xb in batches:
            ref(torch.from_numpy(np.ascontiguousarray(xb)))
    return ref.state_dict()


def adapt(model, x: np.ndarray, client, batch_size: int, check: bool = False,
          fma: bool | None = None, progress=None) -> AdaptResult:
    """Adapt `model`'s BN statistics to `x` on the board behind `client`.
    The caller's model is not modified.  progress(stage, step) is called
    after each batch ("batches") and each device BN call ("layers")."""
    import torch

    from .model.fold import cpu_capability, fused_for

    if fma is None:
        fma = fused_for(cpu_capability())
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise InputError(f"inputs are {x.dtype}, adapt needs floating-point samples", "save float32 inputs")
    batches = split_batches(x.astype(np.float32, copy=False), batch_size)
    info = client.board
    if not info.has("train"):
        raise BoardError(f"board {info.name!r} runs an image without on-device training (it contains "
                         f"{', '.join(info.contents)})",
                         "flash an image built with training (`toolkit build` without --no-train)")
    work = copy.deepcopy(model)
    mods = bn_modules(work)
    states = {name: _state(m) for name, m in mods}
    reports = {name: LayerReport(name or "(model)", m.num_features) for name, m in mods}
    work.eval()
    for name, m in mods:
        m.train()
        m.forward = _device_forward(client, name, m, states[name], reports[name], fma, progress)
    try:
        with torch.no_grad():
            for xb in batches:
                work(torch.from_numpy(np.ascontiguousarray(xb)))
                if progress is not None:
                    progress("batches", 1)
    finally:
        for _, m in mods:
            del m.forward
    with torch.no_grad():
        for name, m in mods:
            st = states[name]
            m.running_mean.copy_(torch.from_numpy(st.running_mean))
            m.running_var.copy_(torch.from_numpy(st.running_var))
            m.num_batches_tracked.fill_(st.num_batches_tracked)
    result = AdaptResult(work.state_dict(), list(reports.values()), len(batches), int(x.shape[0]),
                         client.board.name)
    if check:
        ref = replay(model, batches)
        for name, _ in mods:
            prefix = f"{name}." if name else ""
            r = reports[name]
            r.mean_rel_err = _rel_err(states[name].running_mean, ref[prefix + "running_mean"].numpy())
            r.var_rel_err = _rel_err(states[name].running_var, ref[prefix + "running_var"].numpy())
    return result


def save_state_dict(state_dict: dict, path) -> None:
    """torch.save to a temporary file beside `path`, then rename: no partial file."""
    import torch

    path = Path(path)
    if path.parent and not path.parent.is_dir():
        raise InputError(f"folder {path.parent} does not exist", "create it or pick another -o path")
    with atomic_path(path) as tmp:
        torch.save(state_dict, tmp)
