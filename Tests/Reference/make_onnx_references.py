#!/usr/bin/env python3
"""ONNX reader fixtures from Debian's torch (torch.onnx.export needs no onnx package).

    /usr/bin/python3 Tests/Reference/make_onnx_references.py

Writes Tests/Fixtures/onnx/tiny.onnx (Conv2d 2→3 3×3 + BatchNorm2d + Linear, constant folding off so every
parameter stays an initializer, exported in eval mode) and tiny.json: the state dict's tensors by name with shapes and
values. OnnxTests reads the file with the C# reader and compares the initializers against them (exact: raw float32).
"""
import json
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "onnx")


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 3)
        self.bn = torch.nn.BatchNorm2d(3)
        self.fc = torch.nn.Linear(3, 4)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        return self.fc(x.mean(dim=(2, 3)))


def main():
    torch.manual_seed(5)
    model = Tiny()
    with torch.no_grad():
        model.bn.running_mean.uniform_(-1, 1)
        model.bn.running_var.uniform_(0.5, 2)
    model.eval()
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "tiny.onnx")
    torch.onnx.export(model, torch.zeros(1, 2, 5, 5), path, do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE,
                      input_names=["input"], output_names=["output"], opset_version=13)
    expected = {k: {"shape": list(v.shape), "values": v.float().flatten().tolist()}
                for k, v in model.state_dict().items() if v.dtype.is_floating_point}
    with open(os.path.join(OUT, "tiny.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print(f"tiny.onnx: {os.path.getsize(path)} bytes; {sorted(expected)}")


if __name__ == "__main__":
    main()
