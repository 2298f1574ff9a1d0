#!/usr/bin/env python3
"""TFLite reader fixtures, made with the standard library and numpy only (no tflite/flatbuffers packages).

    /usr/bin/python3 Tests/Reference/make_tflite_references.py [../shared/weights/yamnet_spectra_in.tflite]

1. tiny.tflite + tiny.json: a small model written by the forward flatbuffer builder below (int8 per-channel conv and
   depthwise weights, an int32 bias, a uint8 per-tensor tensor with a zero point, a float32 FC weight; CONV_2D,
   DEPTHWISE_CONV_2D and FULLY_CONNECTED with options) and the values the reader must produce. It is also the seed of
   the fuzz test, so it needs nothing from ../shared.
2. yamnet_N.npy + manifest.json: the first rows (along axis 0) of dequantised YAMNet tensors, parsed from the real file
   with the small flatbuffer reader below: float32 = (q - zero_point[c]) * scale[c], computed in float64 and rounded once.
"""
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Fixtures", "tflite")


class Table:
    """A flatbuffer table: fields through the vtable (slot 4 + 2*i), absent fields give None."""

    def __init__(self, buf, pos):
        self.buf, self.pos = buf, pos
        self.vt = pos - struct.unpack_from("<i", buf, pos)[0]
        self.vt_size = struct.unpack_from("<H", buf, self.vt)[0]

    def _field(self, i):
        slot = 4 + 2 * i
        if slot >= self.vt_size:
            return None
        off = struct.unpack_from("<H", self.buf, self.vt + slot)[0]
        return None if off == 0 else self.pos + off

    def scalar(self, i, fmt, default=0):
        p = self._field(i)
        return default if p is None else struct.unpack_from("<" + fmt, self.buf, p)[0]

    def _vector(self, i):
        p = self._field(i)
        if p is None:
            return None, 0
        at = p + struct.unpack_from("<I", self.buf, p)[0]
        return at + 4, struct.unpack_from("<I", self.buf, at)[0]

    def vector(self, i, fmt):
        start, n = self._vector(i)
        return [] if start is None else list(struct.unpack_from("<%d%s" % (n, fmt), self.buf, start))

    def bytes(self, i):
        start, n = self._vector(i)
        return b"" if start is None else self.buf[start:start + n]

    def string(self, i):
        return self.bytes(i).decode("utf-8")

    def table(self, i):
        p = self._field(i)
        return None if p is None else Table(self.buf, p + struct.unpack_from("<I", self.buf, p)[0])

    def tables(self, i):
        start, n = self._vector(i)
        if start is None:
            return []
        return [Table(self.buf, start + 4 * k + struct.unpack_from("<I", self.buf, start + 4 * k)[0]) for k in range(n)]


INT_TYPES = {9: np.int8, 3: np.uint8, 2: np.int32, 7: np.int16, 4: np.int64}


def dequantise(model_path, names_and_rows):
    buf = open(model_path, "rb").read()
    assert buf[4:8] == b"TFL3"
    model = Table(buf, struct.unpack_from("<I", buf, 0)[0])
    buffers = model.tables(4)
    graph = model.tables(2)[0]
    tensors = {t.string(3): t for t in graph.tables(0)}
    out = []
    for name, rows in names_and_rows:
        t = tensors[name]
        shape = t.vector(0, "i")
        ttype = t.scalar(1, "B")
        data = buffers[t.scalar(2, "I")].bytes(0)
        q = np.frombuffer(data, dtype=INT_TYPES[ttype]).reshape(shape).astype(np.float64)
        quant = t.table(4)
        scale = np.array(quant.vector(2, "f"), dtype=np.float32).astype(np.float64)
        zero = np.array(quant.vector(3, "q") or [0], dtype=np.float64)
        axis = quant.scalar(6, "i")
        if scale.size > 1:
            bshape = [1] * len(shape)
            bshape[axis] = scale.size
            scale = scale.reshape(bshape)
            zero = zero.reshape(bshape) if zero.size > 1 else zero
        real = ((q - zero) * scale).astype(np.float32)
        kind = f"{np.dtype(INT_TYPES[ttype]).name} " + (f"per-channel axis {axis}" if scale.size > 1 else "per-tensor")
        out.append((name, shape, rows, kind, real[:rows]))
    return out


class Builder:
    """Writes a flatbuffer front to back: a parent first, its children after it, offsets patched (always forward)."""

    def __init__(self, identifier):
        self.buf = bytearray(8)
        self.buf[4:8] = identifier

    def align(self, n):
        while len(self.buf) % n:
            self.buf.append(0)

    def patch(self, at, target):
        struct.pack_into("<I", self.buf, at, target - at)

    def emit(self, obj):
        """obj: ('table', [fields]) | ('str', s) | ('vec', fmt, values) | ('bytes', b) | ('tables', [tables]); returns its position."""
        kind = obj[0]
        if kind == "str" or kind == "bytes":
            data = obj[1].encode() if kind == "str" else obj[1]
            self.align(4)
            pos = len(self.buf)
            self.buf += struct.pack("<I", len(data)) + data + (b"\0" if kind == "str" else b"")
            return pos
        if kind == "vec":
            fmt, values = obj[1], obj[2]
            size = struct.calcsize("<" + fmt)
            self.align(4)
            while (len(self.buf) + 4) % size:
                self.buf += b"\0\0\0\0"
            pos = len(self.buf)
            self.buf += struct.pack("<I%d%s" % (len(values), fmt), len(values), *values)
            return pos
        if kind == "tables":
            self.align(4)
            pos = len(self.buf)
            self.buf += struct.pack("<I", len(obj[1])) + bytes(4 * len(obj[1]))
            for k, t in enumerate(obj[1]):
                self.patch(pos + 4 + 4 * k, self.emit(t))
            return pos
        # table: fields[i] is None, (fmt, value) for a scalar or ('ref', obj) for a child
        fields = obj[1]
        layout, size = [], 4
        for f in fields:
            if f is None:
                layout.append(0)
                continue
            width = 4 if f[0] == "ref" else struct.calcsize("<" + f[0])
            size = (size + width - 1) // width * width
            layout.append(size)
            size += width
        vtable = struct.pack("<HH%dH" % len(fields), 4 + 2 * len(fields), size, *layout)
        self.align(4)
        vt_pos = len(self.buf)
        self.buf += vtable
        self.align(8)
        pos = len(self.buf)
        table = bytearray(size)
        struct.pack_into("<i", table, 0, pos - vt_pos)
        for f, at in zip(fields, layout):
            if f is not None and f[0] != "ref":
                struct.pack_into("<" + f[0], table, at, f[1])
        self.buf += table
        for f, at in zip(fields, layout):
            if f is not None and f[0] == "ref":
                self.patch(pos + at, self.emit(f[1]))
        return pos

    def finish(self, root):
        self.patch(0, self.emit(root))
        return bytes(self.buf)


def tensor(name, shape, ttype, buffer, scale=None, zero=None, axis=0):
    quant = None
    if scale is not None:
        quant = ("ref", ("table", [None, None, ("ref", ("vec", "f", scale)), ("ref", ("vec", "q", zero)), None, None, ("i", axis)]))
    return ("table", [("ref", ("vec", "i", shape)), ("B", ttype), ("I", buffer), ("ref", ("str", name)), quant])


def make_tiny():
    rng = np.random.default_rng(5)
    conv_q = rng.integers(-127, 128, size=(3, 1, 1, 2), dtype=np.int8)
    conv_s = [0.5, 0.25, 0.125]
    bias_q = np.array([100, -2000, 70000], dtype=np.int32)
    bias_s = [0.01, 0.02, 0.03]
    dw_q = rng.integers(-127, 128, size=(1, 3, 3, 3), dtype=np.int8)
    dw_s = [0.1, 0.2, 0.4]
    u8_q = np.array([0, 128, 200, 255], dtype=np.uint8)
    fc = rng.standard_normal((2, 3)).astype(np.float32)
    datas = [b"", b"", conv_q.tobytes(), bias_q.tobytes(), b"", dw_q.tobytes(), fc.tobytes(), u8_q.tobytes()]
    tensors = [
        tensor("input", [1, 4, 4, 2], 0, 1),
        tensor("conv/weight", [3, 1, 1, 2], 9, 2, conv_s, [0, 0, 0], 0),
        tensor("conv/bias", [3], 2, 3, bias_s, [0, 0, 0], 0),
        tensor("conv/out", [1, 4, 4, 3], 0, 4),
        tensor("dw/weight", [1, 3, 3, 3], 9, 5, dw_s, [0, 0, 0], 3),
        tensor("fc/weight", [2, 3], 0, 6),
        tensor("u8/table", [4], 3, 7, [0.5], [128], 0),
        tensor("dw/out", [1, 2, 2, 3], 0, 0),
        tensor("fc/out", [1, 2], 0, 0),
    ]
    conv_opts = ("table", [("B", 1), ("i", 1), ("i", 1), ("B", 3)])                   # VALID, stride 1, RELU6
    dw_opts = ("table", [("B", 0), ("i", 2), ("i", 2), ("i", 1), ("B", 1)])           # SAME, stride 2, multiplier 1, RELU
    fc_opts = ("table", [("B", 0), None, ("B", 1)])                                    # no activation, keep_num_dims
    ops = [
        ("table", [("I", 0), ("ref", ("vec", "i", [0, 1, 2])), ("ref", ("vec", "i", [3])), ("B", 1), ("ref", conv_opts)]),
        ("table", [("I", 1), ("ref", ("vec", "i", [3, 4, -1])), ("ref", ("vec", "i", [7])), ("B", 2), ("ref", dw_opts)]),
        ("table", [("I", 2), ("ref", ("vec", "i", [7, 5])), ("ref", ("vec", "i", [8])), ("B", 8), ("ref", fc_opts)]),
    ]
    codes = [("table", [("b", 3), None, ("i", 1), ("i", 3)]), ("table", [("b", 4), None, ("i", 2), ("i", 4)]),
             ("table", [("b", 9), None, ("i", 1), ("i", 9)])]
    graph = ("table", [("ref", ("tables", tensors)), ("ref", ("vec", "i", [0])), ("ref", ("vec", "i", [8])),
                       ("ref", ("tables", ops)), ("ref", ("str", "main"))])
    buffers = [("table", [("ref", ("bytes", d))] if d else []) for d in datas]
    model = ("table", [("I", 3), ("ref", ("tables", codes)), ("ref", ("tables", [graph])), ("ref", ("str", "tiny test model")),
                       ("ref", ("tables", buffers))])
    data = Builder(b"TFL3").finish(model)
    with open(os.path.join(OUT, "tiny.tflite"), "wb") as f:
        f.write(data)

    def deq(q, scale, zero, axis):
        q = q.astype(np.float64)
        s = np.array(scale, dtype=np.float32).astype(np.float64)
        z = np.array(zero, dtype=np.float64)
        if s.size > 1:
            b = [1] * q.ndim
            b[axis] = s.size
            s, z = s.reshape(b), z.reshape(b)
        return ((q - z) * s).astype(np.float32).ravel().tolist()

    expected = {
        "conv/weight": deq(conv_q, conv_s, [0, 0, 0], 0),
        "conv/bias": deq(bias_q, bias_s, [0, 0, 0], 0),
        "dw/weight": deq(dw_q, dw_s, [0, 0, 0], 3),
        "fc/weight": fc.ravel().tolist(),
        "u8/table": deq(u8_q, [0.5], [128], 0),
    }
    with open(os.path.join(OUT, "tiny.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print(f"tiny.tflite: {len(data)} bytes")


def main():
    os.makedirs(OUT, exist_ok=True)
    make_tiny()
    model_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "shared", "weights", "yamnet_spectra_in.tflite")
    chosen = [
        ("tower0/network/layer1/conv/Conv2D", 32),                      # int8 [32,3,3,1], per-channel axis 0
        ("tower0/network/layer1/conv/BatchNorm/FusedBatchNormV3", 32),  # int32 bias [32], per-channel axis 0
        ("tower0/network/layer2/sepconv/BatchNorm/FusedBatchNormV3;tower0/network/layer2/sepconv/depthwise", 1),  # int8 [1,3,3,32], axis 3
        ("tower0/network/layer15/conv/Conv2D", 4),                      # int8 [512,1,1,512], first 4 output channels
        ("tower0/network/layer29/fc/MatMul", 4),                        # int8 [521,1024], per-tensor, first 4 rows
        ("network/layer29/fc/biases", 521),                             # int32 [521], per-tensor
    ]
    manifest = []
    for i, (name, shape, rows, kind, values) in enumerate(dequantise(model_path, chosen)):
        file = f"yamnet_{i}.npy"
        np.save(os.path.join(OUT, file), values)
        manifest.append({"name": name, "shape": shape, "rows": rows, "kind": kind, "file": file})
        print(f"{file}: {name} {shape} rows {rows} {kind}")
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
