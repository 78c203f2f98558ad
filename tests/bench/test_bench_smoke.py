"""Smoke test of `toolkit bench --quick`: the files are well-formed, every
section is there with units and targets, and the figures agree with each
other and with independent sources (the spec, the framing, the ELF).
No timing assertions: speed targets are reported, never tested."""
from __future__ import annotations

import json
import math
import re

import pytest

from toolkit.bench import SECTION_KEYS
from toolkit.cli import main
from toolkit.format import spec

OPS = {">=": lambda v, t: v >= t, "<=": lambda v, t: v <= t}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    assert main(["bench", "--quick", "--out", str(out)]) == 0
    rep = json.loads((out / "bench.json").read_text())
    md = (out / "bench.md").read_text()
    return rep, md, out


def _section(rep, key):
    return next(s for s in rep["sections"] if s["key"] == key)


def test_no_stray_files(run):
    _, _, out = run
    assert sorted(p.name for p in out.iterdir()) == ["bench.json", "bench.md"]


def test_header_records_machine_and_tools(run):
    rep, _, _ = run
    assert rep["schema"] == 1 and rep["quick"] is True
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", rep["date"])
    m = rep["machine"]
    import torch
    assert m["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert isinstance(m["cores"], int) and m["cores"] >= 1
    assert m["cpu"] and m["host_cc"].startswith("gcc")
    for core in ("m3", "m4", "m7"):
        assert f"-mcpu=cortex-{core}" in m[f"flags_{core}"]


def test_every_section_present_with_units_and_targets(run):
    rep, _, _ = run
    assert [s["key"] for s in rep["sections"]] == list(SECTION_KEYS)
    for s in rep["sections"]:
        assert s["status"] in ("ok", "skipped"), (s["key"], s["notes"])
        if s["status"] == "skipped":
            assert any(n.startswith("Skipped: ") and len(n) > 12 for n in s["notes"])
            continue
        names = [c["name"] for c in s["columns"]]
        assert all(isinstance(c["unit"], str) for c in s["columns"])
        assert s["rows"], s["key"]
        for r in s["rows"]:
            assert set(r) <= set(names), (s["key"], set(r) - set(names))
            for k, v in r.items():
                assert not (isinstance(v, float) and math.isnan(v)), (s["key"], k)
        for t in s["targets"]:
            assert t["op"] in OPS and isinstance(t["threshold"], (int, float)) and t["unit"]
            want = None if t["value"] is None else OPS[t["op"]](t["value"], t["threshold"])
            assert t["met"] == want, t
    keyed = {s["key"]: s for s in rep["sections"]}
    for key in ("host", "cortexm", "footprint", "modelsize", "link"):
        assert keyed[key]["targets"], key


def test_markdown_matches_json(run):
    rep, md, _ = run
    for i, s in enumerate(rep["sections"], 1):
        assert f"## {i}. {s['title']}" in md
    n_targets = sum(len(s["targets"]) for s in rep["sections"])
    block = md.split("## Targets", 1)[1].split("\n## ", 1)[0]
    rows = [l for l in block.splitlines()
            if l.startswith("| ") and not l.startswith(("| section", "| ---"))]
    assert len(rows) == n_targets
    verdicts = [t["met"] for s in rep["sections"] for t in s["targets"]]
    for line, met in zip(rows, verdicts):
        assert line.rstrip().endswith({True: "| met |", False: "| **NOT met** |",
                                       None: "| not measured |"}[met])
    # every table is rectangular
    for table in re.findall(r"((?:^\|.*\|\n)+)", md, re.M):
        widths = {len(re.split(r"(?<!\\)\|", l)) for l in table.strip().splitlines()}
        assert len(widths) == 1, table[:200]


def test_host_ratios_are_consistent(run):
    rep, _, _ = run
    s = _section(rep, "host")
    if s["status"] != "ok":
        pytest.skip("host section skipped")
    for r in s["rows"]:
        # medians of interleaved rounds: the ratio is a median of per-round ratios
        assert r["c_over_torch_q1"] <= r["c_over_torch"] <= r["c_over_torch_q3"]
        assert r["c_rate"] == pytest.approx(r["elements"] / r["c_call"], rel=1e-9)
        assert r["torch_f32_rate"] == pytest.approx(r["elements"] / r["torch_call"], rel=1e-9)
    for t in s["targets"]:                        # timed targets judged on the worst quartile
        sp = t["spread"]
        assert sp["q1"] <= sp["median"] <= sp["q3"] and sp["rounds"] >= 5
        assert t["value"] == (sp["q1"] if t["op"] == ">=" else sp["q3"])
    assert {r["dtype"] for r in s["rows"]} == {"f32", "s8", "s16"}
    assert {r["layout"] for r in s["rows"]} == {"nchw", "nhwc"}


def test_cortexm_counts_are_whole_instructions(run):
    rep, _, _ = run
    s = _section(rep, "cortexm")
    if s["status"] != "ok":
        pytest.skip("cortexm section skipped")
    assert {r["core"] for r in s["rows"]} == {"m3", "m4", "m7"}
    for r in s["rows"]:
        total = r["instructions_per_element"] * (r["N2"] - r["N1"])
        assert abs(total - round(total)) < 0.01 * (r["N2"] - r["N1"]), r   # a difference of two counts
        if not r["kernel"].startswith("f32"):
            # integer kernels: at least a load, a multiply-accumulate and a store per element
            assert r["instructions_per_element"] >= 3
        elif r["core"] != "m3":
            # FPU kernels: at least one VFMA/VMUL per element (VLDM/VSTM move four at once)
            assert r["instructions_per_element"] >= 1


def test_model_size_agrees_with_the_spec(run):
    rep, _, _ = run
    s = _section(rep, "modelsize")
    rows = {r["format"]: r for r in s["rows"]}
    for d in ("f32", "s8", "s16"):
        r = rows[f".bnm {d}"]
        assert r["per_channel"] == spec.PARAM_BYTES_PER_CHANNEL[d]
        # header + one layer entry at least, and the parameters padded to 8 bytes
        assert r["overhead"] >= spec.HEADER_SIZE + spec.LAYER_SIZE
        assert r["size_c16"] % spec.PARAM_ALIGN == 0 or r["overhead"] < 200


def test_link_framing_figures(run):
    from toolkit.protocol import framing
    rep, _, _ = run
    s = _section(rep, "link")
    r = s["rows"][0]
    assert r["efficiency"] == pytest.approx(r["payload_bytes"] / r["wire_bytes"])
    # independent lower bound: header + CRC + delimiter + RUN headers, both ways
    fixed = 2 * (spec.FRAME_OVERHEAD + 1) + spec.RUN.size + spec.RUN_RESPONSE.size
    assert r["wire_bytes"] >= r["payload_bytes"] + fixed
    # COBS adds at most one byte per 254 plus one
    assert r["wire_bytes"] <= r["payload_bytes"] + fixed + 2 * (2 + (1024 + 24) // 254)
    assert framing.build_frame(1, 0, bytes(1024)).endswith(b"\x00")


def test_footprint_parts_add_up(run):
    rep, _, _ = run
    s = _section(rep, "footprint")
    if s["status"] != "ok":
        pytest.skip("footprint section skipped")
    by_board = {}
    for r in s["rows"]:
        by_board.setdefault(r["board"], {})[r["part"]] = r
    assert len(by_board) == 1   # quick mode: one board
    for parts in by_board.values():
        both = parts["core + protocol"]
        assert both["flash"] == parts["core"]["flash"] + parts["protocol"]["flash"]
        assert parts["core"]["flash"] > 0 and parts["protocol"]["flash"] > 0


def test_footprint_map_covers_the_elf(run):
    """The map items (with alignment fill) add up exactly to the image's flash
    sections, read independently from the ELF section headers."""
    from toolkit.bench import firmware_info, footprint
    from toolkit.bench.elf import Elf
    rep, _, _ = run
    if _section(rep, "footprint")["status"] != "ok":
        pytest.skip("footprint section skipped")
    d = firmware_info.BUILD_DIR / "bench" / "fw" / firmware_info.CORE_BOARD["m4"]
    items = footprint.parse_map((d / "firmware.map").read_text())
    mapped = sum(i["size"] for i in items if i["out"].startswith(footprint.FLASH_SECTIONS + (".data",)))
    elf = Elf.read(d / "firmware.elf")
    flash = sum(s.size for s in elf.sections
                if s.name in (".text", ".ARM.exidx", ".data") and s.flags & 0x2)
    assert mapped == flash
    fill = sum(i["size"] for i in items if i["file"] == "(fill)" and i["out"] == ".text")
    assert fill < 0.05 * flash
