"""Install like a user: build the wheel, install it (not editable) into a
fresh virtual environment, and from a folder outside the repository list the
boards, verify the example model on host-sim and on QEMU, and run a user
project's HIL test (with a board of its own) through the pytest plugin.
Nothing may be written into site-packages.

The venv reuses this interpreter's installed packages (torch, numpy, ...)
through a plain path entry, so the already installed editable toolkit's
import hook (.pth code) is not run and the venv sees only the wheel's
toolkit."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

import toolkit
from toolkit.resources import checkout_root

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(checkout_root() is None, reason="needs the source checkout")]
ROOT = Path(toolkit.__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "LICENSE", "README.md",
           "toolkit", "firmware", "boards", "micropython", "docs")
SKIP = shutil.ignore_patterns("build", "__pycache__", "*.pyc", "*.egg-info", ".*")
HAVE_QEMU = bool(shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc"))


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        (shutil.copytree(ROOT / name, src / name, ignore=SKIP) if (ROOT / name).is_dir()
         else shutil.copy2(ROOT / name, src / name))
    # As `python -m build` does: the sdist first, then the wheel from the unpacked sdist.
    r = subprocess.run([sys.executable, "-c", "import sys; from setuptools import build_meta as b; "
                        "print(b.build_sdist(sys.argv[1]))", str(tmp / "dist")],
                       cwd=src, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    sdist = tmp / "dist" / r.stdout.strip().splitlines()[-1]
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp / "unpacked", filter="data")
    unpacked = next((tmp / "unpacked").iterdir())
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                        str(unpacked), "-w", str(tmp / "dist")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    wheel = next((tmp / "dist").glob("bnrt_toolkit-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    ours = [sysconfig.get_paths()["purelib"], *site.getsitepackages(), site.getusersitepackages()]
    ours += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != ROOT]
    (purelib / "_outer_site_packages.pth").write_text("\n".join(dict.fromkeys(ours)) + "\n")
    r = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed",
                        "--no-warn-script-location", str(wheel)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "BUILD", "BNRT_BUILD_DIR",
                                                            "BNRT_BOARDS_PATH")}
    env.update(XDG_CACHE_HOME=str(tmp / "cache"), XDG_RUNTIME_DIR=str(tmp / "run"),
               PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}")
    (tmp / "run").mkdir()
    project = tmp / "project"
    project.mkdir()
    before = _tree(purelib)
    yield {"wheel": wheel, "sdist": sdist, "venv": venv, "python": python, "purelib": purelib, "env": env,
           "project": project, "cache": tmp / "cache"}
    assert _tree(purelib) == before, "something was written into site-packages"


def run(inst, *cmd, timeout=300):
    return subprocess.run([str(c) for c in cmd], cwd=inst["project"], env=inst["env"],
                          capture_output=True, text=True, timeout=timeout)


def test_the_wheel_carries_what_the_cli_needs(installed):
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    for need in ("toolkit/_data/firmware/Makefile", "toolkit/_data/firmware/include/bnrt.h",
                 "toolkit/_data/firmware/mk/arm.mk", "toolkit/_data/boards/host-sim/board.toml",
                 "toolkit/_data/boards/qemu-mps2-an386/board.c", "toolkit/_data/micropython/bnrt.py",
                 "toolkit/examples/tiny.py"):
        assert need in names, need
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not [n for n in names if "/build/" in n or n.endswith((".o", ".so"))]
    with tarfile.open(installed["sdist"]) as tar:
        members = {m.split("/", 1)[1] for m in tar.getnames() if "/" in m}
    for need in ("LICENSE", "setup.py", "firmware/Makefile", "boards/nucleo-f446re/board.c",
                 "micropython/bnrt_main.py", "toolkit/examples/tiny.py", "docs/examples/test_bn_on_board.py"):
        assert need in members, need
    assert not [m for m in members if m.startswith("firmware/build")]


def test_toolkit_boards_lists_every_board_from_the_package(installed):
    r = run(installed, "toolkit", "boards", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert sorted(b["name"] for b in rows) == sorted(p.parent.name for p in (ROOT / "boards").glob("*/board.toml"))
    for b in rows:
        assert b["origin"] == "toolkit"
        assert Path(b["path"]).is_relative_to(installed["purelib"] / "toolkit" / "_data" / "boards")


def test_version_names_torch_and_its_dispatch(installed):
    r = run(installed, "toolkit", "--version")
    import torch
    assert r.returncode == 0 and f"toolkit {toolkit.__version__}" in r.stdout
    assert f"torch {torch.__version__}" in r.stdout and torch.backends.cpu.get_cpu_capability() in r.stdout


@pytest.mark.parametrize("board", ["host-sim", pytest.param("qemu-mps2-an386", marks=pytest.mark.skipif(
    not HAVE_QEMU, reason="needs qemu-system-arm and gcc-arm-none-eabi"))])
def test_verify_the_example_model(installed, board):
    r = run(installed, "toolkit", "verify", "toolkit.examples.tiny:build", "--board", board,
            "--report", "r.json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads((installed["project"] / "r.json").read_text())["pass"] is True
    assert list((installed["cache"] / "bnrt-toolkit").rglob("*"))       # built in the user cache


def test_a_user_projects_hil_test_through_the_plugin(installed):
    project = installed["project"]
    shutil.copy(ROOT / "docs" / "examples" / "test_bn_on_board.py", project)
    boards = "host-sim"
    if HAVE_QEMU:                      # a board of the project's own, next to the packaged ones
        shutil.copytree(ROOT / "boards" / "qemu-mps2-an386", project / "boards" / "my-m4")
        toml = project / "boards" / "my-m4" / "board.toml"
        toml.write_text(toml.read_text().replace('name = "qemu-mps2-an386"', 'name = "my-m4"'))
        boards += ",my-m4"
    args = ["-W", "ignore", "-p", "no:labgrid"]      # see docs/pytest.md: labgrid next to pytest-embedded
    if importlib.util.find_spec("pytest_embedded"):           # the test extra has it: it must coexist
        assert _has(installed, "pytest_embedded")
        args += ["-p", "pytest_embedded"]
    r = run(installed, installed["python"], "-m", "pytest", "-q", "-p", "no:cacheprovider", *args,
            "--bnrt-board", boards, "test_bn_on_board.py")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{3 * len(boards.split(','))} passed" in r.stdout


def _has(inst, module: str) -> bool:
    return run(inst, inst["python"], "-c", f"import {module}").returncode == 0
