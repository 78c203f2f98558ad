"""Run a model in eval mode and record every call of every BN layer.

`capture_calls(model, inputs) -> {name: [Call, ...]}` in file order (the
order of toolkit.model.bn.find_bn), each layer's calls in execution order.
A Call holds the layer's input as a C-contiguous float32 ndarray
(N, C, *spatial) and the output the model itself produced for it: that output,
not BN recomputed by us, is what `toolkit verify` compares the board with.
`capture(model, inputs) -> [(name, x, y), ...]` is the older per-layer view
(calls concatenated along the batch axis when the shapes allow).

The model is never changed: nn.Modules run in eval mode (each module's own
training flag is restored afterwards) and every buffer is put back as it was;
a forward that changes BN running statistics even in eval mode, or a
torch.export program exported in train mode, is refused with ModelError.

Call forms: positional and keyword calls of the module (`bn(x)`,
`bn(input=x)`), wrappers that call it (lambda, functools.partial,
checkpoint), and `bn.forward(x)` or `F.batch_norm(x, bn.running_mean, ...)`
that bypass the module's hooks (seen through a TorchFunctionMode).
TorchScript modules cannot be hooked: capture raises ModelError.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InputError, ModelError
from .bn import aten_bn_name, exported_layer_name, find_bn


@dataclass
class Call:
    x: np.ndarray              # input, float32, C-contiguous
    y: np.ndarray              # the output the model produced for this call
    contiguous: bool = True    # the input as the model passed it was contiguous
    via: str = "module"        # "module" (through __call__) or "functional"


def _as_args(inputs) -> tuple:
    items = inputs if isinstance(inputs, (list, tuple)) else (inputs,)
    out = []
    for x in items:
        if isinstance(x, np.ndarray):
            if x.dtype.kind not in "biuf":
                raise InputError(f"the inputs are an array of {x.dtype}, not numbers",
                                 "give a numeric .npy (numpy.save of a float array)")
            x = torch.from_numpy(np.ascontiguousarray(x))
        if isinstance(x, torch.Tensor) and x.is_floating_point() and x.dtype != torch.float32:
            x = x.float()
        out.append(x)
    if not out or any(isinstance(x, torch.Tensor) and (x.ndim == 0 or x.shape[0] == 0) for x in out):
        raise InputError("the inputs hold no samples (empty first axis)",
                         "give at least one sample (first axis: batch)")
    return tuple(out)


def _np(t: torch.Tensor) -> np.ndarray:
    """A contiguous copy (the model may change the tensor in place later: relu_)."""
    t = t.detach().cpu()
    if t.dtype != torch.float32 and t.is_floating_point():
        t = t.float()
    return np.array(t.numpy(), order="C", copy=True)


def _tensor_arg(args, kwargs):
    """The BN input of a module call: first positional, or `input=`, or the only tensor."""
    if args and isinstance(args[0], torch.Tensor):
        return args[0]
    if isinstance(kwargs.get("input"), torch.Tensor):
        return kwargs["input"]
    tensors = [v for v in (*args, *kwargs.values()) if isinstance(v, torch.Tensor)]
    return tensors[0] if len(tensors) == 1 else None


def _call_record(x: torch.Tensor, y, via: str) -> Call:
    y = y[0] if isinstance(y, (tuple, list)) else y
    return Call(_np(x).astype(np.float32, copy=False), _np(y), bool(x.is_contiguous()), via)


def _merge(calls: list[Call]) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [c.x for c in calls], [c.y for c in calls]
    if len(calls) > 1 and all(x.shape[1:] == xs[0].shape[1:] for x in xs):
        return np.concatenate(xs), np.concatenate(ys)
    return xs[0], ys[0]


def merged(calls: dict[str, list[Call]]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """capture_calls() output as [(name, x, y), ...] per layer, calls joined."""
    return [(name, *_merge(c)) for name, c in calls.items()]


def capture(model, inputs) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """[(name, x, y), ...] per layer; see the module docstring."""
    return merged(capture_calls(model, inputs))


def capture_calls(model, inputs) -> dict[str, list[Call]]:
    """See the module docstring.  `inputs`: an array/tensor or a tuple of them."""
    layers = find_bn(model)
    args = _as_args(inputs)
    if isinstance(model, torch.export.ExportedProgram):
        calls = _run_exported(model, args)
    elif isinstance(model, torch.jit.ScriptModule):
        raise ModelError("cannot record layer activations of a TorchScript module (it has no hooks)",
                         "give the model as file.py:factory, or as a torch.export .pt2 archive")
    else:
        calls = _run_module(model, args)
    out = {}
    for layer in layers:
        got = calls.get(layer.name)
        if not got:
            raise ModelError(f"BatchNorm layer {layer.name!r} was not reached by the inputs",
                             "give inputs that run through every BN layer")
        out[layer.name] = got
    return out


def _call(fn, args):
    try:
        with torch.no_grad():
            return fn(*args)
    except ModelError:
        raise
    except (Exception, SystemExit) as e:       # the model's own code: any failure is the input's or the model's
        text = str(e).strip()
        first = text.splitlines()[0] if text else type(e).__name__
        raise InputError(f"the model rejected the inputs: {type(e).__name__}: {first}",
                         "give inputs of the shape and dtype the model's forward expects") from None


def _snapshot(tensors: dict) -> dict:
    return {k: t.detach().clone() for k, t in tensors.items()}


def _bytes(t: torch.Tensor) -> torch.Tensor:
    return t.detach().contiguous().reshape(-1).view(torch.uint8)


def _restore(tensors: dict, saved: dict) -> list[str]:
    """Put every tensor back; the names of those the run changed."""
    changed = []
    with torch.no_grad():
        for k, t in tensors.items():
            old = saved[k]
            if t.shape != old.shape or t.dtype != old.dtype or not torch.equal(_bytes(t), _bytes(old)):
                changed.append(k)
                if t.shape == old.shape and t.dtype == old.dtype:
                    t.copy_(old)
    return changed


_BN_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def _refuse_changed(changed: list[str]) -> None:
    """Every changed buffer was put back; changed BN statistics mean a layer
    computed with batch statistics, and the model's outputs are not eval BN."""
    bn = [k for k in changed if k.rsplit(".", 1)[-1] in _BN_BUFFERS]
    if bn:
        raise ModelError(f"running the model in eval mode changed its buffers ({', '.join(bn[:3])}): "
                         "a layer computes with batch statistics (train mode) even after model.eval() "
                         "(the buffers were restored)",
                         "make every BatchNorm use its running statistics in eval mode")


class _FunctionalBN(torch.overrides.TorchFunctionMode):
    """Records F.batch_norm calls on a known layer's running_mean that did not
    come through that module's __call__ (bn.forward(x), F.batch_norm(...))."""

    def __init__(self, owners: dict, active: set, calls: dict):
        super().__init__()
        self.owners, self.active, self.calls = owners, active, calls

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        if func is torch.nn.functional.batch_norm:
            rm = args[1] if len(args) > 1 else kwargs.get("running_mean")
            name = self.owners.get(id(rm)) if rm is not None else None
            if name is not None and name not in self.active:
                x = args[0] if args else kwargs["input"]
                self.calls.setdefault(name, []).append(_call_record(x, result, "functional"))
        return result


def _eager(fn):
    """Keep a hook out of torch.compile's graphs (it records to numpy).  Only
    when dynamo is loaded already: a compiled model has loaded it, and
    importing it costs seconds."""
    dynamo = sys.modules.get("torch._dynamo")
    return dynamo.disable(fn) if dynamo is not None else fn


def _run_module(model: torch.nn.Module, args) -> dict:
    from torch.nn.modules.batchnorm import _BatchNorm
    calls: dict[str, list] = {}
    active: set = set()
    handles, modes = [], {m: m.training for m in model.modules()}
    state = dict(model.named_buffers())
    saved = _snapshot(state)
    owners = {}

    def hooks_for(name):
        @_eager
        def pre(_mod, a, kw):
            active.add(name)

        @_eager
        def post(_mod, a, kw, out):
            active.discard(name)
            x = _tensor_arg(a, kw)
            if x is None:
                raise ModelError(f"cannot tell the input of BatchNorm layer {name!r} in its call",
                                 "call the layer with its input tensor as first argument or input=")
            calls.setdefault(name, []).append(_call_record(x, out, "module"))
        return pre, post
    try:
        for name, m in model.named_modules():
            if isinstance(m, _BatchNorm):
                pre, post = hooks_for(name)
                handles.append(m.register_forward_pre_hook(pre, with_kwargs=True))
                handles.append(m.register_forward_hook(post, with_kwargs=True))
                if m.running_mean is not None:
                    owners[id(m.running_mean)] = name
        model.eval()
        with _FunctionalBN(owners, active, calls):
            _call(model, args)
    finally:
        for h in handles:
            h.remove()
        for m, training in modes.items():
            m.training = training
        changed = _restore(state, saved)
    _refuse_changed(changed)
    return calls


def _run_exported(ep, args) -> dict:
    layers = {l.name: l for l in find_bn(ep)}
    train = [n for n, l in layers.items() if l.training]
    if train:
        raise ModelError(f"the program was exported in train mode (BatchNorm {train[0]!r} computes with batch "
                         "statistics and would change its running statistics)",
                         "call model.eval() before torch.export.export and save the program again")
    gm = ep.module()
    calls: dict[str, list] = {}
    nodes = {n.name: n for n in ep.graph.nodes}
    state = {**dict(gm.named_buffers()), **{k: v for k, v in ep.state_dict.items()
                                            if isinstance(v, torch.Tensor)}}
    saved = _snapshot(state)

    pending: dict[str, Call] = {}

    def finish(keep: str | None = None):
        for name in [k for k in pending if k != keep]:
            calls.setdefault(name, []).append(pending.pop(name))

    class Recorder(torch.fx.Interpreter):
        """A BN call's output is the last value computed inside its module
        (a subclass's forward may do more after the batch norm)."""
        def run_node(self, n):
            result = super().run_node(n)
            src = nodes.get(n.name, n)
            if aten_bn_name(n) is not None:
                name, _ = exported_layer_name(src)
                finish()
                x = self.env[n.args[0]] if isinstance(n.args[0], torch.fx.Node) else n.args[0]
                pending[name] = _call_record(x, result, "module")
            elif n.op == "call_function":
                stack = src.meta.get("nn_module_stack") or {}
                path = list(stack.values())[-1][0] if stack else None
                if path in pending and isinstance(result, torch.Tensor) \
                        and tuple(result.shape) == pending[path].x.shape:
                    pending[path].y = _np(result)
                else:
                    finish(path)
            else:
                finish()
            return result

    try:
        _call(lambda *a: Recorder(gm).run(*a), args)
        finish()
    finally:
        changed = _restore(state, saved)
    _refuse_changed(changed)
    return calls
