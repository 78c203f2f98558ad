"""board.toml schema (toolkit/boardschema.py) and the make fragment made from it."""
from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from toolkit.boards import Board, load_boards
from toolkit.boardschema import make_fragment, validate, write_fragment
from toolkit.cli import main
from toolkit.errors import InputError
from toolkit.resources import boards_dir, firmware_dir

BOARDS_DIR = boards_dir()
AN386 = BOARDS_DIR / "qemu-mps2-an386" / "board.toml"
ARM_BOARDS = [n for n, b in load_boards().items() if b.kind in ("qemu", "serial")]


def _an386(tmp_path, edit=lambda text: text, name="qemu-mps2-an386") -> Path:
    folder = tmp_path / name
    folder.mkdir(parents=True)
    text = AN386.read_text().replace('name = "qemu-mps2-an386"', f'name = "{name}"')
    (folder / "board.toml").write_text(edit(text))
    shutil.copy(AN386.parent / "board.c", folder / "board.c")
    return folder / "board.toml"


def _error(toml: Path) -> str:
    with pytest.raises(InputError) as e:
        validate(tomllib.loads(toml.read_text()), toml)
    return str(e.value)


def test_every_committed_board_is_valid():
    for toml in sorted(BOARDS_DIR.glob("*/board.toml")):
        validate(tomllib.loads(toml.read_text()), toml)


def test_mistyped_key_is_named_with_the_file(tmp_path):
    toml = _an386(tmp_path, lambda t: t.replace("baud = 115200", "baudrate = 115200"))
    msg = _error(toml)
    assert str(toml) in msg and "uart.baudrate: unknown key" in msg
    assert "baud" in msg.split(";", 1)[1]          # the fix lists the keys [uart] has


def test_wrong_type_names_key_and_expected_type(tmp_path):
    toml = _an386(tmp_path, lambda t: t.replace("irq = 0 ", 'irq = "0" '))
    msg = _error(toml)
    assert "uart.irq: must be an integer, got string '0'" in msg


def test_bool_is_not_an_integer(tmp_path):
    toml = _an386(tmp_path, lambda t: t.replace("max_payload = 4096", "max_payload = true"))
    assert "build.max_payload: must be an integer, got boolean True" in _error(toml)


def test_missing_required_key(tmp_path):
    toml = _an386(tmp_path, lambda t: re.sub(r"(?m)^machine = .*$", "", t))
    assert "qemu.machine: missing (a string; required for kind 'qemu')" in _error(toml)


def test_missing_kind_is_named(tmp_path):
    toml = _an386(tmp_path, lambda t: t.replace('kind = "qemu"\n', ""))
    assert "kind: missing (a string, one of 'sim', 'qemu', 'serial', 'micropython'" in _error(toml)


def test_choices_and_build_switches(tmp_path):
    toml = _an386(tmp_path, lambda t: t + 'dtypes = ["f32", "f64"]\n')
    assert "build.dtypes: must be a list of a string from 'f32', 's16', 's8', got 'f64'" in _error(toml)
    ok = _an386(tmp_path / "ok", lambda t: t + 'dtypes = ["f32", "s8"]\ntrain = false\nprotocol = true\n')
    data = validate(tomllib.loads(ok.read_text()), ok)
    frag = make_fragment(Board(data["name"], data["kind"], "", ok.parent, data))
    assert "BOARD_BUILD_DTYPES := f32 s8\n" in frag      # arm.mk: BNRT_DTYPES unless given to make
    assert "BOARD_BUILD_TRAIN := 0\n" in frag and "BOARD_BUILD_PROTOCOL := 1\n" in frag


def test_load_boards_rejects_bad_toml_naming_the_file(tmp_path, monkeypatch, capsys):
    toml = _an386(tmp_path, lambda t: t.replace("[uart]", "[uart"))
    monkeypatch.setenv("BNRT_BOARDS_PATH", str(tmp_path))    # searched before the toolkit's boards
    assert main(["boards"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(toml) in err and "not valid TOML" in err


def test_toolkit_boards_reports_a_schema_error(tmp_path, monkeypatch, capsys):
    _an386(tmp_path, lambda t: t.replace("clock_hz = 25000000", "clock_hz = 25e6"))
    monkeypatch.setenv("BNRT_BOARDS_PATH", str(tmp_path))
    assert main(["boards", "--json"]) == 3
    assert "clock_hz: must be an integer, got float 25000000.0" in capsys.readouterr().err


def _make_flags(board: str, build: Path) -> dict[str, str]:
    r = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(firmware_dir()),
                        "print-kernel-cflags", f"BOARD={board}", f"BUILD={build}"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return dict(re.findall(r"-D(BNRT_\w+)=(\S+)", r.stdout)) | {"cpu": re.search(r"-mcpu=(\S+)", r.stdout)[1]}


@pytest.mark.skipif(not shutil.which("make"), reason="needs make")
@pytest.mark.parametrize("name", ARM_BOARDS)
def test_make_reads_the_values_tomllib_reads(name, tmp_path):
    """make regenerates the fragment itself when it is missing; its -D values
    are the board.toml values."""
    board = load_boards()[name]
    flags = _make_flags(name, tmp_path)
    assert (tmp_path / name / "board.mk").read_text() == make_fragment(board)
    want = {"BNRT_CLOCK_HZ": board.get("clock_hz"), "BNRT_UART_BASE": board.get("uart.base"),
            "BNRT_UART_IRQ": board.get("uart.irq"), "BNRT_UART_BAUD": board.get("uart.baud"),
            "BNRT_COUNTER_HZ": board.get("counter.hz"), "BNRT_IRQ_COUNT": board.get("build.irq_count"),
            "BNRT_MAX_PAYLOAD": board.get("build.max_payload"),
            "BNRT_MODEL_SLOT_SIZE": board.get("build.model_slot_size")}
    for key, value in want.items():
        assert int(flags[key].rstrip("u"), 0) == value, key
    assert flags["cpu"] == board.get("cpu")


@pytest.mark.skipif(not shutil.which("make"), reason="needs make")
def test_underscored_hex_reaches_make(tmp_path):
    """TOML allows 0x0800_0000; the old awk reader did not."""
    toml = _an386(tmp_path / "boards", lambda t: t.replace("base = 0x40004000", "base = 0x4000_4000"),
                  name="an386-underscore")
    data = validate(tomllib.loads(toml.read_text()), toml)
    board = Board(data["name"], data["kind"], "", toml.parent, data)
    write_fragment(board, tmp_path / "build")
    flags = _make_flags(board.name, tmp_path / "build")
    assert int(flags["BNRT_UART_BASE"].rstrip("u"), 0) == 0x40004000
