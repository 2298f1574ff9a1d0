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
}

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
