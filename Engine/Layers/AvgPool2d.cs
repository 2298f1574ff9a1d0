using NativeASD.Kernels;

namespace NativeASD.Engine.Layers;

/// <summary>torch.nn.AvgPool2d (ceil_mode false): the window mean; padded positions count in the divisor unless countIncludePad is false.</summary>
public sealed class AvgPool2d : Pool2d
{
    readonly bool _countIncludePad;

    public AvgPool2d(int kernelSize, int? stride = null, int padding = 0, bool countIncludePad = true, IBackend? backend = null)
        : this((kernelSize, kernelSize), stride is { } s ? (s, s) : null, (padding, padding), countIncludePad, backend) { }

    public AvgPool2d((int H, int W) kernel, (int H, int W)? stride = null, (int H, int W) padding = default, bool countIncludePad = true,
        IBackend? backend = null) : base(kernel, stride, padding, backend) => _countIncludePad = countIncludePad;

    protected override PoolKind Kind => PoolKind.Average;
    protected override bool CountIncludePad => _countIncludePad;
}
