# The protocol commands of bnrt_tiny (see there): INFO, LOAD_*, RUN, MODEL_INFO
# and RESET with the statuses of firmware/src/cmdloop.c.  Plain functions on a
# state object, no class body: the micro:bit cannot compile a whole module in
# its heap, so its installer runs the source one top-level statement at a time.
import ustruct as struct
import bnrt_tiny as T
from bnrt_spec import *  # noqa: F401,F403

_E = b""


class State:
    pass


def server(name, max_payload, max_model):
    self = State()
    self.name, self.mp, self.mm = name, max_payload, max_model
    self.model = self.up = self.last = None
    self.total = self.got = self.crc = 0
    return self


def cmd(self, c, seq, p):
    if c == CMD_RUN:
        return do_run(self, p)
    if c == CMD_LOAD_CHUNK:
        return do_chunk(self, p)
    if c == CMD_INFO:
        return OK, struct.pack(INFO_FMT, PROTOCOL_VERSION, FIRMWARE_VERSION, self.mp, self.mm,
                               0, (1 << DTYPE_S8) | (1 << DTYPE_S16), 3, 1 << OP_BN_AFFINE,
                               COUNTER_NONE, len(self.name)) + self.name
    if c == CMD_LOAD_BEGIN:
        return do_begin(self, p)
    if c == CMD_LOAD_COMMIT:
        return do_commit(self, p, seq)
    if c == CMD_MODEL_INFO:
        return do_minfo(self, p)
    if c == CMD_RESET:
        if len(p):
            return ERR_FRAME_FORMAT, _E
        self.up = None
        return OK, _E
    return ERR_COMMAND, _E


def do_begin(self, p):
    if len(p) != 8:
        return ERR_FRAME_FORMAT, _E
    self.up = None
    self.total, self.crc = struct.unpack(LOAD_BEGIN_FMT, p)
    if self.total == 0:
        return ERR_ARG, _E
    if self.total > self.mm:
        return ERR_TOO_LARGE, _E
    self.model = None            # no room for two blobs on the smallest boards
    self.up, self.got = bytearray(self.total), 0
    return OK, _E


def do_chunk(self, p):
    n = len(p) - LOAD_CHUNK_SIZE
    if n < 0:
        return ERR_FRAME_FORMAT, _E
    if self.up is None:
        return ERR_LOAD_STATE, _E
    off = struct.unpack_from(LOAD_CHUNK_FMT, p)[0]
    if off > self.got or n > self.total - off:
        return ERR_LOAD_RANGE, _E
    for i in range(n):               # (no slice assignment on the micro:bit)
        self.up[off + i] = p[LOAD_CHUNK_SIZE + i]
    self.got = max(self.got, off + n)
    return OK, _E


def do_commit(self, p, seq):
    if len(p):
        return ERR_FRAME_FORMAT, _E
    if self.up is None:
        if self.model is not None and self.last == (CMD_LOAD_COMMIT, seq):
            return OK, do_committed(self)
        return ERR_LOAD_STATE, _E
    if self.got != self.total:
        return ERR_INCOMPLETE, _E
    blob, self.up = self.up, None
    if T.crc32(blob) != self.crc:
        return ERR_CRC, _E
    st = T.check(blob)
    if st != OK:
        return st, _E
    self.model = blob
    return OK, do_committed(self)


def n_layers(self):
    return struct.unpack_from("<H", self.model, 16)[0]


def do_committed(self):
    # LOAD_COMMIT_FMT ("<IH2x") with its pad bytes written out: no "x" in the
    # micro:bit's ustruct
    return struct.pack("<IH", struct.unpack_from("<I", self.model, CRC_OFFSET)[0],
                       n_layers(self)) + bytes(2)


def do_minfo(self, p):
    if len(p) != 2:
        return ERR_FRAME_FORMAT, _E
    if self.model is None:
        return ERR_NO_MODEL, _E
    i = struct.unpack(MODEL_INFO_FMT, p)[0]
    if i >= n_layers(self):
        return ERR_LAYER, _E
    dt, lay, ch = T.layer(self.model, i)[:3]
    return OK, struct.pack(MODEL_INFO_RESPONSE_FMT, struct.unpack_from(
        "<I", self.model, CRC_OFFSET)[0], n_layers(self), i, OP_BN_AFFINE, dt, lay, 0, ch)


def do_run(self, p):
    if len(p) < RUN_SIZE:
        return ERR_FRAME_FORMAT, _E
    i, res, spatial, first, count = struct.unpack_from(RUN_FMT, p)
    if res:
        return ERR_ARG, _E
    if self.model is None:
        return ERR_NO_MODEL, _E
    if i >= n_layers(self):
        return ERR_LAYER, _E
    size = 1 if T.layer(self.model, i)[0] == DTYPE_S8 else 2
    n = len(p) - RUN_SIZE
    if n % size or n // size != count:
        return ERR_SHAPE, _E
    if n > self.mp - 4:
        return ERR_FRAME_SIZE, _E
    if count and spatial == 0:
        return ERR_SHAPE, _E
    return OK, struct.pack(RUN_RESPONSE_FMT, 0) + T.run(self.model, i, p[RUN_SIZE:],
                                                        spatial, first)
