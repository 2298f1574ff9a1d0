using NativeASD.Engine.Layers;
using NativeASD.Kernels;

namespace NativeASD.Engine.Optim;

/// <summary>Gradient clipping as torch.nn.utils.clip_grad_norm_.</summary>
public static class GradClip
{
    /// <summary>
    /// Scales the gradients of the parameters that require one so their global norm is at most
    /// <paramref name="maxNorm"/>: total = ‖(‖g₁‖, ‖g₂‖, …)‖ (L2, or max |g| for <paramref name="normType"/> = ∞),
    /// every g ·= maxNorm/(total + 1e−6) when that factor is below 1. Returns the total norm before clipping.
    /// </summary>
    public static float ClipGradNorm(IEnumerable<Parameter> parameters, float maxNorm, float normType = 2f)
    {
        if (normType != 2f && !float.IsPositiveInfinity(normType))
            throw new ArgumentException($"clip_grad_norm: norm type {normType} not supported (2 or infinity)");
        var grads = parameters.Where(p => p.RequiresGrad).Select(p => p.Grad).ToArray();
        if (grads.Length == 0) return 0f;
        double total = 0;
        foreach (var g in grads)
        {
            if (float.IsPositiveInfinity(normType))
            {
                using var a = Ops.Abs(g);
                using var m = Ops.ReduceAll(ReduceOp.Max, a);
                total = Math.Max(total, m.ToArray()[0]);
            }
            else
            {
                using var sq = Ops.Square(g);
                using var s = Ops.ReduceAll(ReduceOp.Sum, sq);
                total += s.ToArray()[0];
            }
        }
        float norm = float.IsPositiveInfinity(normType) ? (float)total : (float)Math.Sqrt(total);
        float coef = maxNorm / (norm + 1e-6f);
        if (coef < 1f)
            foreach (var g in grads) Ops.Scale(g, coef, into: g);
        return norm;
    }
}
