namespace NativeASD.Kernels;

// Neural-network ops (backward passes of layers) that cannot be composed from the generic ops without
// extra passes or host round trips. Kept in this partial so other additions to IBackend merge cleanly.
public partial interface IBackend
{
    /// <summary>
    /// Backward of an elementwise map: dx = dy · f'(·). <paramref name="saved"/> is what the derivative needs —
    /// the forward OUTPUT y for <see cref="NnGrad.UsesOutput"/> ops (Sigmoid, Tanh, Exp, Sqrt), the forward input x
    /// for the others. All three views have the same shape (saved/dy may be broadcast with stride 0); dx may alias dy.
    /// </summary>
    void UnaryGrad(UnaryOp op, in StridedView saved, in StridedView dy, in StridedView dx, float alpha = 0f);

    /// <summary>
    /// Backward of a max (ArgMax) reduction along <paramref name="axis"/>: y is set to 0 everywhere, then
    /// y[…, index[…], …] = values[…]. <paramref name="values"/> and <paramref name="index"/> have y's shape with the
    /// axis set to 1; index holds float indices as <see cref="ReduceOp.ArgMax"/> writes them.
    /// </summary>
    void ScatterAlongAxis(in StridedView values, in StridedView index, int axis, in StridedView y);

    /// <summary>
    /// One Adam/AdamW update of a parameter in a single pass (see <see cref="AdamArgs"/>): reads the gradient, updates
    /// the moments m, v and the parameter in place. All four views contiguous with the same shape.
    /// </summary>
    void AdamStep(in StridedView param, in StridedView grad, in StridedView m, in StridedView v, in AdamArgs args);
}

/// <summary>
/// Scalars of one Adam step, torch.optim.Adam/AdamW (1.13) order of operations, per element:
/// g = grad (+ wd·p when L2); p ·= 1 − lr·wd when decoupled; m = m·β₁ + (1 − β₁)·g; v = v·β₂ + (1 − β₂)·g²;
/// p = p − StepSize·m/(√v / Bias2Sqrt + eps), with StepSize = lr/(1 − β₁ᵗ) and Bias2Sqrt = √(1 − β₂ᵗ).
/// </summary>
public readonly record struct AdamArgs(float Beta1, float Beta2, float Eps, float StepSize, float Bias2Sqrt, float L2Decay, float DecoupledScale);

/// <summary>The derivative rules of <see cref="IBackend.UnaryGrad"/>, scalar: the CPU kernels' tail and the device kernels share them.</summary>
public static class NnGrad
{
    /// <summary>Ops whose derivative is computed from the forward output (saved = y) rather than the input.</summary>
    public static bool UsesOutput(UnaryOp op) => op is UnaryOp.Sigmoid or UnaryOp.Tanh or UnaryOp.Exp or UnaryOp.Sqrt;

    /// <summary>dx for one element. Relu-family masks follow torch: the gradient passes where x &gt; 0 (and below 6 for Relu6).</summary>
    public static float Of(int op, float s, float dy, float alpha)
    {
        switch ((UnaryOp)op)
        {
            case UnaryOp.Copy: return dy;
            case UnaryOp.Neg: return -dy;
            case UnaryOp.Affine: return alpha * dy;
            case UnaryOp.Relu: return s > 0f ? dy : 0f;
            case UnaryOp.Relu6: return s > 0f && s < 6f ? dy : 0f;
            case UnaryOp.LeakyRelu: return s > 0f ? dy : alpha * dy;
            case UnaryOp.Sigmoid: return dy * s * (1f - s);
            case UnaryOp.Tanh: return dy * (1f - s * s);
            case UnaryOp.Exp: return dy * s;
            case UnaryOp.Log: return dy / s;
            case UnaryOp.Sqrt: return dy * 0.5f / s;
            case UnaryOp.Abs: return s > 0f ? dy : s < 0f ? -dy : 0f;
            case UnaryOp.Square: return 2f * s * dy;
            case UnaryOp.Hardswish: return s < -3f ? 0f : s <= 3f ? dy * (s / 3f + 0.5f) : dy;   // torch's hardswish_backward
            default: return float.NaN;
        }
    }

    public static void CheckUnaryGrad(IBackend backend, UnaryOp op, in StridedView saved, in StridedView dy, in StridedView dx)
    {
        string name = op + "Grad";
        if (!Enum.IsDefined(op)) throw new ArgumentOutOfRangeException(nameof(op), op, "unknown unary op");
        Check.SameBackend(name, backend, saved, "saved");
        Check.SameBackend(name, backend, dy, "dy");
        Check.SameBackend(name, backend, dx, "dx");
        Check.SameShape(name, saved, "saved", dx, "dx");
        Check.SameShape(name, dy, "dy", dx, "dx");
    }

    /// <summary>The Adam rule for one element, in the order of <see cref="AdamArgs"/> (CPU tail and oracle).</summary>
    public static void Adam(ref float p, float g, ref float m, ref float v, in AdamArgs a)
    {
        g += a.L2Decay * p;
        p *= a.DecoupledScale;
        m = m * a.Beta1 + (1f - a.Beta1) * g;
        v = v * a.Beta2 + (1f - a.Beta2) * (g * g);
        p -= a.StepSize * (m / (MathF.Sqrt(v) / a.Bias2Sqrt + a.Eps));
    }

    public static void CheckAdam(IBackend backend, in StridedView param, in StridedView grad, in StridedView m, in StridedView v)
    {
        const string name = "AdamStep";
        Check.SameBackend(name, backend, param, "param");
        Check.SameBackend(name, backend, grad, "grad");
        Check.SameBackend(name, backend, m, "m");
        Check.SameBackend(name, backend, v, "v");
        Check.SameShape(name, grad, "grad", param, "param");
        Check.SameShape(name, m, "m", param, "param");
        Check.SameShape(name, v, "v", param, "param");
        if (!param.IsContiguous || !grad.IsContiguous || !m.IsContiguous || !v.IsContiguous)
            throw new ArgumentException($"{name}: param, grad and moments must be contiguous ({Layout.Format(param.Shape)})");
    }

    public static void CheckScatter(IBackend backend, in StridedView values, in StridedView index, int axis, in StridedView y)
    {
        const string name = "ScatterAlongAxis";
        Check.SameBackend(name, backend, values, "values");
        Check.SameBackend(name, backend, index, "index");
        Check.SameBackend(name, backend, y, "y");
        if ((uint)axis >= (uint)y.Rank)
            throw new ArgumentOutOfRangeException(nameof(axis), $"{name}: axis {axis} out of range for y {Layout.Format(y.Shape)}");
        Check.SameShape(name, values, "values", index, "index");
        bool ok = values.Rank == y.Rank;
        for (int i = 0; ok && i < y.Rank; i++) ok = values.Shape[i] == (i == axis ? 1 : y.Shape[i]);
        if (!ok)
            throw new ArgumentException($"{name}: values {Layout.Format(values.Shape)} must be y {Layout.Format(y.Shape)} with axis {axis} set to 1");
    }
}
