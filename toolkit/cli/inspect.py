"""`toolkit inspect MODEL [--json]`: BN layers of a model, or the contents of a .bnm file."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..format import spec
from ..display import safe
from . import options

PICKLE_HELP = ("Accept a fully pickled module (torch.save(model)). Unpickling runs arbitrary "
               "code from the file: use only with files you trust.")


def _is_blob(path: str) -> bool:
    p = Path(path)
    try:
        with p.open("rb") as f:
            return f.read(len(spec.MAGIC)) == spec.MAGIC
    except OSError:
        return False


def _rng(t) -> list[float] | None:
    return None if t is None else [float(t.min()), float(t.max())]


def describe_model(model) -> list[dict]:
    import numpy as np

    from ..model.bn import find_bn
    rows = []
    for l in find_bn(model, validate=False):
        with np.errstate(all="ignore"):
            min_den = float(np.min(l.running_var + np.float32(l.eps)))
        rows.append({
            "name": l.name, "kind": l.kind, "channels": l.channels, "eps": l.eps,
            "momentum": l.momentum, "num_batches_tracked": l.num_batches_tracked, "mode": l.mode,
            "affine": l.weight is not None, "has_bias": l.bias is not None,
            "gamma": _rng(l.gamma), "beta": _rng(l.beta), "running_mean": _rng(l.running_mean),
            "running_var": _rng(l.running_var), "min_var_plus_eps": min_den,
            "warnings": list(l.warnings)})
    return rows


def describe_blob(blob: bytes) -> dict:
    from ..format.reader import read_model
    m = read_model(blob)
    layers = []
    for i, l in enumerate(m.layers):
        d = {"index": i, "name": l.name, "op": l.op, "dtype": l.dtype, "layout": l.layout,
             "channels": l.channels, "fused": l.fused,
             "flags": spec.LAYER_FLAG_FMA if (l.dtype == "f32" and l.fused) else 0,
             "param_bytes": l.channels * spec.PARAM_BYTES_PER_CHANNEL[l.dtype]}
        if l.dtype != "f32":
            d.update(in_scale=l.in_scale, in_zero_point=l.in_zero_point, out_scale=l.out_scale,
                     out_zero_point=l.out_zero_point, shift=l.shift)
        layers.append(d)
    return {"format": "bnm", "version": f"{m.version[0]}.{m.version[1]}", "size": m.total_size,
            "crc32": f"0x{m.crc32:08x}", "layers": layers}


def _console():
    from rich.console import Console
    return Console(width=max(Console().width, 170))


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, list):
        return f"{v[0]:.4g}..{v[1]:.4g}"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _print_model(source, capability, rows):
    from rich.table import Table
    t = Table(title=safe(f"BatchNorm layers of {source} (file order; torch CPU dispatch {capability})"))
    cols = [("name", "name"), ("kind", "kind"), ("C", "channels"), ("eps", "eps"),
            ("momentum", "momentum"), ("batches", "num_batches_tracked"), ("mode", "mode"),
            ("gamma", "gamma"), ("beta", "beta"), ("running_mean", "running_mean"),
            ("running_var", "running_var"), ("min var+eps", "min_var_plus_eps"),
            ("warnings", "warnings")]
    for title, _ in cols:
        t.add_column(title, overflow="fold")
    for r in rows:
        t.add_row(*[safe(("; ".join(r[k]) or "-") if k == "warnings" else _fmt(r[k])) for _, k in cols])
    _console().print(t)


def _print_blob(path, d):
    from rich.table import Table
    t = Table(title=safe(f"{path}: .bnm v{d['version']}, {d['size']} bytes, CRC {d['crc32']}"))
    cols = ["index", "name", "dtype", "layout", "channels", "flags", "in_scale", "in_zero_point",
            "out_scale", "out_zero_point", "shift"]
    for c in cols:
        t.add_column(c)
    for l in d["layers"]:
        t.add_row(*[safe(_fmt(l.get(c))) if c != "flags" else ("fma" if l["fused"] else "-") for c in cols])
    _console().print(t)


@click.command("inspect")
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@options.weights
@click.option("--allow-pickle", is_flag=True, help=PICKLE_HELP)
@options.paths
def command(model, as_json, weights, allow_pickle):
    """Show the BatchNorm layers of MODEL, or describe a .bnm file.

    A file starting with the .bnm magic is described whatever its extension.
    """
    if _is_blob(model):
        d = describe_blob(Path(model).read_bytes())
        d["file"] = model
        if as_json:
            click.echo(json.dumps(d, indent=2))
        else:
            _print_blob(model, d)
        return
    from ..model.fold import cpu_capability
    from ..model.load import load_model
    loaded = load_model(model, weights=weights, allow_pickle=allow_pickle)
    rows = describe_model(loaded.model)
    capability = cpu_capability()
    if as_json:
        click.echo(json.dumps({"source": model, "cpu_capability": capability, "layers": rows}, indent=2))
    else:
        _print_model(model, capability, rows)
    for r in rows:
        for w in r["warnings"]:
            if "overrides forward" in w:
                click.echo(f"warning: layer {r['name']!r}: {w}", err=True)
    if any(r["mode"] == "train" for r in rows):
        click.echo("warning: the model is in train mode; export will use eval-mode semantics "
                   "(running statistics)", err=True)
