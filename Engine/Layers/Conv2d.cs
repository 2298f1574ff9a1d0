using NativeASD.Engine.Optim;
using NativeASD.Kernels;

namespace NativeASD.Engine.Layers;

/// <summary>
/// 2-D convolution over NCHW tensors (torch.nn.Conv2d, plus TF "SAME" padding): x [N, C, H, W] → y [N, O, Ho, Wo].
/// weight [O, C/groups, kh, kw] and optional bias [O], named "weight"/"bias" like torch's state dict. Any kernel,
/// stride, padding per side, dilation and groups (depthwise when groups = C). The arithmetic runs in the backend
/// (<see cref="IBackend.Conv2dForward"/> and its two backward ops). Parameters start at zero unless a generator is
/// given (then torch's default init).
/// </summary>
public sealed class Conv2d : Layer
{
    public Parameter Weight { get; }
    public Parameter? Bias { get; }
    public int InChannels { get; }
    public int OutChannels { get; }
    public (int H, int W) Kernel { get; }
    public (int H, int W) Stride { get; }
    public ConvPadding Padding { get; }
    public (int H, int W) Dilation { get; }
    public int Groups { get; }

    Tensor? _x;                 // [N, C, H, W] contiguous, kept for the weight gradient
    Conv2dGeometry _geometry;   // of the last training-mode forward

    public Conv2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int dilation = 1, int groups = 1,
        bool bias = true, SeededRandom? init = null, IBackend? backend = null)
        : this(inChannels, outChannels, (kernelSize, kernelSize), (stride, stride), padding, (dilation, dilation), groups, bias, init, backend) { }

    public Conv2d(int inChannels, int outChannels, (int H, int W) kernel, (int H, int W) stride, ConvPadding padding, (int H, int W) dilation,
        int groups = 1, bool bias = true, SeededRandom? init = null, IBackend? backend = null) : base(backend)
    {
        (InChannels, OutChannels, Kernel, Stride, Padding, Dilation, Groups) = (inChannels, outChannels, kernel, stride, padding, dilation, groups);
        if (inChannels < 1 || outChannels < 1 || groups < 1 || inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"{Describe()}: channels {inChannels}→{outChannels} must be positive and divisible by groups={groups}");
        if (kernel.H < 1 || kernel.W < 1 || stride.H < 1 || stride.W < 1 || dilation.H < 1 || dilation.W < 1)
            throw new ArgumentException($"{Describe()}: kernel, stride and dilation must be >= 1");
        if (padding.Top < 0 || padding.Bottom < 0 || padding.Left < 0 || padding.Right < 0)
            throw new ArgumentException($"{Describe()}: negative padding {padding}");
        Weight = AddParameter("weight", outChannels, inChannels / groups, kernel.H, kernel.W);
        Bias = bias ? AddParameter("bias", outChannels) : null;
        if (init is not null) Init.TorchDefault(Weight.Value, Bias?.Value, init);
    }

    public override string Describe() =>
        $"Conv2d({InChannels}→{OutChannels}, kernel {Kernel.H}x{Kernel.W}, stride {Stride.H}x{Stride.W}, padding {Padding}" +
        (Dilation != (1, 1) ? $", dilation {Dilation.H}x{Dilation.W}" : "") + (Groups != 1 ? $", groups {Groups}" : "") + ")";

    /// <summary>The geometry for an input [N, C, H, W], or an error naming the layer and the shape.</summary>
    public Conv2dGeometry GeometryFor(ReadOnlySpan<int> shape)
    {
        if (shape.Length != 4 || shape[1] != InChannels)
            throw new ArgumentException($"{Describe()}: input {Layout.Format(shape)} must be [N, {InChannels}, H, W]");
        int h = shape[2], w = shape[3];
        var (t, b) = Padding.IsSame ? ConvPadding.SameAlong(h, Kernel.H, Stride.H, Dilation.H) : (Padding.Top, Padding.Bottom);
        var (l, r) = Padding.IsSame ? ConvPadding.SameAlong(w, Kernel.W, Stride.W, Dilation.W) : (Padding.Left, Padding.Right);
        var g = new Conv2dGeometry(shape[0], InChannels, h, w, OutChannels, Kernel.H, Kernel.W, Stride.H, Stride.W, t, b, l, r,
            Dilation.H, Dilation.W, Groups);
        int reachH = Dilation.H * (Kernel.H - 1) + 1, reachW = Dilation.W * (Kernel.W - 1) + 1;
        if (h + t + b < reachH || w + l + r < reachW)
            throw new ArgumentException($"{Describe()}: input {Layout.Format(shape)} (padded {h + t + b}x{w + l + r}) is smaller than the kernel's reach {reachH}x{reachW}");
        return g;
    }

    public override Tensor Forward(Tensor x)
    {
        var g = GeometryFor(x.Shape);
        using var xc = x.Contiguous();
        var y = Tensor.Empty(g.OutputShape, Backend);
        Backend.Conv2dForward(g, xc.View, Weight.Value.View, Bias?.Value.View, y.View);
        if (Training) { Keep(ref _x, xc.Share()); _geometry = g; }
        else ClearSaved();
        return y;
    }

    /// <summary>
    /// Evaluation mode: this conv, the BatchNorm after it, an optional residual add and ReLU as one backend op
    /// (<see cref="IBackend.Conv2dForwardFused"/>), so the output is written once. The BatchNorm folds into a per-channel
    /// scale and shift (and this conv's bias into the shift) taken from the current tensors at each call: [O] values, so no
    /// folded copy of the weights exists that a later weight change or a return to training could leave stale.
    /// </summary>
    public Tensor ForwardFused(Tensor x, BatchNorm2d bn, Tensor? residual, bool relu)
    {
        if (Training || bn.Training)
            throw new InvalidOperationException($"{Describe()}: the fused forward is for evaluation mode (training needs batch statistics and the layers one by one for Backward)");
        if (bn.Features != OutChannels)
            throw new ArgumentException($"{Describe()}: {bn.Describe()} does not match its {OutChannels} output channels");
        var g = GeometryFor(x.Shape);
        if (residual is not null && !Layout.SameShape(residual.Shape, g.OutputShape))
            throw new ArgumentException($"{Describe()}: residual {Layout.Format(residual.Shape)} differs from the output {Layout.Format(g.OutputShape)} (input {Layout.Format(x.Shape)})");
        ClearSaved();
        var (scale, shift) = bn.EvalAffine();
        using (scale)
        using (shift)
        {
            if (Bias is not null)
            {
                using var folded = Ops.Mul(Bias.Value, scale);               // bn(conv + b) = conv·scale + (shift + b·scale)
                Ops.Add(shift, folded, into: shift);
            }
            using var xc = x.Contiguous();
            using var rc = residual?.Contiguous();
            var y = Tensor.Empty(g.OutputShape, Backend);
            Backend.Conv2dForwardFused(g, xc.View, Weight.Value.View, new ConvEpilogue(scale.View, shift.View, rc?.View, relu), y.View);
            return y;
        }
    }

    public override Tensor Backward(Tensor dy)
    {
        var x = Saved(_x);
        var g = _geometry;
        CheckGradShape(dy, g.OutputShape);
        using var dyc = dy.Contiguous();
        ConvGradients.Parameters(Backend, g, x, dyc, Weight, Bias);
        var dx = Tensor.Empty(g.InputShape, Backend);
        Backend.Conv2dBackwardData(g, dyc.View, Weight.Value.View, dx.View);
        ClearSaved();
        return dx;
    }

    public override void ClearSaved() => Keep(ref _x, null);
}

/// <summary>Parameter gradients of a convolution, honouring frozen parameters.</summary>
internal static class ConvGradients
{
    /// <summary>weight.Grad += dW and bias.Grad += db for the parameters that require them. x, dy: contiguous NCHW.</summary>
    public static void Parameters(IBackend backend, in Conv2dGeometry g, Tensor x, Tensor dy, Parameter weight, Parameter? bias)
    {
        bool wantBias = bias is { RequiresGrad: true };
        if (weight.RequiresGrad)
        {
            using var w4 = weight.Grad.Reshape(g.WeightShape);
            StridedView? db = null;
            Tensor? bias1 = null;
            if (wantBias) { bias1 = bias!.Grad.Reshape(g.OutChannels); db = bias1.View; }
            backend.Conv2dBackwardWeight(g, x.View, dy.View, w4.View, db);
            bias1?.Dispose();
            return;
        }
        if (!wantBias) return;
        using var dy3 = dy.Reshape(g.Batch, g.OutChannels, -1);          // [N, O, P]
        using var perImage = Ops.Sum(dy3, 2);                            // [N, O]
        using var db1 = Ops.Sum(perImage, 0);                            // [O]
        Ops.Add(bias!.Grad, db1, into: bias.Grad);
    }
}
