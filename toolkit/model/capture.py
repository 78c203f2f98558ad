"""Run a model in eval mode and record each BN layer's input and output.

`capture(model, inputs) -> [(name, x_in, y_eval), ...]` in file order (the
order of toolkit.model.bn.find_bn).  x_in is the layer's input as a C-contiguous
float32 ndarray (N, C, *spatial); y_eval is torch's eval-mode output for it.
A layer called several times gets its calls concatenated along the batch axis
(when the shapes allow; otherwise the first call).  Used for calibration by
export and by `toolkit verify`.

nn.Modules use forward hooks; ExportedPrograms run through an fx Interpreter.
TorchScript modules cannot be hooked: capture raises ModelError (use --ranges,
or export the model with torch.export).
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError, ModelError
from .bn import aten_bn_name, exported_layer_name, find_bn


def _as_args(inputs) -> tuple:
    if isinstance(inputs, (list, tuple)):
        items = inputs
    else:
        items = (inputs,)
    out = []
    for x in items:
        if isinstance(x, np.ndarray):
            x = torch.from_numpy(np.ascontiguousarray(x))
        if isinstance(x, torch.Tensor) and x.is_floating_point() and x.dtype != torch.float32:
            x = x.float()
        out.append(x)
    return tuple(out)


def _np(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy())


def _merge(calls: list) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = zip(*calls)
    if len(calls) > 1 and all(x.shape[1:] == xs[0].shape[1:] for x in xs):
        return np.concatenate(xs), np.concatenate(ys)
    return xs[0], ys[0]


def capture(model, inputs) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """See the module docstring.  `inputs`: an array/tensor or a tuple of them."""
    layers = find_bn(model)
    args = _as_args(inputs)
    if isinstance(model, torch.export.ExportedProgram):
        calls = _run_exported(model, args)
    elif isinstance(model, torch.jit.ScriptModule):
        raise ModelError("cannot record layer activations of a TorchScript module (no hooks)",
                         "give --ranges ranges.json, or export the model with torch.export (.pt2)")
    else:
        calls = _run_module(model, args)
    out = []
    for layer in layers:
        got = calls.get(layer.name)
        if not got:
            raise ModelError(f"BatchNorm layer {layer.name!r} was not reached by the calibration inputs",
                             "give inputs that run through every BN layer, or --ranges ranges.json")
        x, y = _merge(got)
        out.append((layer.name, x, y))
    return out


def _call(fn, args):
    try:
        with torch.no_grad():
            return fn(*args)
    except (RuntimeError, TypeError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"the model rejected the calibration inputs: {first}",
                         "give inputs of the shape and dtype the model's forward expects") from None


def _run_module(model: torch.nn.Module, args) -> dict:
    from torch.nn.modules.batchnorm import _BatchNorm
    calls: dict[str, list] = {}
    handles, modes = [], {m: m.training for m in model.modules()}

    def hook_for(name):
        def hook(_mod, inp, out):
            calls.setdefault(name, []).append((_np(inp[0]).astype(np.float32), _np(out)))
        return hook
    try:
        for name, m in model.named_modules():
            if isinstance(m, _BatchNorm):
                handles.append(m.register_forward_hook(hook_for(name)))
        model.eval()
        _call(model, args)
    finally:
        for h in handles:
            h.remove()
        for m, training in modes.items():
            m.training = training
    return calls


def _run_exported(ep, args) -> dict:
    gm = ep.module()
    calls: dict[str, list] = {}
    nodes = {n.name: n for n in ep.graph.nodes}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n):
            result = super().run_node(n)
            if aten_bn_name(n) is not None:
                src = nodes.get(n.name, n)
                name, _ = exported_layer_name(src)
                y = result[0] if isinstance(result, (tuple, list)) else result
                x = self.env[n.args[0]] if isinstance(n.args[0], torch.fx.Node) else n.args[0]
                calls.setdefault(name, []).append((_np(x).astype(np.float32), _np(y)))
            return result
    _call(lambda *a: Recorder(gm).run(*a), args)
    return calls
