"""A minimal little-endian ELF32 reader: loadable segments, sections and the
symbol table.  Enough to load a linked Cortex-M image into an emulator and to
size a firmware image; no dependency beyond the standard library."""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

PT_LOAD = 1
SHT_SYMTAB = 2
SHT_NOBITS = 8
SHF_ALLOC = 0x2
SHF_WRITE = 0x1
SHF_EXECINSTR = 0x4
STT_FUNC = 2


@dataclass(frozen=True)
class Segment:
    vaddr: int
    paddr: int
    data: bytes       # file contents; memsz - len(data) zero bytes follow
    memsz: int


@dataclass(frozen=True)
class Section:
    name: str
    type: int
    flags: int
    addr: int
    size: int


@dataclass(frozen=True)
class Symbol:
    name: str
    value: int
    size: int
    type: int
    section: int      # section index (shndx)


class Elf:
    def __init__(self, data: bytes):
        if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
            raise ValueError("not a little-endian ELF32 file")
        (self.type, self.machine, _, self.entry, phoff, shoff, _, _, phentsize, phnum,
         shentsize, shnum, shstrndx) = struct.unpack_from("<HHIIIIIHHHHHH", data, 16)
        self.segments = []
        for i in range(phnum):
            p_type, off, vaddr, paddr, filesz, memsz, _, _ = struct.unpack_from(
                "<8I", data, phoff + i * phentsize)
            if p_type == PT_LOAD:
                self.segments.append(Segment(vaddr, paddr, data[off:off + filesz], memsz))
        raw = [struct.unpack_from("<10I", data, shoff + i * shentsize) for i in range(shnum)]
        shstr = raw[shstrndx] if shnum else None

        def cstr(table_off: int, idx: int) -> str:
            end = data.index(b"\0", table_off + idx)
            return data[table_off + idx:end].decode("utf-8", "replace")

        self.sections = [Section(cstr(shstr[4], r[0]) if shstr else "", r[1], r[2], r[3], r[5])
                         for r in raw]
        self.symbols: list[Symbol] = []
        for r in raw:
            if r[1] != SHT_SYMTAB:
                continue
            strtab = raw[r[6]]
            for j in range(r[5] // 16):
                name, value, size, info, _, shndx = struct.unpack_from("<IIIBBH", data, r[4] + 16 * j)
                if name:
                    self.symbols.append(Symbol(cstr(strtab[4], name), value, size, info & 0xF, shndx))

    @classmethod
    def read(cls, path: str | Path) -> Elf:
        return cls(Path(path).read_bytes())

    def symbol(self, name: str) -> Symbol:
        for s in self.symbols:
            if s.name == name:
                return s
        raise KeyError(f"no symbol {name!r}")
