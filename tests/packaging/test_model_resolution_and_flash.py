"""MODEL specs resolve like Python does, from any folder and from an
installed console script; real-board flashing fails fast without a probe;
emulator state belongs to one project."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import toolkit
from toolkit.boards import get_board
from toolkit.errors import BoardError

ROOT = Path(toolkit.__file__).resolve().parents[1]

MODEL = textwrap.dedent("""
    import torch
    from helper import width          # a module beside this file, like `python mymodel.py` allows

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = torch.nn.BatchNorm1d(width())

        def forward(self, x):
            return self.bn(x)

    def build():
        return Net().eval()
""")


def toolkit_cli(cwd, *args, extra_env=None):
    """`toolkit ...` as a console script runs it: the current folder is NOT on
    sys.path (python -P), only the package is."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(extra_env or {}))
    return subprocess.run([sys.executable, "-P", "-m", "toolkit", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "mymodel.py").write_text(MODEL)
    (tmp_path / "helper.py").write_text("def width():\n    return 5\n")
    return tmp_path


@pytest.mark.parametrize("spec", ["mymodel:build", "mymodel.py:build"])
def test_model_spec_resolves_from_the_current_folder(project, spec):
    r = toolkit_cli(project, "inspect", spec, "--json")
    assert r.returncode == 0, r.stderr
    layers = json.loads(r.stdout)["layers"]
    assert [l["channels"] for l in layers] == [5]


def test_a_pickled_model_finds_its_classes_in_the_current_folder(project):
    subprocess.run([sys.executable, "-c", "import torch, mymodel; torch.save(mymodel.build(), 'whole.pth')"],
                   cwd=project, check=True, timeout=120)
    r = toolkit_cli(project, "inspect", "whole.pth", "--allow-pickle", "--json")
    assert r.returncode == 0, r.stderr
    assert [l["channels"] for l in json.loads(r.stdout)["layers"]] == [5]


def test_a_file_spec_from_another_folder_finds_its_siblings(project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    r = toolkit_cli(elsewhere, "inspect", project / "mymodel.py:build", "--json")
    assert r.returncode == 0, r.stderr


# --- real boards: a fake pyOCD / OpenOCD on PATH --------------------------------

def fake_tool(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + textwrap.dedent(script))
    path.chmod(0o755)


@pytest.fixture
def fake_path(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def _image(tmp_path):
    elf, bin_ = tmp_path / "firmware.elf", tmp_path / "firmware.bin"
    elf.write_bytes(b"\x7fELF")
    bin_.write_bytes(b"\0" * 16)
    return elf, bin_


def test_pyocd_without_a_probe_fails_fast(tmp_path, fake_path):
    from toolkit.flashing import program_real

    # Like pyOCD: `list` answers at once; `load` would wait for a probe for ever.
    fake_tool(fake_path, "pyocd", """
        case "$1" in list) echo "No available debug probes are connected"; exit 0;; esac
        sleep 600
    """)
    t0 = time.monotonic()
    with pytest.raises(BoardError, match="no probe found") as e:
        program_real(get_board("nucleo-f446re"), *_image(tmp_path))
    assert time.monotonic() - t0 < 15
    assert "\n" not in str(e.value)


def test_openocd_without_a_probe_says_so(tmp_path, fake_path):
    from toolkit.flashing import program_real

    if shutil.which("pyocd"):
        pytest.skip("a real pyocd on PATH is tried first")
    fake_tool(fake_path, "openocd", """
        echo "Open On-Chip Debugger 0.12.0" >&2
        echo "Info : auto-selecting first available session transport \\"hla_swd\\"" >&2
        echo "Error: open failed" >&2
        exit 1
    """)
    with pytest.raises(BoardError, match="no probe found.*open failed"):
        program_real(get_board("nucleo-f446re"), *_image(tmp_path))


def test_a_failing_flasher_shows_its_last_lines(tmp_path, fake_path):
    from toolkit.flashing import program_real

    fake_tool(fake_path, "pyocd", """
        case "$1" in list) echo "  0   STLINK-V3   0036003F   stm32f446re"; exit 0;; esac
        echo "0001 I Loading firmware.elf" >&2
        echo "0002 E Flash algo failed at 0x08004000" >&2
        echo "0003 E Target is locked: read-out protection" >&2
        exit 1
    """)
    with pytest.raises(BoardError) as e:
        program_real(get_board("nucleo-f446re"), *_image(tmp_path))
    text = str(e.value)
    assert "pyOCD could not program the board" in text and "read-out protection" in text
    assert "Flash algo failed" in text and "\n" not in text


# --- emulator state per project ---------------------------------------------------

@pytest.mark.skipif(not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
                    reason="needs qemu-system-arm and gcc-arm-none-eabi")
def test_two_projects_flash_the_same_board_and_stop_only_their_own(tmp_path, monkeypatch, capsys):
    from toolkit.cli import main
    from toolkit.protocol.client import Client

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    states = {}
    try:
        for project in (a, b):
            monkeypatch.chdir(project)
            assert main(["flash", "--board", "qemu-mps2-an386", "--json"]) == 0
            states[project] = json.loads(capsys.readouterr().out)
            assert states[project]["reused"] is False      # b did not take over a's emulator
        assert states[a]["pid"] != states[b]["pid"]
        monkeypatch.chdir(a)
        assert main(["flash", "--stop", "--json"]) == 0
        assert [s["pid"] for s in json.loads(capsys.readouterr().out)] == [states[a]["pid"]]
        with Client(states[b]["url"]) as client:           # b's emulator still serves
            assert client.info().name == "qemu-mps2-an386"
    finally:
        for project in (a, b):
            monkeypatch.chdir(project)
            main(["flash", "--stop", "--json"])
        capsys.readouterr()


def test_a_missing_pyocd_target_pack_says_how_to_install_it(tmp_path, fake_path):
    from toolkit.flashing import program_real

    fake_tool(fake_path, "pyocd", """
        case "$1" in list) echo "  0   STLINK-V3   0036003F   n/a"; exit 0;; esac
        echo "0000 C Target type 'stm32f446retx' not recognized. Use 'pyocd list --targets' to see" >&2
        exit 1
    """)
    with pytest.raises(BoardError) as e:
        program_real(get_board("nucleo-f446re"), *_image(tmp_path))
    assert "pyocd pack install stm32f446retx" in e.value.fix
