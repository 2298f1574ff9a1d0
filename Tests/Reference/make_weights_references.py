#!/usr/bin/python3
"""Reference weight files for the Weights tests, written by PyTorch itself.

Run with Debian's python3 (torch 1.13):  /usr/bin/python3 Tests/Reference/make_weights_references.py
Writes Tests/Fixtures/weights/: small torch.save files (zip and legacy format) covering float32/float16/bfloat16/
int64 storages, shared storages with offsets, non-contiguous views and a nested {'model': ..., 'iteration': 0}
checkpoint; the expected tensors as float32 .npy; a narrow random PANNs ResNet22/38 checkpoint; the full-size
PANNs key/shape lists (from the model definition below, no weights); and a safetensors file written byte by byte
per the format spec (stdlib + numpy only: python3-safetensors is not packaged here). manifest.json describes it all.

   /usr/bin/python3 Tests/Reference/make_weights_references.py --verify FILE.safetensors
checks a safetensors file the way the reference (Rust) implementation does and prints its tensors and metadata;
   /usr/bin/python3 Tests/Reference/make_weights_references.py --compare SRC.pt FILE.safetensors
also checks that every tensor equals torch.load(SRC) (its 'model' entry when there is one).
"""
import json, os, struct, sys
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "weights")

ST_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}


def verify_safetensors(path):
    """The rules of safetensors' Metadata::validate: header JSON, offsets sorted, contiguous, covering the buffer."""
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    assert n <= 100_000_000 and 8 + n <= len(data), "header length out of range"
    header = json.loads(data[8:8 + n].decode("utf-8"))
    assert data[8:9] == b"{", "header must start with '{'"
    meta = header.pop("__metadata__", {})
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()), "metadata must be str->str"
    buf = data[8 + n:]
    entries = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"])
    start = 0
    tensors = {}
    for name, info in entries:
        s, e = info["data_offsets"]
        assert s == start and e >= s, f"{name}: offsets {s},{e} leave a hole or overlap (expected start {start})"
        dt = np.dtype(ST_DTYPES[info["dtype"]])
        count = int(np.prod(info["shape"], dtype=np.int64)) if info["shape"] else 1
        assert count * dt.itemsize == e - s, f"{name}: dtype*shape != byte length"
        tensors[name] = np.frombuffer(buf[s:e], dtype=dt).reshape(info["shape"])
        start = e
    assert start == len(buf), "data buffer not fully indexed"
    assert (8 + n) % 8 == 0, "data start not 8-byte aligned"
    return tensors, meta


def write_safetensors(path, tensors, metadata):
    """Byte-for-byte what safetensors.numpy.save_file writes: header padded with spaces to 8 bytes, tensors in order."""
    header, offset, blobs = {}, 0, []
    if metadata:
        header["__metadata__"] = metadata
    for name, (dtype, arr) in tensors.items():
        b = np.ascontiguousarray(arr).astype(ST_DTYPES[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    import torch
    import torch.nn as nn

    torch.manual_seed(1234)
    os.makedirs(OUT, exist_ok=True)
    manifest = {"torch_version": torch.__version__, "files": {}}

    def save_npy(name, t):
        fn = name.replace("/", "_") + ".npy"
        np.save(os.path.join(OUT, fn), t.detach().to(torch.float32).contiguous().numpy())
        return fn

    def record(fname, obj, tensors, legacy, expected_names=None):
        torch.save(obj, os.path.join(OUT, fname), _use_new_zipfile_serialization=not legacy)
        entry = {"format": "torch-legacy" if legacy else "torch-zip", "tensors": {}}
        for name, t in tensors.items():
            entry["tensors"][name] = {"dtype": {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}[t.dtype],
                                      "shape": list(t.shape), "npy": save_npy(fname.split(".")[0] + "__" + name, t)}
        manifest["files"][fname] = entry

    # Shared storages, offsets, strides and every floating dtype in one state dict.
    base = torch.randn(6, 5)
    half = torch.randn(3, 4).half()
    bf = torch.randn(2, 3, 4).bfloat16()
    state = {
        "plain": torch.randn(4, 3),
        "base": base,
        "rows": base[2:5],                  # view of base at storage offset 10
        "transposed": base.t(),             # non-contiguous view of the same storage
        "column": base[:, 3],               # strided 1-d view, offset 3
        "stepped": base[::2, 1::2],         # 2-d view with both strides > 1
        "half": half,
        "half_t": half.t(),
        "bf16": bf,
        "bf16_perm": bf.permute(2, 0, 1),
        "count": torch.tensor(7, dtype=torch.int64),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
        "param": nn.Parameter(torch.randn(5)),
    }
    for legacy in (False, True):
        suffix = "legacy" if legacy else "zip"
        record(f"views_{suffix}.pt", state, state, legacy)

    # A module's state dict (OrderedDict with _metadata) nested under 'model', as PANNs checkpoints are.
    net = nn.Sequential(nn.Conv2d(1, 3, 3, bias=False), nn.BatchNorm2d(3), nn.Linear(4, 2))
    sd = net.state_dict()
    for legacy in (False, True):
        suffix = "legacy" if legacy else "zip"
        record(f"nested_{suffix}.pt", {"model": sd, "iteration": 0}, dict(sd), legacy)

    # PANNs ResNet: full-size key/shape lists (no weights) and a narrow random checkpoint.
    panns = {}
    for arch, layers in (("panns-resnet22", [2, 2, 2, 2]), ("panns-resnet38", [3, 4, 6, 3])):
        full = PannsResNet(layers)
        panns[arch] = [[k, list(v.shape)] for k, v in full.state_dict().items()]
    manifest["panns_full_keys"] = panns
    torch.manual_seed(99)
    narrow = PannsResNet([3, 4, 6, 3], widths=(4, 6, 8, 10), mel=8, classes=5, embedding=16, hidden=12, window=32)
    for p in narrow.parameters():
        p.data.normal_()
    torch.save({"model": narrow.state_dict(), "iteration": 0}, os.path.join(OUT, "panns_resnet38_narrow.pth"))
    manifest["panns_narrow"] = {"file": "panns_resnet38_narrow.pth", "arch": "panns-resnet38",
                                "config": {"widths": [4, 6, 8, 10], "mel_bins": 8, "classes": 5, "embedding": 16, "hidden": 12, "window_size": 32},
                                "keys": [[k, list(v.shape)] for k, v in narrow.state_dict().items()],
                                "fc_audioset.bias": narrow.state_dict()["fc_audioset.bias"].tolist()}

    # A safetensors file laid out per the spec by Python (what the Python library writes), with its expected tensors.
    st = {"w": ("F32", np.arange(12, dtype=np.float32).reshape(3, 4) / 7), "h": ("F16", np.array([1.5, -2.25, 65504], dtype=np.float16)),
          "n": ("I64", np.array([[1, -2], [3, 1 << 40]], dtype=np.int64))}
    write_safetensors(os.path.join(OUT, "python_written.safetensors"), st, {"arch": "test", "note": "written by make_weights_references.py"})
    verify_safetensors(os.path.join(OUT, "python_written.safetensors"))
    manifest["python_safetensors"] = {"file": "python_written.safetensors",
                                      "tensors": {k: {"dtype": d, "shape": list(a.shape), "values": a.astype(np.float64).ravel().tolist()} for k, (d, a) in st.items()}}

    # honk res8 (legacy format, ../shared/weights): per-tensor sums and first values as torch.load sees them.
    for name in ("res8.pt", "res8_narrow.pt"):
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "weights", name)
        if os.path.exists(src):
            sd = torch.load(src, map_location="cpu")
            manifest.setdefault("shared", {})[name] = {k: {"shape": list(v.shape), "sum": float(v.double().sum()), "first": v.reshape(-1)[:3].tolist()} for k, v in sd.items()}

    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    total = sum(os.path.getsize(os.path.join(OUT, x)) for x in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes to {os.path.normpath(OUT)}")


def PannsResNet(layers, widths=(64, 128, 256, 512), mel=64, classes=527, embedding=2048, hidden=2048, window=1024):
    """The parameter layout of qiuqiangkong/audioset_tagging_cnn ResNet22/38 (pytorch/models.py + torchlibrosa),
    rebuilt with plain torch modules so the state-dict keys and shapes are the same."""
    import torch.nn as nn

    class Stft(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv_real = nn.Conv1d(1, window // 2 + 1, window, bias=False)
            self.conv_imag = nn.Conv1d(1, window // 2 + 1, window, bias=False)

    class Spectrogram(nn.Module):
        def __init__(self):
            super().__init__()
            self.stft = Stft()

    class Logmel(nn.Module):
        def __init__(self):
            super().__init__()
            self.melW = nn.Parameter(torch_zeros(window // 2 + 1, mel))

    class ConvBlock(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
            self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.bn2 = nn.BatchNorm2d(cout)

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            cin = widths[0]
            for i, (w, n) in enumerate(zip(widths, layers)):
                blocks = []
                for b in range(n):
                    blocks.append(BasicBlock(cin, w, 2 if (b == 0 and i > 0) else 1))
                    cin = w
                setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.spectrogram_extractor = Spectrogram()
            self.logmel_extractor = Logmel()
            self.bn0 = nn.BatchNorm2d(mel)
            self.conv_block1 = ConvBlock(1, widths[0])
            self.resnet = ResNet()
            self.conv_block_after1 = ConvBlock(widths[3], embedding)
            self.fc1 = nn.Linear(embedding, hidden)
            self.fc_audioset = nn.Linear(hidden, classes)

    return Model()


def torch_zeros(*shape):
    import torch
    return torch.zeros(*shape)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--compare":
        import torch
        src = torch.load(sys.argv[2], map_location="cpu")
        sd = src["model"] if isinstance(src, dict) and "model" in src else src
        tensors, meta = verify_safetensors(sys.argv[3])
        assert set(tensors) == set(sd), f"names differ: {sorted(set(tensors) ^ set(sd))[:8]}"
        for k, v in sd.items():
            assert np.array_equal(tensors[k].astype(np.float64), v.double().numpy()), f"{k} differs"
        print(f"ok: {len(tensors)} tensors equal torch.load({sys.argv[2]}); metadata arch={meta.get('arch')}")
    elif len(sys.argv) == 3 and sys.argv[1] == "--verify":
        tensors, meta = verify_safetensors(sys.argv[2])
        print(json.dumps({"ok": True, "metadata": meta, "tensors": {k: [str(v.dtype), list(v.shape)] for k, v in tensors.items()}}, indent=1))
    else:
        main()
