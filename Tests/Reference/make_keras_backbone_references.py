#!/usr/bin/python3
"""Float64 references for the ST model zoo Keras backbones and their frontend, computed with numpy (no librosa, no
TensorFlow): the `st-aed` frontend on real clips, and every tap of MiniResNet, MiniResNetV2 and yamnet_256 evaluated
layer by layer from each file's own model_config graph.

    /usr/bin/python3 Tests/Reference/make_keras_backbone_references.py

Reads ../shared/weights/{miniresnet_2_stacks_backbone,miniresnetv2_2_stacks_backbone,yamnet_256_f32}.h5 with h5py,
../shared/data clips (int16 / 32768) and ../shared/weights/yamnet_test_spectra.bin. Writes Tests/Fixtures/keras-backbones/:
  st_aed_<clip>.npy     st-aed features [frames, 64] of the whole clip (float64 rounded to float32)
  miniresnet_input.npy  [2, 50, 64]: the first st-aed patch of each clip (frames × mel, our layout); the references
                        below are computed from exactly these float32 values
  <model>_<tap>.npy     each tap in our layout [N, C, T, F] (MiniResNet: Keras [N, mel, time, C] transposed; yamnet_256:
                        Keras [N, time, mel, C] transposed), embedding [N, C]
  manifest.json         clips, taps and the Keras layer each tap is
  miniresnet_tiny.h5    a MiniResNet v1 of 1 stack × 2 blocks, width 4, random weights, written with h5py in the layout
                        Keras 2.9 saves (model_config graph as the zoo's miniresnet.py builds it)
  miniresnet_tiny_bad.h5  the same with conv2_block1_2_conv/kernel:0 shaped [3, 3, 4, 5]: the loader must refuse it
                        naming that tensor

Frontend facts (audio_event_detection/src/preprocessing/feature_extraction.py and the pretrained models' *_config.yaml):
librosa.feature.melspectrogram(sr 16000, n_fft 1024, hop 320, win 1024 'hann' (periodic), center=True, pad_mode
'constant', power 2, n_mels 64, fmin 20, fmax 7500, norm 'slaney', htk False), then librosa.power_to_db(ref=np.max)
with its defaults amin 1e-10 and top_db 80; patches of 50 frames overlapping floor(50 · 0.25) = 12 frames, the
last partial patch dropped. librosa's Slaney mel filterbank is re-implemented below in float64.
"""
import json
import os

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Fixtures", "keras-backbones")
SHARED = os.path.join(HERE, "..", "..", "..", "shared")
os.makedirs(OUT, exist_ok=True)

CLIPS = {
    "dcase_fan": "data/dcase2020-lite/fan/normal_id_00_00000000.wav",
    "sensiml_fan": "data/sensiml-fan/test/anomaly_blade_fault_20200318T205628_1.wav",
}


def save(name, array):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(array, dtype=np.float32))
    return name


def read_wav(path):
    import wave
    with wave.open(path) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1 and w.getframerate() == 16000, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0


# ---- st-aed frontend (librosa melspectrogram + power_to_db(ref=np.max), float64) ---------------------------------

def hz_to_mel(f):
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-300) / min_log_hz) / logstep, f / f_sp)


def mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def slaney_mel(rate, n_fft, bands, fmin, fmax):
    """librosa.filters.mel(htk=False, norm='slaney'): triangles linear in Hz between Slaney-mel-spaced edges, unit area."""
    fft_hz = np.linspace(0, rate / 2, 1 + n_fft // 2)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), bands + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    weights = np.zeros((bands, fft_hz.size))
    for i in range(bands):
        lower = -ramps[i] / widths[i]
        upper = ramps[i + 2] / widths[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    return weights * (2.0 / (edges[2:bands + 2] - edges[:bands]))[:, None]


def st_aed(samples):
    n_fft, hop = 1024, 320
    padded = np.pad(samples, n_fft // 2)                                       # center=True, pad_mode='constant'
    frames = 1 + (padded.size - n_fft) // hop
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)          # periodic Hann
    index = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    power = np.abs(np.fft.rfft(padded[index] * window, axis=1)) ** 2           # [frames, 513]
    mel = power @ slaney_mel(16000, n_fft, 64, 20.0, 7500.0).T                  # [frames, 64]
    amin, top_db = 1e-10, 80.0
    db = 10 * np.log10(np.maximum(amin, mel)) - 10 * np.log10(max(amin, mel.max()))
    return np.maximum(db, db.max() - top_db)


def patches(features, length=50, overlap=0.25):
    hop = length - int(np.floor(length * overlap))
    count = 0 if features.shape[0] < length else 1 + (features.shape[0] - length) // hop
    return [features[i * hop:i * hop + length] for i in range(count)]


# ---- Keras graph evaluation (NHWC, float64) ---------------------------------------------------------------------

def same_pads(size, k, stride):
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def pad_for(x, k, strides, padding):
    if padding == "valid":
        return x
    (t, b), (l, r) = same_pads(x.shape[1], k[0], strides[0]), same_pads(x.shape[2], k[1], strides[1])
    return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))


def windows(x, k, strides):
    """(a, b, view) for every kernel offset: view[n, i, j, c] = x[n, i·s + a, j·s + b, c]."""
    ho = (x.shape[1] - k[0]) // strides[0] + 1
    wo = (x.shape[2] - k[1]) // strides[1] + 1
    for a in range(k[0]):
        for b in range(k[1]):
            yield a, b, x[:, a:a + strides[0] * (ho - 1) + 1:strides[0], b:b + strides[1] * (wo - 1) + 1:strides[1], :]


def conv2d(x, kernel, bias, strides, padding):
    k = kernel.shape[:2]
    x = pad_for(x, k, strides, padding)
    y = sum(np.einsum("nhwc,co->nhwo", v, kernel[a, b]) for a, b, v in windows(x, k, strides))
    return y + bias if bias is not None else y


def depthwise2d(x, kernel, strides, padding):
    k = kernel.shape[:2]
    x = pad_for(x, k, strides, padding)
    return sum(v * kernel[a, b, :, 0] for a, b, v in windows(x, k, strides))


def maxpool2d(x, pool, strides, padding):
    if padding == "same":
        (t, b), (l, r) = same_pads(x.shape[1], pool[0], strides[0]), same_pads(x.shape[2], pool[1], strides[1])
        x = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=-np.inf)
    return np.max(np.stack([v for _, _, v in windows(x, pool, strides)]), axis=0)


class Weights:
    """Every weight of a Keras HDF5 file by its name ("conv1_conv/kernel:0", "layer1/conv/bn/beta:0"), as float64."""

    def __init__(self, h5):
        self.values = {}
        root = h5["model_weights"]
        for layer in root.attrs["layer_names"]:
            group = root[layer.decode() if isinstance(layer, bytes) else layer]
            for name in group.attrs.get("weight_names", []):
                name = name.decode() if isinstance(name, bytes) else name
                self.values[name] = np.asarray(group[name], dtype=np.float64)

    def get(self, layer, var):
        return self.values.get(f"{layer}/{var}:0")


def activation(x, name):
    if name == "relu":
        return np.maximum(x, 0)
    assert name == "linear", name
    return x


def run_layer(cls, cfg, inputs, w, name):
    x = inputs[0]
    if cls == "ZeroPadding2D":
        (t, b), (l, r) = cfg["padding"]
        return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))
    if cls == "Conv2D":
        assert cfg["dilation_rate"] == [1, 1] and cfg.get("groups", 1) == 1
        y = conv2d(x, w.get(name, "kernel"), w.get(name, "bias") if cfg["use_bias"] else None, cfg["strides"], cfg["padding"])
        return activation(y, cfg["activation"])
    if cls == "DepthwiseConv2D":
        assert cfg["dilation_rate"] == [1, 1] and cfg["depth_multiplier"] == 1 and not cfg["use_bias"]
        return activation(depthwise2d(x, w.get(name, "depthwise_kernel"), cfg["strides"], cfg["padding"]), cfg["activation"])
    if cls == "BatchNormalization":
        gamma = w.get(name, "gamma") if cfg["scale"] else 1.0
        beta = w.get(name, "beta") if cfg["center"] else 0.0
        return (x - w.get(name, "moving_mean")) / np.sqrt(w.get(name, "moving_variance") + cfg["epsilon"]) * gamma + beta
    if cls == "Activation":
        return activation(x, cfg["activation"])
    if cls == "ReLU":
        assert cfg["max_value"] is None and cfg["negative_slope"] == 0 and cfg["threshold"] == 0
        return np.maximum(x, 0)
    if cls == "MaxPooling2D":
        return maxpool2d(x, cfg["pool_size"], cfg["strides"], cfg["padding"])
    if cls == "Add":
        return sum(inputs)
    if cls == "GlobalAveragePooling2D":
        return x.mean(axis=(1, 2))
    if cls == "Flatten":
        return x.reshape(x.shape[0], -1)
    raise ValueError(f"layer {name}: {cls} is not evaluated here")


def run_model(config, x, w, outputs):
    """Evaluates a Functional or Sequential config on x; records every layer's output in `outputs` by name."""
    layers = config["config"]["layers"]
    if config["class_name"] == "Sequential":
        current = x
        for layer in layers:
            if layer["class_name"] == "InputLayer":
                continue
            current = run_any(layer, [current], w, outputs)
        return current
    values = {}
    for layer in layers:
        name = layer["config"]["name"]
        if layer["class_name"] == "InputLayer":
            values[name] = x
        else:
            inbound = [values[node[0]] for node in layer["inbound_nodes"][0]]
            values[name] = run_any(layer, inbound, w, outputs)
    return values[config["config"]["output_layers"][0][0]]


def run_any(layer, inputs, w, outputs):
    name = layer["config"]["name"]
    if layer["class_name"] in ("Functional", "Model", "Sequential"):
        y = run_model(layer, inputs[0], w, outputs)
    else:
        y = run_layer(layer["class_name"], layer["config"], inputs, w, name)
    outputs[name] = y
    return y


def evaluate(file, x):
    with h5py.File(os.path.join(SHARED, "weights", file), "r") as h5:
        config = json.loads(h5.attrs["model_config"])
        w = Weights(h5)
        outputs = {}
        run_model(config, x, w, outputs)
        return outputs


# Our tap → the Keras layer whose output it is.
MINIRESNET_TAPS = {
    "conv1": "conv1_relu", "pool1": "pool1_pool",
    "conv2_block1": "conv2_block1_out", "conv2_block2": "conv2_block2_out",
    "conv3_block1": "conv3_block1_out", "conv3_block2": "conv3_block2_out",
}
MINIRESNETV2_TAPS = dict(MINIRESNET_TAPS, conv1="conv1_conv", post="post_relu")
YAMNET256_TAPS = dict({"layer1": "layer1/relu"}, **{f"layer{k}": f"layer{k}/pointwise_conv/relu" for k in range(2, 7)})


def tiny_miniresnet(path, bad):
    """A MiniResNet v1 (1 stack of 2 blocks, width 4) as Keras saves it, built from the zoo's block1_custom facts."""
    layers, weights = [], {}
    rng = np.random.default_rng(3)

    def add(cls, name, inputs, **config):
        layers.append({"class_name": cls, "config": dict(name=name, **config), "name": name,
                       "inbound_nodes": [[[i, 0, 0, {}] for i in inputs]] if inputs else []})

    def conv(name, x, filters, k, stride, padding, cin):
        add("Conv2D", name, [x], filters=filters, kernel_size=[k, k], strides=[stride, stride], padding=padding,
            data_format="channels_last", dilation_rate=[1, 1], activation="linear", use_bias=True)
        weights[name] = {"kernel:0": rng.normal(0, 0.3, (k, k, cin, filters)), "bias:0": rng.normal(0, 0.1, filters)}

    def bn(name, x, c):
        add("BatchNormalization", name, [x], axis=[3], momentum=0.99, epsilon=1.001e-5, center=True, scale=True)
        weights[name] = {"gamma:0": rng.uniform(0.5, 1.5, c), "beta:0": rng.normal(0, 0.1, c),
                         "moving_mean:0": rng.normal(0, 0.1, c), "moving_variance:0": rng.uniform(0.5, 1.5, c)}

    add("InputLayer", "input_1", [], batch_input_shape=[None, 16, 16, 1], dtype="float32")
    add("ZeroPadding2D", "conv1_pad", ["input_1"], padding=[[3, 3], [3, 3]], data_format="channels_last")
    conv("conv1_conv", "conv1_pad", 4, 7, 2, "valid", 1)
    bn("conv1_bn", "conv1_conv", 4)
    add("Activation", "conv1_relu", ["conv1_bn"], activation="relu")
    add("ZeroPadding2D", "pool1_pad", ["conv1_relu"], padding=[[1, 1], [1, 1]], data_format="channels_last")
    add("MaxPooling2D", "pool1_pool", ["pool1_pad"], pool_size=[3, 3], padding="valid", strides=[2, 2], data_format="channels_last")
    x = "pool1_pool"
    for b in (1, 2):
        n = f"conv2_block{b}"
        shortcut = x
        if b == 1:
            conv(f"{n}_0_conv", x, 4, 1, 2, "valid", 4)
            bn(f"{n}_0_bn", f"{n}_0_conv", 4)
            shortcut = f"{n}_0_bn"
        conv(f"{n}_1_conv", x, 4, 1, 2 if b == 1 else 1, "valid", 4)
        bn(f"{n}_1_bn", f"{n}_1_conv", 4)
        add("Activation", f"{n}_1_relu", [f"{n}_1_bn"], activation="relu")
        conv(f"{n}_2_conv", f"{n}_1_relu", 4, 3, 1, "same", 4)
        bn(f"{n}_2_bn", f"{n}_2_conv", 4)
        add("Activation", f"{n}_2_relu", [f"{n}_2_bn"], activation="relu")
        add("Add", f"{n}_add", [shortcut, f"{n}_2_relu"])
        add("Activation", f"{n}_out", [f"{n}_add"], activation="relu")
        x = f"{n}_out"
    if bad:
        weights["conv2_block1_2_conv"]["kernel:0"] = rng.normal(0, 0.3, (3, 3, 4, 5))
    config = {"class_name": "Functional", "config": {"name": "model", "layers": layers,
                                                     "input_layers": [["input_1", 0, 0]], "output_layers": [[x, 0, 0]]}}
    with h5py.File(path, "w") as h5:
        h5.attrs["keras_version"] = "2.9.0"
        h5.attrs["backend"] = "tensorflow"
        h5.attrs["model_config"] = json.dumps(config)
        root = h5.create_group("model_weights")
        root.attrs["layer_names"] = np.array([l["name"].encode() for l in layers])
        for layer in layers:
            group = root.create_group(layer["name"])
            names = [f"{layer['name']}/{w}" for w in weights.get(layer["name"], {})]
            group.attrs["weight_names"] = np.array([n.encode() for n in names])
            for w, value in weights.get(layer["name"], {}).items():
                group.create_dataset(f"{layer['name']}/{w}", data=value.astype(np.float32))


def main():
    tiny_miniresnet(os.path.join(OUT, "miniresnet_tiny.h5"), bad=False)
    tiny_miniresnet(os.path.join(OUT, "miniresnet_tiny_bad.h5"), bad=True)
    manifest = {"clips": {}, "models": {}}
    first_patches = []
    for clip, path in CLIPS.items():
        samples = read_wav(os.path.join(SHARED, path))
        features = st_aed(samples)
        manifest["clips"][clip] = {"path": path, "samples": int(samples.size), "frames": int(features.shape[0]),
                                   "patches": len(patches(features)), "features": save(f"st_aed_{clip}.npy", features)}
        first_patches.append(patches(features)[0])
    net_input = np.stack(first_patches).astype(np.float32)                      # [2, 50 frames, 64 mel]
    manifest["miniresnet_input"] = save("miniresnet_input.npy", net_input)
    keras_input = net_input.astype(np.float64).transpose(0, 2, 1)[..., None]   # Keras [N, 64 mel, 50 frames, 1]

    for model, file, taps in (("miniresnet", "miniresnet_2_stacks_backbone.h5", MINIRESNET_TAPS),
                              ("miniresnetv2", "miniresnetv2_2_stacks_backbone.h5", MINIRESNETV2_TAPS)):
        outputs = evaluate(file, keras_input)
        entry = {"file": file, "taps": {}}
        last = None
        for tap, layer in taps.items():
            y = outputs[layer].transpose(0, 3, 2, 1)                            # [N, mel, time, C] → [N, C, time, mel]
            entry["taps"][tap] = {"layer": layer, "file": save(f"{model}_{tap}.npy", y)}
            last = y
        entry["taps"]["embedding"] = {"layer": "mean of the last map", "file": save(f"{model}_embedding.npy", last.mean(axis=(2, 3)))}
        manifest["models"][model] = entry

    spectra = np.fromfile(os.path.join(SHARED, "weights", "yamnet_test_spectra.bin"), dtype="<f4").reshape(1, 96, 64)
    outputs = evaluate("yamnet_256_f32.h5", spectra.astype(np.float64)[..., None])
    entry = {"file": "yamnet_256_f32.h5", "input": "weights/yamnet_test_spectra.bin", "taps": {}}
    for tap, layer in YAMNET256_TAPS.items():
        entry["taps"][tap] = {"layer": layer, "file": save(f"yamnet256_{tap}.npy", outputs[layer].transpose(0, 3, 1, 2))}
    gap = [k for k in outputs if k.startswith("global_average_pooling2d")][0]
    entry["taps"]["embedding"] = {"layer": gap, "file": save("yamnet256_embedding.npy", outputs[gap])}
    manifest["models"]["yamnet256"] = entry

    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total / 1e6:.2f} MB to {OUT}")


if __name__ == "__main__":
    main()
