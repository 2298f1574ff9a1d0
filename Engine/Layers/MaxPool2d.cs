using NativeASD.Kernels;

namespace NativeASD.Engine.Layers;

/// <summary>torch.nn.MaxPool2d (ceil_mode false): the maximum of each window; backward routes dy to the window's first maximum.</summary>
public sealed class MaxPool2d : Pool2d
{
    public MaxPool2d(int kernelSize, int? stride = null, int padding = 0, IBackend? backend = null)
        : base((kernelSize, kernelSize), stride is { } s ? (s, s) : null, (padding, padding), backend) { }

    public MaxPool2d((int H, int W) kernel, (int H, int W)? stride = null, (int H, int W) padding = default, IBackend? backend = null)
        : base(kernel, stride, padding, backend) { }

    protected override PoolKind Kind => PoolKind.Max;
}
