"""Build switches on the host side (toolkit/firmware_build.py Config): board.toml
[build] gives the defaults, `toolkit build` flags override them, and a
configuration the firmware cannot be built in is refused with one line."""
from __future__ import annotations

import dataclasses

import pytest

from toolkit.boards import get_board
from toolkit.cli import main
from toolkit.errors import InputError
from toolkit.firmware_build import Config, config_for

BOARD = get_board("qemu-mps2-an386")


def with_build(**keys):
    return dataclasses.replace(BOARD, data={**BOARD.data, "build": {**BOARD.data["build"], **keys}})


def test_defaults_are_everything():
    c = config_for(BOARD)
    assert c == Config(("f32", "s8", "s16"), True, True) and c.tag == ""
    assert c.make_vars() == ["BNRT_DTYPES=f32 s8 s16", "BNRT_TRAIN=1", "BNRT_PROTOCOL=1"]


def test_board_toml_then_flags():
    board = with_build(dtypes=["s8", "f32"], train=False)
    assert config_for(board) == Config(("f32", "s8"), False, True)
    assert config_for(board).tag == "-f32-s8-notrain"              # the folder arm.mk uses too
    assert config_for(board, dtypes=["s16"], train=True) == Config(("s16",), True, True)


@pytest.mark.parametrize("kwargs,message", [
    ({"dtypes": ["s9"]}, "unknown dtype s9"),
    ({"dtypes": []}, "no dtype selected"),
    ({"protocol": False}, "cannot be built without the protocol"),
])
def test_impossible_configurations_are_refused(kwargs, message):
    with pytest.raises(InputError, match=message):
        config_for(BOARD, **kwargs)


@pytest.mark.parametrize("args,message", [
    (["--dtypes", "s8,x"], "error: unknown dtype x; choose from f32, s8, s16"),
    (["--no-protocol"], "error: a qemu-mps2-an386 image is the serial protocol server"),
])
def test_build_cli_refuses_before_building(capsys, args, message):
    assert main(["build", "--board", "qemu-mps2-an386", *args]) == 3
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
