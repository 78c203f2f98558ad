"""`toolkit bench [--quick] [--out DIR]`: benchmarks -> DIR/bench.json and DIR/bench.md."""
from __future__ import annotations

import shutil
from pathlib import Path

import click

from ..errors import InputError
from . import options

from ..bench import SECTION_KEYS as SECTIONS


@click.command("bench")
@click.option("--quick", is_flag=True,
              help="Smoke mode: tiny sizes, one board, seconds instead of minutes (what CI runs).")
@click.option("--out", "out_dir", default="bench-results", show_default=True, metavar="DIR",
              help="Folder for bench.json and bench.md (created; files replaced atomically).")
@click.option("--section", "sections", multiple=True, type=click.Choice(SECTIONS),
              help="Run only these sections (repeatable); default: all.")
@click.option("--copy-md", default=None, metavar="PATH",
              help="Also copy bench.md to PATH (e.g. docs/bench.md).")
@options.paths
def command(quick, out_dir, sections, copy_md):
    """Measure the runtime: host kernels vs torch/numpy (and TFLite when installed),
    Cortex-M instructions per element (unicorn), firmware footprint, model size,
    link efficiency and the MicroPython module.  Prints every target with its
    measured value and whether it is met."""
    from .. import bench

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out_dir} exists and is not a folder", "choose a folder path")
    if copy_md and Path(copy_md).is_dir():
        raise InputError(f"--copy-md {copy_md} is a directory", "give a file name, e.g. docs/bench.md")
    cmd = "toolkit bench" + (" --quick" if quick else "") + \
        "".join(f" --section {s}" for s in sections)
    rep, j, md = bench.run_bench(quick=quick, out_dir=out, sections=sections or None,
                                 progress=lambda m: click.echo(m, err=True), command=cmd)
    click.echo(f"machine: {rep['machine']['cpu']}, {rep['machine']['cores']} cores, "
               f"torch {rep['machine']['torch']} ({rep['machine']['torch_cpu_capability']})")
    for key, t in bench.targets(rep):
        click.echo(f"[{key}] {t.line()}")
    for s in rep["sections"]:
        if s["status"] != "ok":
            click.echo(f"[{s['key']}] {s['status']}: " + " ".join(
                n for n in s["notes"] if n.startswith(("Skipped", "Error"))))
    if copy_md:
        dest = Path(copy_md)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        shutil.copyfile(md, tmp)
        tmp.replace(dest)
    click.echo(f"wrote {j} and {md} in {rep['duration_s']} s")
