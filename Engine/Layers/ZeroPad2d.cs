using NativeASD.Kernels;

namespace NativeASD.Engine.Layers;

/// <summary>
/// Zero padding of the two spatial axes (torch.nn.ZeroPad2d, Keras ZeroPadding2D): x [N, C, H, W] →
/// y [N, C, top + H + bottom, left + W + right], x copied into the middle. Keras pools after zero padding (ResNet's
/// pool1_pad → pool1_pool), which differs from a pooling layer's own −∞ padding when inputs can be negative.
/// Backward: dx is the middle of dy.
/// </summary>
public sealed class ZeroPad2d(ConvPadding padding, IBackend? backend = null) : Layer(backend)
{
    int[]? _inShape;

    public ConvPadding Padding { get; } = padding.IsSame || padding.Top < 0 || padding.Bottom < 0 || padding.Left < 0 || padding.Right < 0
        ? throw new ArgumentException($"ZeroPad2d: padding must be explicit and not negative, got {padding}")
        : padding;

    public override string Describe() => $"ZeroPad2d({Padding})";

    public override Tensor Forward(Tensor x)
    {
        if (x.Rank != 4) throw new ArgumentException($"{Describe()}: input {Layout.Format(x.Shape)} must be [N, C, H, W]");
        int h = x.Dim(2), w = x.Dim(3);
        var y = Tensor.Zeros([x.Dim(0), x.Dim(1), Padding.Top + h + Padding.Bottom, Padding.Left + w + Padding.Right], Backend);
        using var middle = Middle(y, h, w);
        Ops.Copy(x, middle);
        _inShape = Training ? x.ShapeArray() : null;
        return y;
    }

    public override Tensor Backward(Tensor dy)
    {
        var shape = _inShape ?? throw NoForward();
        CheckGradShape(dy, [shape[0], shape[1], Padding.Top + shape[2] + Padding.Bottom, Padding.Left + shape[3] + Padding.Right]);
        _inShape = null;
        using var middle = Middle(dy, shape[2], shape[3]);
        return middle.Contiguous();
    }

    public override void ClearSaved() => _inShape = null;

    Tensor Middle(Tensor padded, int h, int w)
    {
        using var rows = padded.Slice(2, Padding.Top, h);
        return rows.Slice(3, Padding.Left, w);
    }
}
