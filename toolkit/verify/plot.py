"""--plot: per-layer errors as a PNG (matplotlib, Agg backend)."""
from __future__ import annotations

import math
from pathlib import Path

from ..fsutil import atomic_path
from .metrics import LSB_BINS


def write_plot(report: dict, path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = report["layers"]
    names = [e["name"] for e in layers]
    integer = report["dtype"] != "f32"
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    err = [e["max_abs_err"] if isinstance(e["max_abs_err"], float) else 0.0 for e in layers]
    axes[0].bar(range(len(names)), err, color=["tab:green" if e["pass"] else "tab:red" for e in layers])
    axes[0].set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    axes[0].set_ylabel("max |device - torch eval|")
    axes[0].set_title("largest error per layer (green: pass)")
    if integer:
        labels = [str(i) for i in range(LSB_BINS)] + [f">={LSB_BINS}"]
        width = 0.8 / max(1, len(layers))
        for k, e in enumerate(layers):
            if "lsb_histogram" in e:     # absent: the layer did not run (verify --kernel)
                axes[1].bar([i + k * width for i in range(len(labels))], e["lsb_histogram"], width, label=e["name"])
        axes[1].set_xticks([i + 0.4 - width / 2 for i in range(len(labels))], labels)
        axes[1].set_yscale("log")
        axes[1].set_xlabel("|device - round(float_ref/scale) - zp| (LSB)")
        axes[1].set_ylabel("elements")
        axes[1].legend(fontsize=7)
    else:
        ulp = [v if isinstance(v, (int, float)) and math.isfinite(v) else 0
               for v in (e.get("max_ulp_err") for e in layers)]    # None: the layer did not run
        axes[1].bar(range(len(names)), ulp)
        axes[1].set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
        axes[1].set_ylabel("max ULP from torch eval")
    fig.suptitle(f"toolkit verify: {report['board']}, {report['dtype']}, {report['samples']} samples")
    fig.tight_layout()
    path = Path(path)
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=100)
    finally:
        plt.close(fig)
