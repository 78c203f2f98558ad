"""`toolkit verify --kernel file.c:NAME`: the user's own BN function, compiled
into a harness image for the board, run on every BN layer's inputs with the
layer's tensors as PyTorch stores them, compared with torch eval, and, where
it differs, the mistake named (diagnose.py, docs/verify-your-code.md).

Pass rule: every output equal to torch eval bit for bit, or within --max-ulp
units in the last place of the computation's largest term (|x*a|, |mean*a|,
|bias|, |y|; diagnose.term_ulp).  ULP of y itself would be no measure here: after
a cancellation y is tiny, and a correct kernel that rounds differently is then
hundreds of ULP of y away (the report keeps that figure as max_ulp_err_of_y).
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import re
import shlex
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__, reference
from ..boards import Board, get_board, start_board
from ..errors import BoardError, InputError, ProtocolError, ToolMissing, UserCodeError
from ..firmware_build import CROSS_PACKAGES, require_tool
from ..resources import build_dir, firmware_dir
from ..protocol import user as proto
from ..protocol.client import DEFAULT_RETRIES, DEFAULT_TIMEOUT, Client
from . import kernel_compare as compare
from .diagnose import Layer

BUILD_TIMEOUT = 300
DEFAULT_CALL_TIMEOUT = 10.0
EXIT_FAULT = 3          # the Cortex-M fault handler's semihosting exit status (ports/cortex-m/startup.c)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Kernel:
    source: Path | None    # None: --port to a board that already runs the code
    name: str
    text: str            # as the user wrote it (file.c:NAME)


def parse_kernel(text: str) -> Kernel:
    path, sep, name = text.rpartition(":")
    if not sep or not path:
        raise InputError(f"--kernel {text!r} has no function name", "write it as --kernel my_bn.c:my_bn")
    if not _IDENT.match(name):
        raise InputError(f"--kernel {text!r}: {name!r} is not a C function name",
                         "write it as --kernel my_bn.c:my_bn")
    src = Path(path)
    if not src.is_file():
        raise InputError(f"kernel source {path} does not exist", "give the path of your .c file")
    try:
        code = src.read_text(errors="replace")
    except OSError as e:
        raise InputError(f"cannot read kernel source {path}: {e.strerror or e}", "check the path") from None
    if not re.search(rf"\b{re.escape(name)}\s*\(", code):
        raise InputError(f"{path} defines no function {name}",
                         f"give the name of your BN function: --kernel {path}:NAME")
    return Kernel(src.resolve(), name, text)


def probe_label(text: str) -> Kernel:
    """--kernel LABEL with --port: the board runs a harness or an application
    with the probe library (bnrt_probe.h); nothing is built."""
    return Kernel(None, text, text)


def build_app(board: Board, sources, out: Path, cflags: str = "") -> Path:
    """Link an application with the probe library for a Cortex-M board
    (`make user-app`); returns the ELF."""
    board = get_board(board) if isinstance(board, str) else board
    require_tool("make", "make")
    require_tool("arm-none-eabi-gcc", CROSS_PACKAGES)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    srcs = " ".join(str(Path(s).resolve()) for s in sources)
    cmd = ["make", "-s", "--no-print-directory", "-C", str(firmware_dir()), "user-app", f"BUILD={build_dir()}",
           f"BOARD={board.name}", f"ARM_BOARDS_DIR={board.path.parent}", f"APP_SRCS={srcs}", f"USER_OUT={out}",
           f"USER_CFLAGS={cflags}"]
    build_dir().mkdir(parents=True, exist_ok=True)
    with open(build_dir() / ".user-app.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False)
    if r.returncode != 0:
        out_text = (r.stderr + r.stdout).strip()
        first = next((l for l in out_text.splitlines() if ": error:" in l), out_text.splitlines()[-1:] or [""])
        raise UserCodeError(f"the application does not build for {board.name}: "
                            f"{first if isinstance(first, str) else first[0]}",
                            "fix the code, then build again", out_text)
    return out / "firmware.elf"


def harness_capacity(board: Board) -> tuple[int, int]:
    """(channels, elements per buffer) a Cortex-M harness image gets: what the
    board's RAM leaves after the two model slots and a reserve for the frame
    buffers, the train-mode state and the stack (32 KiB; 128 KiB on boards
    with 1 MiB or more)."""
    ram = int(board.get("memory.ram_size", 0))
    slots = 2 * int(board.get("build.model_slot_size", 0))
    big = ram >= (1 << 20)
    channels = 1024 if big else 256
    free = ram - slots - (131072 if big else 32768) - 16 * channels
    elements = min(1 << 18, free // 8)
    if elements < 256:
        raise InputError(f"board {board.name} has no RAM left for the user-kernel harness",
                         "pick a board with more RAM")
    return channels, elements


def _tidy(output: str, kernel: Kernel, entry: Path) -> str:
    lines = [l for l in output.splitlines()
             if l.strip() and not l.startswith(("make", "arm-none-eabi-gcc ", "gcc ", "collect2"))]
    text = "\n".join(lines).replace(str(kernel.source), kernel.text.rpartition(":")[0])
    return text.replace(str(entry), "<harness>")


def build_harness(board: Board, kernel: Kernel, cflags: str = "", dtype: str = "f32") -> Path:
    """Compile the user's file into the harness image of `board`; returns the
    simulator binary (kind sim) or the ELF (Cortex-M)."""
    require_tool("make", "make")
    if board.kind == "sim":
        require_tool("gcc", "gcc")
        target, image, extra = "user-sim", "bnrt-user-sim", []
    elif board.kind in ("qemu", "serial"):
        require_tool("arm-none-eabi-gcc", CROSS_PACKAGES)
        channels, elements = harness_capacity(board)
        target, image = "user-board", "firmware.elf"
        extra = [f"BOARD={board.name}", f"ARM_BOARDS_DIR={board.path.parent}", f"USER_CHANNELS={channels}",
                 f"USER_ELEMENTS={elements}"]
    else:
        raise InputError(f"board {board.name!r} (kind {board.kind}) cannot run C code",
                         "use host-sim or a Cortex-M board (`toolkit boards`)")
    key = hashlib.sha256(f"{kernel.source}\0{kernel.name}\0{cflags}\0{dtype}".encode()).hexdigest()[:12]
    root = build_dir() / "user" / board.name
    out = root / f"{kernel.name}-{key}"
    out.mkdir(parents=True, exist_ok=True)
    entry = out / "entry.c"
    body = ('#include "bnrt_user.h"\n'
            f'#include "{kernel.source}"\n'
            f"const bnrt_user_bn_f32_fn bnrt_user_entry_f32 = {kernel.name if dtype == 'f32' else '0'};\n"
            f"const bnrt_user_bn_s8_fn bnrt_user_entry_s8 = {kernel.name if dtype == 's8' else '0'};\n")
    if not entry.exists() or entry.read_text() != body:
        entry.write_text(body)
    cmd = ["make", "-s", "--no-print-directory", "-C", str(firmware_dir()), target, f"BUILD={build_dir()}",
           f"USER_ENTRY={entry}", f"USER_OUT={out}", f"USER_CFLAGS={cflags}", *extra]
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise ToolMissing(f"building the harness for {board.name} took over {BUILD_TIMEOUT} s",
                              "run the build again on a less busy machine") from None
    if r.returncode != 0:
        output = r.stderr + r.stdout
        details = _tidy(output, kernel, entry)
        if cflags and re.search(r"unrecognized (command[- ]line )?option|invalid argument|cannot find", output):
            first = next((l for l in details.splitlines() if "error" in l), "the compiler rejected them")
            raise UserCodeError(f"--kernel-cflags {cflags!r} do not work for {board.name}: {first.strip()}",
                                "give flags this compiler accepts", details)
        if str(kernel.source) in output or str(entry) in output or "undefined reference" in output \
                or "multiple definition" in output:
            path = kernel.text.rpartition(":")[0]
            if re.search(rf"\W{kernel.name}\W undeclared here", output):
                raise UserCodeError(f"{path} has no function {kernel.name}",
                                    "give the name of the function your file defines: --kernel FILE.c:NAME",
                                    details)
            first = next((l for l in details.splitlines() if ": error:" in l or "undefined reference" in l),
                         details.splitlines()[0] if details else "the compiler failed")
            if "incompatible pointer type" in first and "<harness>" in first:
                raise UserCodeError(f"{kernel.text} does not have the {dtype} signature of bnrt_user.h",
                                    f"write it as in {firmware_dir() / 'include' / 'bnrt_user.h'}, or pick the other "
                                    "signature with --dtype f32 or s8", details)
            raise UserCodeError(f"{kernel.text} does not build for {board.name}: {first.strip()}",
                                f"fix the code (the signature is in {firmware_dir() / 'include' / 'bnrt_user.h'}) "
                                "or the flags given with --kernel-cflags", details)
        raise ToolMissing(f"building the harness for {board.name} failed: "
                          f"{(details.splitlines() or ['make failed'])[-1]}",
                          f"run `{shlex.join(cmd)}` to see the full output")
    return out / image


@contextlib.contextmanager
def _board(board: Board, image: Path | None, port: str | None, timeout: float, retries: int):
    """Yield (Client, session or None): the harness started here, or --port."""
    with contextlib.ExitStack() as stack:
        session = None
        if port is None:
            opts = {"binary": image} if board.kind == "sim" else {"elf": image}
            session = stack.enter_context(start_board(board, **opts))
            port = session.url
        client = stack.enter_context(Client(port, timeout=timeout, retries=retries))
        yield client, session


def _stopped_why(session, call_timeout: float) -> tuple[str, str]:
    """("crash" | "hang", sentence) after the board stopped answering a CALL."""
    proc = getattr(session, "proc", None) if session is not None else None
    if proc is not None:
        try:
            code = proc.wait(0.5)
        except subprocess.TimeoutExpired:
            code = None
        if code is not None:
            if code < 0:
                sig = signal.Signals(-code).name
                return "crash", f"your function crashed the board ({sig}); the board stopped"
            if code == EXIT_FAULT:
                return "crash", ("your function crashed the board (HardFault: a bad address or instruction); "
                                 "the board stopped")
            return "crash", f"your function stopped the board (exit status {code})"
        session.stop()
        return "hang", (f"your function did not return within {call_timeout:g} s (an endless loop?); "
                        "the board was stopped")
    return "hang", (f"no answer within {call_timeout:g} s after calling your function: it crashed or loops "
                    "forever; reset the board")


def _calls(n: int, per_sample: int, max_elements: int) -> list[tuple[int, int]]:
    k = max(1, max_elements // per_sample)
    return [(lo, min(n, lo + k)) for lo in range(0, n, k)] or [(0, 0)]


def _layer_entry(bn, name, x) -> dict:
    spatial = int(np.prod(x.shape[2:], dtype=np.int64)) if x.ndim > 2 else 1
    return {"name": name, "kind": bn.kind, "channels": int(bn.channels), "shape": list(x.shape),
            "elements": int(x.size), "spatial": spatial, "max_abs_err": None, "snr_db": None,
            "max_ulp_err": None, "bit_exact": None, "device_ticks": None, "calls": None, "pass": False}


def verify_kernel(model, inputs, kernel: Kernel | str, *, dtype: str = "f32", board: str = "host-sim",
                  port: str | None = None, cflags: str = "", max_ulp: int = 0, max_lsb_err: int = 1,
                  timeout: float = DEFAULT_TIMEOUT, retries: int = DEFAULT_RETRIES,
                  call_timeout: float = DEFAULT_CALL_TIMEOUT, on_progress=None) -> dict:
    """Run the user's kernel (the f32 or the s8 signature of bnrt_user.h) on
    every BN layer of `model`; returns the report dict."""
    import torch

    from ..model.bn import find_bn
    from ..model.capture import capture_calls, merged
    from ..model.fold import cpu_capability
    from .run import _train_gap

    if isinstance(kernel, str):
        kernel = probe_label(kernel) if port is not None and ":" not in kernel else parse_kernel(kernel)
    progress = on_progress or (lambda *a: None)
    b = get_board(board)
    if port is None and b.kind == "serial":
        raise InputError(f"{board} is a real board: the toolkit cannot start it",
                         "flash the harness image yourself and give its --port")
    if dtype not in ("f32", "s8"):
        raise InputError(f"--kernel has an f32 and an s8 signature, not {dtype}", "use --dtype f32 or s8")
    image = build_harness(b, kernel, cflags, dtype) if port is None else None
    calls = capture_calls(model, inputs)      # one forward pass, also for the s8 calibration
    captured = merged(calls)
    bns = find_bn(model)
    blob_layers = []
    if dtype == "s8":       # the quantization `toolkit export --dtype s8` chooses for these inputs
        from ..format.reader import read_model
        from ..model.export import export
        exported = export(model, dtype="s8", layout="nchw", calib=inputs, captured=calls)
        blob_layers = read_model(exported.blob).layers
    modules = dict(model.named_modules()) if isinstance(model, torch.nn.Module) else {}
    report = {"board": board, "dtype": dtype, "layout": "nchw", "kernel": kernel.text,
              "kernel_cflags": cflags, "samples": int(captured[0][1].shape[0]) if captured else 0,
              "pass": False, "cpu_capability": cpu_capability(), "torch_version": torch.__version__,
              "toolkit_version": __version__, "thresholds": {"max_ulp": max_ulp, "max_lsb_err": max_lsb_err},
              "warnings": [], "layers": []}
    total = sum(x.size for _, x, _ in captured)
    done = 0
    with _board(b, image, port, timeout, retries) as (client, session):
        info = client.board
        report["board"] = info.name or board
        stopped = None
        for index, ((name, x_nc, y_nc), bn) in enumerate(zip(captured, bns)):
            entry = _layer_entry(bn, name, x_nc)
            report["layers"].append(entry)
            if stopped:
                entry["fail_reasons"] = [f"not run: {stopped}"]
                continue
            module = modules.get(name)
            y_ref = y_nc          # the output the model itself produced
            layer = Layer(bn.weight, bn.bias, bn.running_mean, bn.running_var, float(bn.eps))
            x = np.ascontiguousarray(x_nc, np.float32)
            quant = None
            if dtype == "s8":
                bl = blob_layers[index]
                quant = (bl.in_scale, bl.in_zero_point, bl.out_scale, bl.out_zero_point)
                entry["quantization"] = dict(zip(("in_scale", "in_zero_point", "out_scale", "out_zero_point"),
                                                 (float(quant[0]), int(quant[1]), float(quant[2]), int(quant[3]))))
                x = reference.quantize(x, quant[0], quant[1], "s8")
            n, spatial = x.shape[0], entry["spatial"]
            try:
                cap = proto.setup(client, layer, dtype, quant)
            except ProtocolError as e:
                too_many = getattr(e, "status", None) == "ERR_CHANNELS"
                why = (f"{bn.channels} channels are more than the harness on this board holds; host-sim holds 65536"
                       if too_many else f"the board refused the layer: {e}")
                entry["fail_reasons"] = [why]
                continue
            if bn.channels * spatial > cap.max_elements:
                entry["fail_reasons"] = [(f"too large for the harness: one sample has {bn.channels * spatial} "
                                          f"floats; the harness takes {cap.max_elements} per call")]
                continue
            calls = _calls(n, bn.channels * spatial, cap.max_elements)
            parts, ticks = [], 0
            try:
                for lo, hi in calls:
                    proto.upload(client, x[lo:hi],
                                 progress=lambda d, t, base=done: progress("run", base + d, total))
                    ticks += proto.call(client, index, hi - lo, spatial, call_timeout)
                    parts.append(proto.download(client, x[lo:hi].size, dtype))
                    done += x[lo:hi].size
            except (BoardError, ProtocolError) as e:
                kind, why = _stopped_why(session, call_timeout)
                entry.update(error=kind, fail_reasons=[why])
                if not isinstance(e, BoardError):
                    entry["fail_reasons"].append(str(e))
                stopped = f"the board stopped at layer {name}"
                continue
            got = np.concatenate(parts).reshape(x.shape)
            entry["calls"] = [list(c) for c in calls]
            entry["device_ticks"] = int(ticks) if info.counter_kind else None
            entry["train_vs_eval_max_abs"] = _train_gap(module, x_nc, y_ref)
            if dtype == "f32":
                compare.check_f32(entry, layer, x, got, y_ref, calls, max_ulp)
            else:
                compare.check_s8(entry, layer, bn, x, got, y_ref, quant, calls, max_lsb_err)
        report["link"] = {"retries": client.retries_used}
    report["pass"] = bool(report["layers"]) and all(e["pass"] for e in report["layers"])
    return report
