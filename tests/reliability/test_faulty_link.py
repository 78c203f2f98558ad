"""The faulty:// link itself, on pyserial's loop:// (what is written comes back)."""
from __future__ import annotations

import json
import os

import pytest
import serial

from toolkit.serial_handlers import register

register()


def roundtrip(url: str, data: bytes) -> tuple[bytes, dict]:
    got = b""
    with serial.serial_for_url(url, timeout=0.05) as s:
        for i in range(0, len(data), 1000):       # loop:// holds at most 4096 bytes
            s.write(data[i:i + 1000])
            while chunk := s.read(4096):
                got += chunk
        return got, s.stats


def test_clean_link_is_transparent():
    data = os.urandom(3000)
    got, stats = roundtrip("faulty://?url=loop://", data)
    assert got == data
    assert stats["tx"]["bytes"] == stats["rx"]["bytes"] == 3000
    assert all(stats[d][k] == 0 for d in ("tx", "rx") for k in ("drop", "dup", "flip"))


def test_damage_follows_the_rates_and_the_seed():
    data = bytes(range(1, 256)) * 40 + b"\x00"        # 10,201 bytes, one frame
    url = "faulty://?url=loop://&drop=0.01&dup=0.01&flip=0.01&dir=tx&seed=4"
    got, stats = roundtrip(url, data)
    again, stats2 = roundtrip(url, data)
    assert got == again and stats == stats2               # same seed, same damage
    other, _ = roundtrip(url.replace("seed=4", "seed=5"), data)
    assert other != got
    tx = stats["tx"]
    for kind in ("drop", "dup", "flip"):                  # ~102 expected each (binomial sd ~10)
        assert 50 < tx[kind] < 160, tx
    assert len(got) == len(data) - tx["drop"] + tx["dup"]
    assert tx["frames"] == 1 and tx["damaged_frames"] == 1
    assert stats["rx"]["drop"] == stats["rx"]["flip"] == 0    # dir=tx: answers untouched


def test_doubled_delimiter_is_not_damage():
    url = "faulty://?url=loop://&dup=1&dir=tx"
    got, stats = roundtrip(url, b"\x00\x00")
    assert got == b"\x00" * 4 and stats["tx"]["frames"] == 2 and stats["tx"]["damaged_frames"] == 0


def test_cut_and_stats_file(tmp_path):
    path = tmp_path / "stats.json"
    got, _ = roundtrip(f"faulty://?url=loop://&cut=10&stats={path}", b"0123456789abcdef")
    assert got == b""                                     # dead once 10 bytes were written
    assert json.loads(path.read_text())["tx"]["bytes"] == 10


@pytest.mark.parametrize("url", ["faulty://?drop=0.1", "faulty://?url=loop://&drop=2",
                                 "faulty://?url=loop://&bogus=1", "faulty://?url=loop://&dir=up"])
def test_bad_urls_are_refused(url):
    with pytest.raises(serial.SerialException, match="faulty://"):
        serial.serial_for_url(url)
