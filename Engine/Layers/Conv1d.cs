using NativeASD.Engine.Optim;
using NativeASD.Kernels;

namespace NativeASD.Engine.Layers;

/// <summary>
/// 1-D convolution (torch.nn.Conv1d): x [N, C, L] → y [N, O, Lo], weight [O, C/groups, k], optional bias [O].
/// Runs on the 2-D path as a [N, C, 1, L] input and a 1×k kernel (same memory layout, so no copies).
/// Padding: pixels per side (left, right), or "SAME" via <see cref="ConvPadding.Same"/>.
/// </summary>
public sealed class Conv1d : Layer
{
    public Parameter Weight { get; }
    public Parameter? Bias { get; }
    public int InChannels { get; }
    public int OutChannels { get; }
    public int KernelSize { get; }
    public int Stride { get; }
    public ConvPadding Padding { get; }
    public int Dilation { get; }
    public int Groups { get; }

    Tensor? _x;                 // [N, C, 1, L] contiguous
    Conv2dGeometry _geometry;

    public Conv1d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int dilation = 1, int groups = 1,
        bool bias = true, SeededRandom? init = null, IBackend? backend = null)
        : this(inChannels, outChannels, kernelSize, stride, new ConvPadding(0, 0, padding, padding), dilation, groups, bias, init, backend) { }

    /// <summary>Padding uses Left/Right (or IsSame); Top/Bottom must be 0.</summary>
    public Conv1d(int inChannels, int outChannels, int kernelSize, int stride, ConvPadding padding, int dilation = 1, int groups = 1,
        bool bias = true, SeededRandom? init = null, IBackend? backend = null) : base(backend)
    {
        (InChannels, OutChannels, KernelSize, Stride, Padding, Dilation, Groups) = (inChannels, outChannels, kernelSize, stride, padding, dilation, groups);
        if (inChannels < 1 || outChannels < 1 || groups < 1 || inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"{Describe()}: channels {inChannels}→{outChannels} must be positive and divisible by groups={groups}");
        if (kernelSize < 1 || stride < 1 || dilation < 1 || padding.Left < 0 || padding.Right < 0 || padding.Top != 0 || padding.Bottom != 0)
            throw new ArgumentException($"{Describe()}: kernel, stride, dilation must be >= 1 and padding left/right only, >= 0");
        Weight = AddParameter("weight", outChannels, inChannels / groups, kernelSize);
        Bias = bias ? AddParameter("bias", outChannels) : null;
        if (init is not null) Init.TorchDefault(Weight.Value, Bias?.Value, init);
    }

    public override string Describe() =>
        $"Conv1d({InChannels}→{OutChannels}, kernel {KernelSize}, stride {Stride}, padding {(Padding.IsSame ? "SAME" : $"{Padding.Left},{Padding.Right}")}" +
        (Dilation != 1 ? $", dilation {Dilation}" : "") + (Groups != 1 ? $", groups {Groups}" : "") + ")";

    Conv2dGeometry GeometryFor(ReadOnlySpan<int> shape)
    {
        if (shape.Length != 3 || shape[1] != InChannels)
            throw new ArgumentException($"{Describe()}: input {Layout.Format(shape)} must be [N, {InChannels}, L]");
        int length = shape[2];
        var (l, r) = Padding.IsSame ? ConvPadding.SameAlong(length, KernelSize, Stride, Dilation) : (Padding.Left, Padding.Right);
        int reach = Dilation * (KernelSize - 1) + 1;
        if (length + l + r < reach)
            throw new ArgumentException($"{Describe()}: input {Layout.Format(shape)} (padded length {length + l + r}) is shorter than the kernel's reach {reach}");
        return new Conv2dGeometry(shape[0], InChannels, 1, length, OutChannels, 1, KernelSize, 1, Stride, 0, 0, l, r, 1, Dilation, Groups);
    }

    public override Tensor Forward(Tensor x)
    {
        var g = GeometryFor(x.Shape);
        using var xc = x.Contiguous();
        using var x4 = xc.Reshape(g.InputShape);
        using var w4 = Weight.Value.Reshape(g.WeightShape);
        var y = Tensor.Empty([g.Batch, OutChannels, g.OutWidth], Backend);
        using (var y4 = y.Reshape(g.OutputShape))
            Backend.Conv2dForward(g, x4.View, w4.View, Bias?.Value.View, y4.View);
        if (Training) { Keep(ref _x, x4.Share()); _geometry = g; }
        else ClearSaved();
        return y;
    }

    public override Tensor Backward(Tensor dy)
    {
        var x4 = Saved(_x);
        var g = _geometry;
        CheckGradShape(dy, [g.Batch, OutChannels, g.OutWidth]);
        using var dyc = dy.Contiguous();
        using var dy4 = dyc.Reshape(g.OutputShape);
        ConvGradients.Parameters(Backend, g, x4, dy4, Weight, Bias);
        using var w4 = Weight.Value.Reshape(g.WeightShape);
        var dx = Tensor.Empty([g.Batch, InChannels, g.Width], Backend);
        using (var dx4 = dx.Reshape(g.InputShape))
            Backend.Conv2dBackwardData(g, dy4.View, w4.View, dx4.View);
        ClearSaved();
        return dx;
    }

    public override void ClearSaved() => Keep(ref _x, null);
}
