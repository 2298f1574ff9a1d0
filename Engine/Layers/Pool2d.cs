using NativeASD.Kernels;

namespace NativeASD.Engine.Layers;

/// <summary>
/// Shared part of <see cref="MaxPool2d"/> and <see cref="AvgPool2d"/>: x [N, C, H, W] → y [N, C, Ho, Wo] with torch's
/// floor output size and symmetric padding of at most half the kernel. The backend does the arithmetic.
/// </summary>
public abstract class Pool2d : Layer
{
    public (int H, int W) Kernel { get; }
    public (int H, int W) Stride { get; }
    public (int H, int W) Padding { get; }
    protected abstract PoolKind Kind { get; }
    protected virtual bool CountIncludePad => true;

    Pool2dGeometry _geometry;
    Tensor? _indices;     // max pooling: flat input index of each output's maximum
    bool _saved;

    protected Pool2d((int H, int W) kernel, (int H, int W)? stride, (int H, int W) padding, IBackend? backend) : base(backend)
    {
        Kernel = kernel;
        Stride = stride ?? kernel;
        Padding = padding;
        if (kernel.H < 1 || kernel.W < 1 || Stride.H < 1 || Stride.W < 1)
            throw new ArgumentException($"{GetType().Name}: kernel {kernel} and stride {Stride} must be >= 1");
        if (padding.H < 0 || padding.W < 0 || 2 * padding.H > kernel.H || 2 * padding.W > kernel.W)
            throw new ArgumentException($"{GetType().Name}: padding {padding} must be between 0 and half the kernel {kernel}");
    }

    public override string Describe() =>
        $"{GetType().Name}(kernel {Kernel.H}x{Kernel.W}, stride {Stride.H}x{Stride.W}, padding {Padding.H}x{Padding.W})";

    public Pool2dGeometry GeometryFor(ReadOnlySpan<int> shape)
    {
        if (shape.Length != 4)
            throw new ArgumentException($"{Describe()}: input {Layout.Format(shape)} must be [N, C, H, W]");
        if (shape[2] + 2 * Padding.H < Kernel.H || shape[3] + 2 * Padding.W < Kernel.W)
            throw new ArgumentException($"{Describe()}: input {Layout.Format(shape)} is smaller than the kernel");
        return new Pool2dGeometry(Kind, shape[0], shape[1], shape[2], shape[3], Kernel.H, Kernel.W, Stride.H, Stride.W,
            Padding.H, Padding.W, CountIncludePad);
    }

    public override Tensor Forward(Tensor x)
    {
        var g = GeometryFor(x.Shape);
        using var xc = x.Contiguous();
        var y = Tensor.Empty(g.OutputShape, Backend);
        Tensor? indices = Training && Kind == PoolKind.Max ? Tensor.Empty(g.OutputShape, Backend) : null;
        Backend.Pool2dForward(g, xc.View, y.View, indices?.View);
        Keep(ref _indices, indices);
        _saved = Training;
        _geometry = g;
        return y;
    }

    public override Tensor Backward(Tensor dy)
    {
        if (!_saved) Saved(null);
        var g = _geometry;
        CheckGradShape(dy, g.OutputShape);
        using var dyc = dy.Contiguous();
        var dx = Tensor.Empty(g.InputShape, Backend);
        Backend.Pool2dBackward(g, dyc.View, _indices?.View, dx.View);
        ClearSaved();
        return dx;
    }

    public override void ClearSaved()
    {
        Keep(ref _indices, null);
        _saved = false;
    }
}
