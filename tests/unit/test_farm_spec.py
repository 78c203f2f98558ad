"""The `labgrid:` board spec (docs/farm.md): what it accepts, and the one-line
errors for what it does not."""
from __future__ import annotations

import pytest

from toolkit import farm
from toolkit.errors import InputError


def test_tags_and_place():
    assert farm.parse_spec("labgrid:board=qemu-mps2-an386") == farm.PlaceSpec(tags={"board": "qemu-mps2-an386"})
    assert farm.parse_spec("labgrid:board=host-sim,farm=ci").tags == {"board": "host-sim", "farm": "ci"}
    assert farm.parse_spec("labgrid:place=bench-3") == farm.PlaceSpec(place="bench-3")
    assert str(farm.parse_spec("labgrid:board=a, farm=b")) == "labgrid:board=a,farm=b"


def test_is_spec():
    assert farm.is_spec("labgrid:place=x")
    assert not farm.is_spec("host-sim") and not farm.is_spec(None) and not farm.is_spec("")


@pytest.mark.parametrize("text, words", [
    ("labgrid:", "names no place"),
    ("labgrid:board", "is not KEY=VALUE"),
    ("labgrid:board=", "is not KEY=VALUE"),
    ("labgrid:Board=x", "not a labgrid tag name"),
    ("labgrid:board=x,board=y", "given twice"),
    ("labgrid:place=a,board=x", "takes no tags"),
])
def test_bad_specs(text, words):
    with pytest.raises(InputError) as e:
        farm.parse_spec(text)
    assert words in e.value.problem and e.value.fix.startswith("write labgrid:")


def test_coordinator_address(monkeypatch):
    monkeypatch.delenv(farm.ENV_COORDINATOR, raising=False)
    assert farm.coordinator_address() == "127.0.0.1:20408"     # labgrid's own default
    monkeypatch.setenv(farm.ENV_COORDINATOR, "lab:1234")
    assert farm.coordinator_address() == "lab:1234"
    assert farm.coordinator_address("other:1") == "other:1"
