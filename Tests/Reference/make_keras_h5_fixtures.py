#!/usr/bin/env python3
"""Keras-shaped HDF5 fixtures for our own HDF5 reader, written with h5py (Debian python3-h5py; no Keras needed).

    /usr/bin/python3 Tests/Reference/make_keras_h5_fixtures.py

Writes Tests/Fixtures/keras/:
  model_v0.h5        model.save() layout (model_weights/<layer>/<layer>/<weight>), h5py defaults: superblock v0,
                     v1 object headers, symbol-table groups, fixed-length layer_names/weight_names, variable-length
                     string attributes (keras_version, model_config), float32 and float64 weights, and one weight
                     chunked (2 elements) with shuffle + gzip.
  weights_latest.h5  save_weights() layout (layers at the root), libver='latest': superblock v3, v2 object headers
                     (OHDR), link messages, layout message v4, variable-length string arrays.
  userblock.h5       a 512-byte user block before the superblock, a compact-layout weight, a big-endian float32 weight,
                     and weight_names split into weight_names0/weight_names1 as Keras splits lists over 64 KiB.
  unsupported_latest.h5  what the reader refuses with a clear error: a group of 9 links with libver='latest' (dense
                     link storage in a fractal heap) and a dataset of 3 chunks (a fixed-array chunk index).
and manifest.json: per file the weights in layer order (name, shape, dtype, values), the model_config layer classes
and the string metadata. KerasH5Tests compares the C# reader against it (exact: values are stored as written).
"""
import json
import os

import h5py
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "keras")
CONFIG = json.dumps({"class_name": "Sequential", "config": {"name": "s", "layers": [
    {"class_name": "Dense", "config": {"name": "dense", "units": 3, "activation": "linear"}},
    {"class_name": "BatchNormalization", "config": {"name": "batch_normalization", "epsilon": 0.001}},
    {"class_name": "Activation", "config": {"name": "activation", "activation": "relu"}}]}})

rng = np.random.default_rng(7)


def values(shape, dtype=np.float32):
    return (rng.random(shape) * 2 - 1).astype(dtype)


def layer(parent, name, weights, vlen_names, manifest, split_names=False, **dataset_options):
    """A Keras layer group: <name>/<name>/<weight> datasets and a weight_names attribute (or one per weight, split)."""
    group = parent.create_group(name)
    names = [f"{name}/{w}" for w, _ in weights]
    if split_names:
        for i, n in enumerate(names):
            group.attrs[f"weight_names{i}"] = np.array([n.encode()])
    else:
        group.attrs["weight_names"] = names if vlen_names else np.array([n.encode() for n in names])
    for weight, data in weights:
        options = dataset_options.get(weight, {})
        if options.get("compact"):
            # h5py's create_dataset has no layout option; the low-level API sets a compact layout.
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_layout(h5py.h5d.COMPACT)
            space = h5py.h5s.create_simple(data.shape)
            tid = h5py.h5t.py_create(data.dtype)
            inner = group.require_group(name)
            dataset = h5py.h5d.create(inner.id, weight.encode(), tid, space, dcpl=dcpl)
            dataset.write(h5py.h5s.ALL, h5py.h5s.ALL, np.ascontiguousarray(data))
        else:
            group.create_dataset(f"{name}/{weight}", data=data, **{k: v for k, v in options.items() if k != "compact"})
        manifest.append({"name": f"{name}/{weight}", "shape": list(data.shape), "dtype": str(data.dtype.newbyteorder("=")),
                         "values": [float(v) for v in data.astype(np.float64).ravel()]})
    return group


def model_v0(manifest):
    with h5py.File(os.path.join(OUT, "model_v0.h5"), "w") as f:
        f.attrs["keras_version"] = "2.4.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = CONFIG
        weights = f.create_group("model_weights")
        layer(weights, "dense", [("kernel:0", values((4, 3))), ("bias:0", values(3, np.float64))], False, manifest)
        layer(weights, "batch_normalization", [("gamma:0", values(3)), ("beta:0", values(3)), ("moving_mean:0", values(3)),
              ("moving_variance:0", np.abs(values(3)))], False, manifest,
              **{"moving_variance:0": {"chunks": (2,), "compression": "gzip", "shuffle": True}})
        layer(weights, "activation", [], False, manifest)
        weights.attrs["layer_names"] = np.array([b"dense", b"batch_normalization", b"activation"])


def weights_latest(manifest):
    with h5py.File(os.path.join(OUT, "weights_latest.h5"), "w", libver="latest") as f:
        f.attrs["keras_version"] = "2.4.0"
        f.attrs["backend"] = "tensorflow"
        layer(f, "dense", [("kernel:0", values((4, 3))), ("bias:0", values(3))], True, manifest)
        layer(f, "dense_1", [("kernel:0", values((3, 2), np.float64)), ("bias:0", values(2))], True, manifest)
        f.attrs["layer_names"] = ["dense", "dense_1"]


def userblock(manifest):
    with h5py.File(os.path.join(OUT, "userblock.h5"), "w", userblock_size=512) as f:
        f.attrs["keras_version"] = "2.4.0"
        layer(f, "dense", [("kernel:0", values((2, 3))), ("bias:0", values(3).astype(">f4"))], False, manifest,
              split_names=True, **{"kernel:0": {"compact": True}})
        f.attrs["layer_names"] = np.array([b"dense"])


def unsupported_latest():
    with h5py.File(os.path.join(OUT, "unsupported_latest.h5"), "w", libver="latest") as f:
        many = f.create_group("many")
        for i in range(9):
            many.create_group(f"g{i}")
        f.create_dataset("chunked", data=np.arange(6, dtype=np.float32), chunks=(2,))


def main():
    os.makedirs(OUT, exist_ok=True)
    manifest = {}
    for write in (model_v0, weights_latest, userblock):
        tensors = []
        write(tensors)
        manifest[write.__name__] = tensors
    unsupported_latest()
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    for name in sorted(os.listdir(OUT)):
        print(name, os.path.getsize(os.path.join(OUT, name)))


if __name__ == "__main__":
    main()
