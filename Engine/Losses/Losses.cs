using NativeASD.Kernels;

namespace NativeASD.Engine.Losses;

/// <summary>A loss value and its gradient with respect to the (first) input; the caller owns and disposes the gradient.</summary>
public sealed class LossResult(float value, Tensor grad) : IDisposable
{
    public float Value { get; } = value;
    public Tensor Grad { get; } = grad;
    public void Dispose() => Grad.Dispose();
}

/// <summary>KL value and its gradients with respect to μ and log σ²; the caller disposes both.</summary>
public sealed class GaussianKlResult(float value, Tensor gradMu, Tensor gradLogVar) : IDisposable
{
    public float Value { get; } = value;
    public Tensor GradMu { get; } = gradMu;
    public Tensor GradLogVar { get; } = gradLogVar;
    public void Dispose() { GradMu.Dispose(); GradLogVar.Dispose(); }
}

/// <summary>How <see cref="Loss.GaussianKl"/> reduces the per-element terms.</summary>
public enum KlReduction
{
    /// <summary>Sum over batch and latent dimensions (the VAE paper's −½·Σ(1 + log σ² − μ² − σ²)).</summary>
    Sum,
    /// <summary>Sum over latent dimensions, mean over the batch (axis 0).</summary>
    BatchMean,
    /// <summary>Mean over every element.</summary>
    Mean,
}

/// <summary>
/// Losses: each returns the value (downloaded to the host: one synchronisation) and the gradient, computed with
/// the tensor ops on the inputs' backend. Inputs are borrowed.
/// </summary>
public static class Loss
{
    /// <summary>
    /// Row-wise softmax of [N, K] logits, max-subtracted for stability (a new tensor).
    /// </summary>
    public static Tensor Softmax(Tensor logits)
    {
        if (logits.Rank != 2) throw new ArgumentException($"softmax: expected logits [N,K], got {Layout.Format(logits.Shape)}");
        using var max = Ops.Max(logits, 1, keepDim: true);                  // [N, 1]
        var e = Ops.Sub(logits, max);
        Ops.Exp(e, into: e);
        using var sum = Ops.Sum(e, 1, keepDim: true);
        Ops.Div(e, sum, into: e);
        return e;
    }

    /// <summary>
    /// Softmax + cross-entropy with integer class targets, mean over the batch (torch F.cross_entropy).
    /// logits [N, K], targets N values in [0, K). Gradient: (softmax − onehot)/N.
    /// </summary>
    public static LossResult SoftmaxCrossEntropy(Tensor logits, ReadOnlySpan<int> targets)
    {
        if (logits.Rank != 2 || logits.Dim(0) < 1)
            throw new ArgumentException($"cross-entropy: expected logits [N,K] with N ≥ 1, got {Layout.Format(logits.Shape)}");
        int n = logits.Dim(0), k = logits.Dim(1);
        if (targets.Length != n)
            throw new ArgumentException($"cross-entropy: {targets.Length} targets for logits {Layout.Format(logits.Shape)}");
        var onehot = new float[n * k];
        for (int i = 0; i < n; i++)
        {
            if ((uint)targets[i] >= (uint)k)
                throw new ArgumentException($"cross-entropy: target {targets[i]} of sample {i} outside [0,{k}) for logits {Layout.Format(logits.Shape)}");
            onehot[i * k + targets[i]] = 1f;
        }
        using var target = Tensor.FromSpan(onehot, [n, k], logits.Backend);

        // log p = z − log Σ e^z with z = logits − max (rows)
        using var max = Ops.Max(logits, 1, keepDim: true);                  // [N, 1]
        using var z = Ops.Sub(logits, max);                                 // [N, K]
        var p = Ops.Exp(z);
        using var sum = Ops.Sum(p, 1, keepDim: true);                       // [N, 1]
        using var logSum = Ops.Log(sum);
        using var logp = Ops.Sub(z, logSum);
        Ops.Mul(logp, target, into: logp);
        using var picked = Ops.ReduceAll(ReduceOp.Sum, logp);
        float value = -picked.ToArray()[0] / n;

        Ops.Div(p, sum, into: p);                                           // softmax
        Ops.Sub(p, target, into: p);
        Ops.Scale(p, 1f / n, into: p);
        return new LossResult(value, p);
    }

    /// <summary>Mean squared error over all elements (torch F.mse_loss): Σ(p − t)²/n; gradient 2(p − t)/n.</summary>
    public static LossResult Mse(Tensor prediction, Tensor target)
    {
        if (!Layout.SameShape(prediction.Shape, target.Shape))
            throw new ArgumentException($"mse: prediction {Layout.Format(prediction.Shape)} and target {Layout.Format(target.Shape)} differ");
        long n = prediction.Count;
        if (n == 0) throw new ArgumentException("mse: empty input");
        var diff = Ops.Sub(prediction, target);
        using (var sq = Ops.Square(diff))
        using (var total = Ops.ReduceAll(ReduceOp.Sum, sq))
        {
            float value = total.ToArray()[0] / n;
            Ops.Scale(diff, 2f / n, into: diff);
            return new LossResult(value, diff);
        }
    }

    /// <summary>
    /// KL(N(μ, σ²) ‖ N(0, 1)) for a diagonal Gaussian given μ and log σ² of the same shape [N, D]:
    /// −½·Σ(1 + log σ² − μ² − e^{log σ²}), reduced as <paramref name="reduction"/> says.
    /// Gradients (times the reduction's scale): ∂/∂μ = μ, ∂/∂log σ² = ½(e^{log σ²} − 1).
    /// </summary>
    public static GaussianKlResult GaussianKl(Tensor mu, Tensor logVar, KlReduction reduction = KlReduction.Sum)
    {
        if (!Layout.SameShape(mu.Shape, logVar.Shape) || mu.Rank < 1 || mu.Count == 0)
            throw new ArgumentException($"gaussian kl: mu {Layout.Format(mu.Shape)} and logvar {Layout.Format(logVar.Shape)} must have the same non-empty shape");
        float scale = reduction switch
        {
            KlReduction.Sum => 1f,
            KlReduction.BatchMean => 1f / mu.Dim(0),
            KlReduction.Mean => 1f / mu.Count,
            _ => throw new ArgumentOutOfRangeException(nameof(reduction)),
        };
        var variance = Ops.Exp(logVar);
        float value;
        using (var term = Ops.AddScalar(logVar, 1f))                        // 1 + log σ² − μ² − σ²
        using (var mu2 = Ops.Square(mu))
        {
            Ops.Sub(term, mu2, into: term);
            Ops.Sub(term, variance, into: term);
            using var total = Ops.ReduceAll(ReduceOp.Sum, term);
            value = -0.5f * total.ToArray()[0] * scale;
        }
        var gradMu = Ops.Scale(mu, scale);
        Ops.Affine(variance, 0.5f * scale, -0.5f * scale, into: variance);
        return new GaussianKlResult(value, gradMu, variance);
    }
}
