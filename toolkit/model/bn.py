"""Find every BatchNorm layer of a model and read its parameters.

Sources: an nn.Module (eager, SyncBatchNorm, materialized lazy BN), a
TorchScript module (scripted or traced) and a torch.export ExportedProgram.

File order: for modules, the order of `named_modules()` (registration order,
depth first, each module once even if it is called several times); for
ExportedPrograms, the order of the batch-norm nodes in the graph (execution
order).  Parameters are copied to float32 numpy arrays; eps and momentum are
read from each layer, never assumed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import ModelError

BN_KINDS = ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm",
            "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d")
# aten ops that carry a batch norm in an export graph, and the argument index
# of (training, momentum, eps); None: the op is eval-only.
_ATEN_BN = {
    "batch_norm": (5, 6, 7),
    "_native_batch_norm_legit_no_training": (None, 5, 6),
    "_native_batch_norm_legit": (5, 6, 7),
    "_native_batch_norm_legit_functional": (5, 6, 7),
    "native_batch_norm": (5, 6, 7),
}


class TrainModeWarning(UserWarning):
    """The model (or some BN layer) is in train mode; export uses eval semantics."""


@dataclass
class BNLayer:
    name: str
    kind: str
    channels: int
    eps: float
    momentum: float | None
    weight: np.ndarray | None          # None: affine=False (gamma = 1)
    bias: np.ndarray | None            # None: no bias (beta = 0)
    running_mean: np.ndarray
    running_var: np.ndarray
    num_batches_tracked: int | None = None
    training: bool = False
    warnings: list[str] = field(default_factory=list)
    param_dtype: str = "float32"       # torch dtype of the tensors (bfloat16 arrives here as float16)

    @property
    def mode(self) -> str:
        return "train" if self.training else "eval"

    @property
    def gamma(self) -> np.ndarray:
        return self.weight if self.weight is not None else np.ones(self.channels, np.float32)

    @property
    def beta(self) -> np.ndarray:
        return self.bias if self.bias is not None else np.zeros(self.channels, np.float32)


def find_bn(model, require: bool = True, validate: bool = True) -> list[BNLayer]:
    """Every BN layer of `model`, in file order, validated (see check_layer).

    validate=False (for `toolkit inspect`) records problems as layer warnings
    instead of raising ModelError."""
    if isinstance(model, torch.export.ExportedProgram):
        layers = _from_exported(model)
    elif isinstance(model, torch.jit.ScriptModule):
        layers = _from_script(model)
    elif isinstance(model, torch.nn.Module):
        layers = _from_module(model)
    else:
        raise ModelError(f"cannot read BatchNorm layers from a {type(model).__name__}",
                         "pass an nn.Module, a TorchScript module or a torch.export program")
    if require and not layers:
        raise ModelError("the model has no BatchNorm layer",
                         "export a model with BatchNorm1d/2d/3d or SyncBatchNorm layers")
    for layer in layers:
        if validate:
            check_layer(layer)
        else:
            try:
                check_layer(layer)
            except ModelError as e:
                layer.warnings.append(e.problem)
    return layers


def _np(t) -> np.ndarray | None:
    """A float32 copy; a tensor of another float dtype keeps its dtype when
    numpy has it (check_layer then refuses it), else becomes float16 (bfloat16)."""
    if t is None:
        return None
    t = t.detach().cpu()
    if t.dtype == torch.bfloat16:
        return t.to(torch.float16).numpy().copy()   # numpy has no bfloat16; refused below anyway
    return t.numpy().copy()


def overrides_forward(m) -> bool:
    """A BN subclass whose forward is not torch's: the board runs plain BN."""
    from torch.nn.modules.batchnorm import _BatchNorm
    return type(m).forward not in (_BatchNorm.forward, torch.nn.SyncBatchNorm.forward)


def _forward_note(kind: str) -> str:
    return (f"{kind} overrides forward: the board computes plain BatchNorm; "
            "verify compares with what this forward returns")


def _display(name: str) -> str:
    return name or "(root)"


def _from_module(model: torch.nn.Module) -> list[BNLayer]:
    from torch.nn.modules.batchnorm import _BatchNorm
    from torch.nn.modules.lazy import LazyModuleMixin
    out = []
    for name, m in model.named_modules():
        if not isinstance(m, _BatchNorm):
            continue
        kind = type(m).__name__
        if isinstance(m, LazyModuleMixin) and m.has_uninitialized_params():
            raise ModelError(f"BatchNorm layer {_display(name)!r} ({kind}) is not initialized yet",
                             "run one forward pass first so the lazy layer learns its channel count")
        if not m.track_running_stats or m.running_mean is None or m.running_var is None:
            raise ModelError(f"BatchNorm layer {_display(name)!r} has track_running_stats=False "
                             "(no running statistics)",
                             "train it with track_running_stats=True, or replace it before exporting")
        nbt = m.num_batches_tracked
        out.append(BNLayer(
            name=name, kind=kind, channels=int(m.running_mean.numel()), eps=float(m.eps),
            momentum=None if m.momentum is None else float(m.momentum),
            weight=_np(m.weight), bias=_np(m.bias), running_mean=_np(m.running_mean),
            running_var=_np(m.running_var), num_batches_tracked=None if nbt is None else int(nbt),
            training=bool(m.training), param_dtype=str(m.running_mean.dtype).replace("torch.", "")))
        if overrides_forward(m):
            out[-1].warnings.append(_forward_note(kind))
    return out


def _script_constants(m) -> tuple[float | None, float | None]:
    """eps and momentum of a traced BN, read from its aten::batch_norm node."""
    for node in m.graph.nodes():
        if node.kind() == "aten::batch_norm":
            ins = list(node.inputs())

            def const(i, ins=ins):
                n = ins[i].node()
                return n.output().toIValue() if n.kind() == "prim::Constant" else None
            return const(7), const(6)
    return None, None


def _from_script(model) -> list[BNLayer]:
    out = []
    for name, m in model.named_modules():
        kind = getattr(m, "original_name", type(m).__name__)
        if kind not in BN_KINDS:
            continue
        rm, rv = getattr(m, "running_mean", None), getattr(m, "running_var", None)
        if rm is None or rv is None:
            raise ModelError(f"BatchNorm layer {_display(name)!r} has track_running_stats=False "
                             "(no running statistics)",
                             "train it with track_running_stats=True, or replace it before exporting")
        eps, momentum = getattr(m, "eps", None), getattr(m, "momentum", "absent")
        if eps is None or momentum == "absent":
            g_eps, g_mom = _script_constants(m)
            eps = g_eps if eps is None else eps
            momentum = g_mom if momentum == "absent" else momentum
        if eps is None:
            raise ModelError(f"cannot find eps of TorchScript layer {_display(name)!r}",
                             "script the model with torch.jit.script or export it with torch.export")
        nbt = getattr(m, "num_batches_tracked", None)
        out.append(BNLayer(
            name=name, kind=kind, channels=int(rm.numel()), eps=float(eps),
            momentum=None if momentum is None else float(momentum),
            weight=_np(getattr(m, "weight", None)), bias=_np(getattr(m, "bias", None)),
            running_mean=_np(rm), running_var=_np(rv),
            num_batches_tracked=None if nbt is None else int(nbt), training=bool(m.training)))
    return out


def aten_bn_name(node) -> str | None:
    """The aten batch-norm op name of an fx node, or None."""
    if node.op != "call_function":
        return None
    op = getattr(node.target, "_overloadpacket", None)
    name = getattr(op, "__name__", None) or getattr(node.target, "__name__", "")
    name = name.split(".")[0]
    return name if name in _ATEN_BN else None


def exported_layer_name(node) -> tuple[str, str]:
    """(qualified module name, kind) of a batch-norm node in an export graph."""
    stack = node.meta.get("nn_module_stack") or {}
    if stack:
        path, cls = list(stack.values())[-1]
        cls = cls if isinstance(cls, str) else getattr(cls, "__name__", str(cls))
        return path, cls.rsplit(".", 1)[-1]
    return node.name, "batch_norm"


def _from_exported(ep) -> list[BNLayer]:
    sig = ep.graph_signature
    fqn = {**sig.inputs_to_parameters, **sig.inputs_to_buffers,
           **getattr(sig, "inputs_to_lifted_tensor_constants", {})}
    state = {**ep.state_dict, **ep.constants}

    def tensor(arg):
        if arg is None:
            return None
        key = fqn.get(getattr(arg, "name", None))
        if key is None or key not in state:
            raise ModelError(f"batch-norm node argument {arg} is not a parameter or buffer",
                             "export a model whose BatchNorm layers use their own parameters")
        return state[key], key

    out, seen = [], {}
    for node in ep.graph.nodes:
        op = aten_bn_name(node)
        if op is None:
            continue
        i_train, i_mom, i_eps = _ATEN_BN[op]
        args = list(node.args)
        name, kind = exported_layer_name(node)
        if args[3] is None or args[4] is None:
            raise ModelError(f"BatchNorm layer {name!r} has track_running_stats=False (no running statistics)",
                             "train it with track_running_stats=True, or replace it before exporting")
        w, b = tensor(args[1]), tensor(args[2])
        (rm, rm_key), (rv, _) = tensor(args[3]), tensor(args[4])
        if rm_key in seen:      # the same module called twice: one layer
            continue
        seen[rm_key] = True
        nbt = state.get(rm_key.rsplit(".", 1)[0] + ".num_batches_tracked") if "." in rm_key \
            else state.get("num_batches_tracked")
        training = bool(args[i_train]) if i_train is not None else False
        mom = args[i_mom]
        out.append(BNLayer(
            name=name, kind=kind, channels=int(rm.numel()), eps=float(args[i_eps]),
            momentum=None if mom is None else float(mom),
            weight=None if w is None else _np(w[0]), bias=None if b is None else _np(b[0]),
            running_mean=_np(rm), running_var=_np(rv),
            num_batches_tracked=None if nbt is None else int(nbt), training=training,
            param_dtype=str(rm.dtype).replace("torch.", "")))
        if kind not in BN_KINDS and kind != "batch_norm":
            out[-1].warnings.append(_forward_note(kind))
    return out


def check_layer(layer: BNLayer) -> None:
    """ModelError for parameters that cannot give a finite float32 BN."""
    where = f"BatchNorm layer {_display(layer.name)!r}"
    train_note = "train mode: exported with eval-mode semantics (running statistics)"
    if layer.training and train_note not in layer.warnings:
        layer.warnings.append(train_note)
    tensors = {"weight": layer.weight, "bias": layer.bias,
               "running_mean": layer.running_mean, "running_var": layer.running_var}
    if layer.param_dtype != "float32":
        raise ModelError(f"{where}: its tensors are {layer.param_dtype}, the runtime computes in float32",
                         "convert the model with model.float() before exporting")
    for key, t in tensors.items():
        if t is None:
            continue
        if t.dtype != np.float32:
            raise ModelError(f"{where}: {key} is {t.dtype}, the runtime computes in float32",
                             "convert the model with model.float() before exporting")
        if t.shape != (layer.channels,):
            raise ModelError(f"{where}: {key} has shape {t.shape}, expected ({layer.channels},)",
                             "fix the layer's parameters")
        bad = np.flatnonzero(~np.isfinite(t))
        if bad.size:
            c = int(bad[0])
            raise ModelError(f"{where}, channel {c}: {key} is {t[c]} (not finite)",
                             "retrain or repair the layer's parameters")
    if layer.channels < 1:
        raise ModelError(f"{where} has no channels", "fix the model")
    denom = layer.running_var + np.float32(layer.eps)
    bad = np.flatnonzero(~(denom > 0))
    if bad.size:
        c = int(bad[0])
        raise ModelError(f"{where}, channel {c}: running_var + eps = {denom[c]} is not positive",
                         "repair running_var (it must be >= 0) or use a larger eps")
