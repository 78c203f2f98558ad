"""Markers every test gets from where it lives and what it uses, so the fast
loop is one command (CONTRIBUTING.md):

  qemu         starts QEMU or builds Cortex-M images: a file named *qemu*, a
               `bnrt_board` of kind qemu or serial, or an explicit mark
  micropython  runs MicroPython: tests/mpy/, a file named *micropython*, or a
               `bnrt_board` of kind micropython
  slow         longer than a few seconds on a loaded 2-core machine (listed
               below by measurement, or marked explicitly)

    python -m pytest -m "not qemu and not micropython and not slow"   # fast loop
"""
from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
# Measured with --durations on 2 loaded cores: each takes more than about 3 s.
SLOW = {
    "bench/test_bench_smoke.py",
    "c/test_library_builds.py",
    "farm/test_farm.py",
    "packaging/test_model_resolution_and_flash.py",
    "packaging/test_plugin_coexistence.py",
    "c/test_c_tools.py::test_sanitizers_find_nothing",
    "c/test_c_tools.py::test_cortex_m_builds_compile_warning_free",
    "c/test_mve_in_place.py",
    "fuzz/test_fuzz_smoke.py",
    "reliability/test_soak.py",
    "user/test_kernel_sim.py",
}
QEMU_TESTS = {   # files (all their tests) or single tests
    "c/test_c_cortexm.py",
    "c/test_c_tools.py::test_cortex_m_builds_compile_warning_free",
    "c/test_mve_in_place.py",
    "hil/test_boot_model.py",
    "hil/test_deploy_example.py",
    "hil/test_microbit.py",
    "packaging/test_model_resolution_and_flash.py::test_two_projects_flash_the_same_board_and_stop_only_their_own",
    "packaging/test_resource_paths.py::test_a_project_board_builds_outside_the_toolkit_tree",
    "hil/test_tooling.py::test_build_reports_memory_within_the_board",
    "hil/test_tooling.py::test_flash_leaves_qemu_running_until_stop",
}

MICROPYTHON_TESTS = {"hil/test_microbit.py"}


def _board_kind(item) -> str | None:
    callspec = getattr(item, "callspec", None)
    name = callspec.params.get("bnrt_board") if callspec is not None else None
    if name is None:
        return None
    from toolkit.boards import load_boards

    board = load_boards().get(name)
    return board.kind if board is not None else None


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(str(item.fspath)).resolve()
        try:
            rel = path.relative_to(TESTS).as_posix()
        except ValueError:        # a test outside tests/ (pytester)
            continue
        node = f"{rel}::{item.originalname}"
        kind = _board_kind(item)
        if "qemu" in path.name or rel in QEMU_TESTS or node in QEMU_TESTS or kind in ("qemu", "serial"):
            item.add_marker(pytest.mark.qemu)
        if rel.startswith("mpy/") or "micropython" in path.name or rel in MICROPYTHON_TESTS \
                or kind == "micropython":
            item.add_marker(pytest.mark.micropython)
        if rel in SLOW or node in SLOW:
            item.add_marker(pytest.mark.slow)
