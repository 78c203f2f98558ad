"""Optional part of section 1: the same BN layer as TFLite models, built with
the model editor shipped in the `tflite-micro` package (no TensorFlow), run by
the TFLM host interpreter and by LiteRT (`ai-edge-litert`, XNNPACK).

  f32:  MUL(x, a[C]) then ADD(., b[C]) on NHWC input
  int8: DEPTHWISE_CONV_2D 1x1, per-channel int8 filter, int32 bias, int8 in/out
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .report import Section

PACKAGES = ("tflite_micro", "ai_edge_litert")


def available() -> dict:
    out = {}
    for p in PACKAGES:
        try:
            __import__(p)
            out[p] = True
        except Exception as e:   # ImportError, or a broken native wheel
            out[p] = f"{type(e).__name__}: {e}"
    return out


def _editor():
    from tflite_micro.tensorflow.lite.micro.compression import model_editor as me
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as tfl
    return me, tfl


def f32_model(shape, a: np.ndarray, b: np.ndarray) -> bytes:
    me, tfl = _editor()
    sg = me.Subgraph()
    x = sg.add_tensor(shape=shape, dtype=tfl.TensorType.FLOAT32, name="x")
    ta = sg.add_tensor(shape=(len(a),), dtype=tfl.TensorType.FLOAT32, data=a.astype("<f4"), name="a")
    tb = sg.add_tensor(shape=(len(b),), dtype=tfl.TensorType.FLOAT32, data=b.astype("<f4"), name="b")
    t = sg.add_tensor(shape=shape, dtype=tfl.TensorType.FLOAT32, name="xa")
    y = sg.add_tensor(shape=shape, dtype=tfl.TensorType.FLOAT32, name="y")
    mul = sg.add_operator(opcode=tfl.BuiltinOperator.MUL, inputs=[x, ta], outputs=[t])
    mul._fb.builtinOptionsType = tfl.BuiltinOptions.MulOptions
    mul._fb.builtinOptions = tfl.MulOptionsT()
    add = sg.add_operator(opcode=tfl.BuiltinOperator.ADD, inputs=[t, tb], outputs=[y])
    add._fb.builtinOptionsType = tfl.BuiltinOptions.AddOptions
    add._fb.builtinOptions = tfl.AddOptionsT()
    sg.inputs, sg.outputs = [x], [y]
    return bytes(me.Model(subgraphs=[sg], description="bn f32 mul+add").build())


def int8_model(shape, a: np.ndarray, b: np.ndarray, in_q: tuple, out_q: tuple) -> bytes:
    """y = a*x + b as a 1x1 depthwise conv with per-channel int8 weights."""
    me, tfl = _editor()
    c = len(a)
    s_in, z_in = in_q
    s_out, z_out = out_q
    s_w = np.maximum(np.abs(a), 1e-12) / 127.0
    w = np.clip(np.round(a / s_w), -127, 127).astype(np.int8).reshape(1, 1, 1, c)
    bias = np.round(b / (s_in * s_w)).astype(np.int32)
    sg = me.Subgraph()
    x = sg.add_tensor(shape=shape, dtype=tfl.TensorType.INT8, name="x",
                      quantization=me.Quantization(float(s_in), int(z_in)))
    tw = sg.add_tensor(shape=(1, 1, 1, c), dtype=tfl.TensorType.INT8, data=w, name="w",
                       quantization=me.Quantization([float(s) for s in s_w], [0] * c, axis=3))
    tb = sg.add_tensor(shape=(c,), dtype=tfl.TensorType.INT32, data=bias.astype("<i4"), name="bias",
                       quantization=me.Quantization([float(s_in * s) for s in s_w], [0] * c, axis=0))
    y = sg.add_tensor(shape=shape, dtype=tfl.TensorType.INT8, name="y",
                      quantization=me.Quantization(float(s_out), int(z_out)))
    op = sg.add_operator(opcode=tfl.BuiltinOperator.DEPTHWISE_CONV_2D, inputs=[x, tw, tb], outputs=[y])
    opts = tfl.DepthwiseConv2DOptionsT()
    opts.padding = tfl.Padding.VALID
    opts.strideW = opts.strideH = 1
    opts.depthMultiplier = 1
    op._fb.builtinOptionsType = tfl.BuiltinOptions.DepthwiseConv2DOptions
    op._fb.builtinOptions = opts
    sg.inputs, sg.outputs = [x], [y]
    return bytes(me.Model(subgraphs=[sg], description="bn int8 dwconv1x1").build())


class LiteRT:
    def __init__(self, model: bytes):
        from ai_edge_litert.interpreter import Interpreter
        self.it = Interpreter(model_content=model, num_threads=1)
        self.it.allocate_tensors()
        self.inp = self.it.get_input_details()[0]["index"]
        self.out = self.it.get_output_details()[0]["index"]

    def set(self, x):
        self.it.set_tensor(self.inp, x)

    def invoke(self):
        self.it.invoke()

    def get(self):
        return self.it.get_tensor(self.out)


class TFLM:
    def __init__(self, model: bytes):
        from tflite_micro.python.tflite_micro import runtime
        self.it = runtime.Interpreter.from_bytes(model, arena_size=len(model) * 4 + 16 * 1024 * 1024)

    def set(self, x):
        self.it.set_input(x, 0)

    def invoke(self):
        self.it.invoke()

    def get(self):
        return self.it.get_output(0)


def run(quick: bool, kernels_factory) -> Section:
    """Section 1b.  `kernels_factory()` returns host.Kernels (libbnrt.so)."""
    import torch

    from .report import Section

    sec = Section("tflite", "Host: TFLite models of the same layer (TFLM interpreter, LiteRT + XNNPACK)",
                  [("dtype", ""), ("elements", "count"), ("channels", "count"),
                   ("model_bytes", "bytes"), ("c_rate", "Melem/s"), ("litert_rate", "Melem/s"),
                   ("tflm_rate", "Melem/s"), ("c_over_litert", "x"), ("c_over_litert_q1", "x"),
                   ("c_over_litert_q3", "x"), ("c_over_tflm", "x"),
                   ("c_err", "max abs vs torch"), ("litert_err", "max abs vs torch"),
                   ("tflm_err", "max abs vs torch")])
    have = available()
    missing = [f"{p} ({v})" for p, v in have.items() if v is not True]
    if missing:
        sec.skip("not installed: " + ", ".join(missing) +
                 "; `pip install tflite-micro ai-edge-litert` (both on PyPI for Python 3.11)")
        return sec
    sec.notes += [
        "Same folded layer (a, b from a BatchNorm2d's running stats, eps 1e-5) on NHWC "
        "input (1, H, W, C). f32: MUL then ADD with per-channel constants; int8: "
        "DEPTHWISE_CONV_2D 1x1 with per-channel int8 weights and int32 bias, the int8 in/out "
        "quantization equal to ours (toolkit.model.quantize). Models built with the model "
        "editor of the tflite-micro package; LiteRT with num_threads=1 (its XNNPACK delegate "
        "applies by default); TFLM is its host interpreter (reference kernels).",
        "Times are invoke() only with the input already set; C is libbnrt.so's NHWC kernel "
        "called through ctypes. Errors: f32 outputs vs torch eval on the same input; int8 "
        "outputs dequantized vs torch eval on the dequantized input (the quantization error "
        "of the layer's output, not of the input).",
    ]
    kern = kernels_factory()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _measure(sec, quick, kern)
    finally:
        torch.set_num_threads(threads)
    return sec


def _measure(sec, quick: bool, kern) -> None:
    import torch

    from .. import reference
    from ..format import spec
    from ..model.fold import fold_arrays
    from ..model.quantize import activation_qparams, quantize_layer
    from .report import Target
    from .timing import interleaved, quartiles, ratio_stats

    rng = np.random.default_rng(3)
    C = 32
    sizes = [4096] if quick else [1024, 4096, 16384, 102400, 1048576]
    rounds, min_time = (5, 0.0005) if quick else (31, 0.0005)
    sec.notes.append(f"Interleaved timing: per dtype and size, {rounds} rounds, each timing C, "
                     "LiteRT and TFLM once in a fresh random order (best of 5 back-to-back "
                     "loops of >= 0.5 ms); rates are medians, "
                     "c_over_litert is the median of the per-round ratios (q1/q3: its quartiles); "
                     "the targets are judged on the worst size's lower quartile.")
    bn = torch.nn.BatchNorm2d(C, eps=1e-5).eval()
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy(rng.uniform(0.5, 2, C).astype(np.float32)))
        bn.bias.copy_(torch.from_numpy(rng.uniform(-1, 1, C).astype(np.float32)))
        bn.running_mean.copy_(torch.from_numpy(rng.standard_normal(C).astype(np.float32)))
        bn.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 2, C).astype(np.float32)))
    a, b = fold_arrays(bn.weight.detach().numpy(), bn.bias.detach().numpy(),
                       bn.running_mean.numpy(), bn.running_var.numpy(), bn.eps, fused=True)

    def torch_eval(x_nhwc):
        with torch.no_grad():
            return bn(torch.from_numpy(x_nhwc).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()

    def _compare(row, call, model, inp, err):
        its = {}
        for key, cls in (("litert", LiteRT), ("tflm", TFLM)):
            it = cls(model)
            it.set(inp)
            it.invoke()
            row[f"{key}_err"] = err(it)
            its[key] = it.invoke
        # TFLM's reference kernels take ~0.1 s per call at 1M elements: fewer rounds there
        fns = {"c": call, "litert": its["litert"]}
        if row["elements"] <= 102400:
            fns["tflm"] = its["tflm"]
        t = interleaved(fns, rounds, min_time, seed=len(sec.rows))
        if "tflm" not in t:
            t2 = interleaved({"c": call, "tflm": its["tflm"]}, 3, min_time)
            t["tflm"], t["c_tflm"] = t2["tflm"], t2["c"]
        n = row["elements"]
        row["c_rate"] = n / quartiles(t["c"])[1] / 1e6
        for key in ("litert", "tflm"):
            row[f"{key}_rate"] = n / quartiles(t[key])[1] / 1e6
            st = ratio_stats(t[key], t.get(f"c_{key}", t["c"]))
            row[f"c_over_{key}"] = st["median"]
            if key == "litert":
                row["c_over_litert_q1"], row["c_over_litert_q3"] = st["q1"], st["q3"]

    for n in sizes:
        hw = max(1, n // C)
        shape = (1, hw, 1, C)
        x = rng.standard_normal(shape).astype(np.float32)
        ref = torch_eval(x)
        # ---- f32
        y = np.empty_like(x)
        call = kern.bind("f32", x.reshape(1, hw, C), y.reshape(1, hw, C), C, hw, "nhwc", a, b,
                         spec.LAYER_FLAG_FMA)
        call()
        row = {"dtype": "f32", "elements": x.size, "channels": C,
               "c_err": float(np.abs(y - ref).max())}
        model = f32_model(shape, a, b)
        row["model_bytes"] = len(model)
        _compare(row, call, model, x, lambda it, ref=ref: float(np.abs(it.get() - ref).max()))
        sec.rows.append(row)
        # ---- int8
        lo, hi = float(x.min()), float(x.max())
        in_q = activation_qparams(lo, hi, "s8")
        q = reference.quantize(x, *in_q, "s8")
        xd = reference.dequantize(q, *in_q)
        ref8 = torch_eval(xd)
        out_q = activation_qparams(float(ref8.min()), float(ref8.max()), "s8")
        qp = quantize_layer(a, b, "s8", in_q, out_q)
        yq = np.empty_like(q)
        call = kern.bind("s8", q.reshape(1, hw, C), yq.reshape(1, hw, C), C, hw, "nhwc",
                         qp.mult, qp.bias, qp.shift)
        call()
        row = {"dtype": "s8", "elements": x.size, "channels": C,
               "c_err": float(np.abs(reference.dequantize(yq, *out_q) - ref8).max())}
        model = int8_model(shape, a, b, in_q, out_q)
        row["model_bytes"] = len(model)
        _compare(row, call, model, q,
                 lambda it, out_q=out_q, ref8=ref8:
                 float(np.abs(reference.dequantize(it.get(), *out_q) - ref8).max()))
        sec.rows.append(row)
    for d in ("f32", "s8"):
        sel = [r for r in sec.rows if r["dtype"] == d]
        if not sel:
            sec.targets.append(Target(f"{d} C vs LiteRT/XNNPACK (worst size)", None, "x", ">=", 1.0))
            continue
        w = min(sel, key=lambda r: r["c_over_litert_q1"])
        sec.targets.append(Target(
            f"{d} C vs LiteRT/XNNPACK, >= 1k elements (worst size)", w["c_over_litert_q1"], "x",
            ">=", 1.0, f"worst at {w['elements']} elements",
            {"q1": w["c_over_litert_q1"], "median": w["c_over_litert"],
             "q3": w["c_over_litert_q3"], "rounds": rounds}))

