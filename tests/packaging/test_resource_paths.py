"""Where the toolkit finds its files and puts its builds (toolkit/resources.py),
the board search path (toolkit/boards.py), and file modes (toolkit/fsutil.py)."""
from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from toolkit import boards, resources
from toolkit.cli import main
from toolkit.errors import InputError

needs_cross = pytest.mark.skipif(not shutil.which("arm-none-eabi-gcc"),
                                 reason="needs gcc-arm-none-eabi libnewlib-arm-none-eabi")


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    for name in ("BNRT_BUILD_DIR", "BUILD", "BNRT_BOARDS_PATH"):
        monkeypatch.delenv(name, raising=False)
    resources.use_build_dir(None)
    boards.use_boards_path(())
    yield
    resources.use_build_dir(None)
    boards.use_boards_path(())


def test_checkout_finds_its_top_level_folders():
    root = Path(__file__).resolve().parents[2]
    assert resources.checkout_root() == root
    assert resources.firmware_dir() == root / "firmware"
    assert resources.boards_dir() == root / "boards"
    assert resources.micropython_dir() == root / "micropython"
    assert resources.build_dir() == root / "firmware" / "build"


def test_build_dir_order(monkeypatch, tmp_path):
    monkeypatch.setenv("BUILD", str(tmp_path / "legacy"))
    assert resources.build_dir() == tmp_path / "legacy"
    monkeypatch.setenv("BNRT_BUILD_DIR", str(tmp_path / "env"))
    assert resources.build_dir() == tmp_path / "env"
    resources.use_build_dir(tmp_path / "option")
    assert resources.build_dir() == tmp_path / "option"


def test_installed_package_builds_in_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.setattr(resources, "checkout_root", lambda: None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert resources.data_root() == resources.PACKAGE_DIR / "_data"
    assert resources.build_dir().is_relative_to(tmp_path / "cache" / "bnrt-toolkit")


def test_build_dir_option_reaches_the_simulator_build(tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["verify", "toolkit.examples.tiny:build", "--build-dir", str(out)]) == 0
    assert (out / "host" / "bnrt-sim").is_file()
    assert resources.build_dir() != out          # an option does not outlive its command
    capsys.readouterr()


def _user_board(folder: Path, name: str, like: str = "qemu-mps2-an386") -> Path:
    src = resources.boards_dir() / like
    dst = folder / name
    shutil.copytree(src, dst)
    toml = (dst / "board.toml").read_text().replace(f'name = "{like}"', f'name = "{name}"')
    (dst / "board.toml").write_text(toml)
    return dst


def test_search_path_order_and_origins(monkeypatch, tmp_path, capsys):
    project, env_dir, opt_dir = tmp_path / "proj", tmp_path / "env", tmp_path / "opt"
    _user_board(project / "boards", "mine")
    _user_board(project / "boards", "both")
    _user_board(env_dir, "both", like="qemu-mps2-an385")
    _user_board(opt_dir, "optional")
    monkeypatch.chdir(project)
    monkeypatch.setenv("BNRT_BOARDS_PATH", os.pathsep.join([str(env_dir), str(tmp_path / "gone")]))
    with pytest.raises(InputError, match="gone"):
        boards.load_boards()
    monkeypatch.setenv("BNRT_BOARDS_PATH", str(env_dir))
    assert main(["boards", "--json", "--boards-path", str(opt_dir)]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["optional"]["origin"] == "--boards-path"
    assert rows["both"]["origin"] == "BNRT_BOARDS_PATH" and rows["both"]["cpu"] == "cortex-m3"
    assert rows["mine"]["origin"] == "project"
    assert rows["host-sim"]["origin"] == "toolkit"
    assert len(rows) == len(list(resources.boards_dir().glob("*/board.toml"))) + 3


def test_a_broken_user_board_is_one_error_line(monkeypatch, tmp_path, capsys):
    (tmp_path / "boards" / "bad").mkdir(parents=True)
    (tmp_path / "boards" / "bad" / "board.toml").write_text('name = "bad"\nkind = \n')
    monkeypatch.chdir(tmp_path)
    assert main(["boards"]) == InputError.exit_code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "board.toml" in err[0]


@needs_cross
def test_a_project_board_builds_outside_the_toolkit_tree(monkeypatch, tmp_path, capsys):
    _user_board(tmp_path / "boards", "my-m4")
    monkeypatch.chdir(tmp_path)
    assert main(["build", "--board", "my-m4", "--json", "--build-dir", str(tmp_path / "b")]) == 0
    image = json.loads(capsys.readouterr().out)[0]
    assert image["board"] == "my-m4" and Path(image["elf"]).is_file()
    assert Path(image["elf"]).is_relative_to(tmp_path / "b")
    strings = Path(image["elf"]).read_bytes()
    assert b"my-m4\0" in strings                 # the board's own name, from its board.toml


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_atomic_write_follows_the_umask_also_when_replacing(tmp_path, mask):
    from toolkit.fsutil import atomic_write

    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    os.chmod(target, 0o600)
    old = os.umask(mask)
    try:
        atomic_write(target, b"new")
        atomic_write(tmp_path / "g.txt", "text")
    finally:
        os.umask(old)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((tmp_path / "g.txt").stat().st_mode) == 0o666 & ~mask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin", "g.txt"]


def test_every_output_of_export_verify_and_adapt_follows_the_umask(tmp_path, capsys):
    import numpy as np

    from toolkit.adapt import save_state_dict
    from toolkit.examples.tiny import build

    outs = {n: tmp_path / n for n in ("m.bnm", "r.json", "j.xml", "p.png", "s.pth")}
    for p in outs.values():              # replacing files that were private before
        p.write_bytes(b"")
        os.chmod(p, 0o600)
    old = os.umask(0o002)
    try:
        assert main(["export", "toolkit.examples.tiny:build", "-o", str(outs["m.bnm"])]) == 0
        assert main(["verify", "toolkit.examples.tiny:build", "--report", str(outs["r.json"]),
                     "--junit", str(outs["j.xml"]), "--plot", str(outs["p.png"])]) == 0
        save_state_dict(build().state_dict(), outs["s.pth"])
        np.save(tmp_path / "numpy.npy", np.zeros(1))      # what a plain open() gives here
    finally:
        os.umask(old)
    capsys.readouterr()
    want = stat.S_IMODE((tmp_path / "numpy.npy").stat().st_mode)
    assert want == 0o664
    for name, p in outs.items():
        assert p.stat().st_size > 0, name
        assert stat.S_IMODE(p.stat().st_mode) == want, name


def test_every_subcommand_shares_the_path_options_and_one_default_each():
    from toolkit.cli import cli

    defaults: dict[str, set] = {}
    for name in cli.list_commands(None):
        params = {p.opts[0]: p for p in cli.get_command(None, name).params if p.opts}
        assert "--build-dir" in params and "--boards-path" in params, name
        for opt in ("--dtype", "--timeout", "--retries", "--weights", "--port"):
            if opt in params:
                defaults.setdefault(opt, set()).add(params[opt].default)
        if "--board" in params and isinstance(params["--board"].default, str):   # flash, soak: none
            defaults.setdefault("--board", set()).add(params["--board"].default)
    assert defaults["--dtype"] == {"f32"} and defaults["--timeout"] == {2.0}
    assert defaults["--retries"] == {3} and defaults["--board"] == {boards.DEFAULT_BOARD}
    assert all(len(v) == 1 for v in defaults.values()), defaults
