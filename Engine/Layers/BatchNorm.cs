using NativeASD.Kernels;

namespace NativeASD.Engine.Layers;

/// <summary>
/// Batch normalisation over the channel axis 1, as torch.nn.BatchNorm1d/2d. The input is viewed as [N, C, L]
/// (L = 1 for [N, C], H·W for [N, C, H, W]); statistics are over the M = N·L values of each channel.
/// <para>Training: y = (x − μ_B)/√(σ²_B + eps)·γ + β with the biased batch variance; the running statistics move by
/// momentum (running = (1 − m)·running + m·batch, with the UNBIASED batch variance as torch; m = 1/num_batches_tracked
/// when momentum is null: a cumulative average). Evaluation: the running statistics.</para>
/// <para>Backward (training): with x̂ the normalised input, dβ = Σ dy, dγ = Σ dy·x̂,
/// dx = γ/(M·√(σ²_B + eps))·(M·dy − dβ − x̂·dγ).</para>
/// State-dict names as torch: weight, bias (when affine), running_mean, running_var, num_batches_tracked (shape []).
/// </summary>
public abstract class BatchNorm : Layer
{
    public int Features { get; }
    public float Eps { get; }
    public float? Momentum { get; }
    public Parameter? Weight { get; }
    public Parameter? Bias { get; }
    public Tensor RunningMean { get; }
    public Tensor RunningVar { get; }
    public Tensor NumBatchesTracked { get; }

    Tensor? _xhat;     // [N, C, L]
    Tensor? _invStd;   // [1, C, 1]
    int[]? _shape;

    protected BatchNorm(int features, float eps, float? momentum, bool affine, IBackend? backend) : base(backend)
    {
        if (features < 1) throw new ArgumentException($"{GetType().Name}: features must be positive, got {features}");
        (Features, Eps, Momentum) = (features, eps, momentum);
        if (affine)
        {
            Weight = AddParameter("weight", features);
            Backend.Fill(Weight.Value.View, 1f);
            Bias = AddParameter("bias", features);
        }
        RunningMean = AddBuffer("running_mean", Tensor.Zeros([features], Backend));
        RunningVar = AddBuffer("running_var", Tensor.Full([features], 1f, Backend));
        NumBatchesTracked = AddBuffer("num_batches_tracked", Tensor.Zeros([], Backend));
    }

    public override string Describe() => $"{GetType().Name}({Features})";

    /// <summary>Throws unless x has a rank this variant accepts and C = <see cref="Features"/> channels.</summary>
    protected abstract void CheckInput(Tensor x);

    public override Tensor Forward(Tensor x)
    {
        CheckInput(x);
        int n = x.Dim(0), c = Features;
        using var x3 = x.Reshape(n, c, -1);                                   // [N, C, L]
        int m = n * x3.Dim(2);
        var y = Training ? ForwardTraining(x3, m) : ForwardEval(x3);
        if (Training) _shape = x.ShapeArray();
        using (y) return y.Reshape(x.ShapeArray());
    }

    Tensor ForwardTraining(Tensor x3, int m)
    {
        if (m < 2)
            throw new ArgumentException($"{Describe()}: training needs more than one value per channel, got input {Layout.Format(x3.Shape)}");
        using var mean = ChannelMean(x3);                                     // [1, C, 1]
        var xhat = Ops.Sub(x3, mean);                                         // x − μ   [N, C, L]
        using var sq = Ops.Square(xhat);
        using var variance = ChannelMean(sq);                                 // biased σ²  [1, C, 1]
        using var std = Ops.AddScalar(variance, Eps);
        Ops.Sqrt(std, into: std);
        using var one = Tensor.Full([1, Features, 1], 1f, Backend);
        var invStd = Ops.Div(one, std);                                       // [1, C, 1]
        Ops.Mul(xhat, invStd, into: xhat);                                    // x̂
        var y = Affine(xhat);
        UpdateRunningStats(mean, variance, m);
        Keep(ref _xhat, xhat);
        Keep(ref _invStd, invStd);
        return y;
    }

    Tensor ForwardEval(Tensor x3)
    {
        ClearSaved();
        var (scale, shift) = EvalAffine();
        using (scale)
        using (shift)
        {
            using var s3 = scale.Reshape(1, Features, 1);
            using var b3 = shift.Reshape(1, Features, 1);
            var y = Ops.Mul(x3, s3);
            Ops.Add(y, b3, into: y);
            return y;
        }
    }

    /// <summary>
    /// The evaluation-mode map as y = x·scale + shift per channel, from the running statistics and parameters as they are
    /// now: scale = γ/√(running_var + eps), shift = β − running_mean·scale ([C] each, owned by the caller). A conv before
    /// the BatchNorm folds it in (<see cref="Conv2d.ForwardFused"/>).
    /// </summary>
    public (Tensor Scale, Tensor Shift) EvalAffine()
    {
        using var std = Ops.AddScalar(RunningVar, Eps);
        Ops.Sqrt(std, into: std);
        var scale = Weight is null ? Tensor.Full([Features], 1f, Backend) : Weight.Value.Clone();
        Ops.Div(scale, std, into: scale);
        var shift = Ops.Mul(RunningMean, scale);
        if (Bias is null) Ops.Neg(shift, into: shift);
        else Ops.Sub(Bias.Value, shift, into: shift);
        return (scale, shift);
    }

    /// <summary>x̂·γ + β (a new tensor; x̂ when not affine, copied).</summary>
    Tensor Affine(Tensor xhat)
    {
        if (Weight is null || Bias is null) return xhat.Clone();
        using var g = Weight.Value.Reshape(1, Features, 1);
        using var b = Bias.Value.Reshape(1, Features, 1);
        var y = Ops.Mul(xhat, g);
        Ops.Add(y, b, into: y);
        return y;
    }

    void UpdateRunningStats(Tensor mean, Tensor variance, int m)
    {
        Ops.AddScalar(NumBatchesTracked, 1f, into: NumBatchesTracked);
        float factor = Momentum ?? 1f / NumBatchesTracked.ToArray()[0];
        using var mean1 = mean.Reshape(Features);
        using var var1 = variance.Reshape(Features);
        Blend(RunningMean, mean1, factor, 1f);
        Blend(RunningVar, var1, factor, m / (m - 1f));                        // unbiased batch variance
    }

    /// <summary>running = (1 − f)·running + f·scale·batch.</summary>
    static void Blend(Tensor running, Tensor batch, float factor, float scale)
    {
        using var t = Ops.Scale(batch, factor * scale);
        Ops.Scale(running, 1f - factor, into: running);
        Ops.Add(running, t, into: running);
    }

    public override Tensor Backward(Tensor dy)
    {
        var xhat = Saved(_xhat);
        var invStd = _invStd!;
        CheckGradShape(dy, _shape!);
        int n = xhat.Dim(0), l = xhat.Dim(2), m = n * l;
        using var dy3 = dy.Reshape(n, Features, l);                           // [N, C, L]
        using var dBeta = ChannelSum(dy3);                                    // Σ dy      [1, C, 1]
        var dx = Ops.Mul(dy3, xhat);
        using var dGamma = ChannelSum(dx);                                    // Σ dy·x̂    [1, C, 1]
        if (Weight is not null) Accumulate(Weight, dGamma);
        if (Bias is not null) Accumulate(Bias, dBeta);

        Ops.Mul(xhat, dGamma, into: dx);                                      // x̂·dγ
        using (var mdy = Ops.Scale(dy3, m))                                   // M·dy − dβ − x̂·dγ
        {
            Ops.Sub(mdy, dBeta, into: mdy);
            Ops.Sub(mdy, dx, into: dx);
        }
        using var k = Ops.Scale(invStd, 1f / m);                              // γ/(M·√(σ² + eps))
        if (Weight is not null)
        {
            using var g = Weight.Value.Reshape(1, Features, 1);
            Ops.Mul(k, g, into: k);
        }
        Ops.Mul(dx, k, into: dx);
        var shape = _shape!;
        ClearSaved();
        using (dx) return dx.Reshape(shape);
    }

    public override void ClearSaved()
    {
        Keep(ref _xhat, null);
        Keep(ref _invStd, null);
    }

    /// <summary>Mean over axes 0 and 2 of [N, C, L] → [1, C, 1].</summary>
    static Tensor ChannelMean(Tensor x3)
    {
        if (x3.Dim(2) == 1) return Ops.Mean(x3, 0, keepDim: true);             // [N, C] input: nothing to reduce along L
        using var inner = Ops.Mean(x3, 2, keepDim: true);
        return Ops.Mean(inner, 0, keepDim: true);
    }

    static Tensor ChannelSum(Tensor x3)
    {
        if (x3.Dim(2) == 1) return Ops.Sum(x3, 0, keepDim: true);
        using var inner = Ops.Sum(x3, 2, keepDim: true);
        return Ops.Sum(inner, 0, keepDim: true);
    }
}

/// <summary>BatchNorm over [N, C] or [N, C, L] (torch.nn.BatchNorm1d).</summary>
public sealed class BatchNorm1d(int features, float eps = 1e-5f, float? momentum = 0.1f, bool affine = true, IBackend? backend = null)
    : BatchNorm(features, eps, momentum, affine, backend)
{
    protected override void CheckInput(Tensor x)
    {
        if (x.Rank is not (2 or 3) || x.Dim(1) != Features)
            throw new ArgumentException($"{Describe()}: expected input [N,{Features}] or [N,{Features},L], got {Layout.Format(x.Shape)}");
    }
}

/// <summary>BatchNorm over [N, C, H, W] (torch.nn.BatchNorm2d).</summary>
public sealed class BatchNorm2d(int features, float eps = 1e-5f, float? momentum = 0.1f, bool affine = true, IBackend? backend = null)
    : BatchNorm(features, eps, momentum, affine, backend)
{
    protected override void CheckInput(Tensor x)
    {
        if (x.Rank != 4 || x.Dim(1) != Features)
            throw new ArgumentException($"{Describe()}: expected input [N,{Features},H,W], got {Layout.Format(x.Shape)}");
    }
}
