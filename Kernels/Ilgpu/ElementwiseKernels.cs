using ILGPU;
using ILGPU.Algorithms;

namespace NativeASD.Kernels.Ilgpu;

/// <summary>
/// Fill, unary and binary maps: one thread per output element, offsets from a <see cref="ViewWalk"/>, so
/// strided, permuted and broadcast (stride 0) views need no copies. The op is a kernel argument: every thread
/// of a launch takes the same branch, so one compiled kernel serves all ops.
/// The scalar functions mirror the CPU oracle (SpanKernels) op for op, NaN and signed-zero cases included.
/// </summary>
internal static class ElementwiseKernels
{
    public static void Fill(Index1D i, ArrayView<float> y, ViewWalk walk, float value)
    {
        ViewWalk.Offsets(walk, i, out _, out _, out long yo);
        y[yo] = value;
    }

    public static void Unary(Index1D i, ArrayView<float> x, ArrayView<float> y, ViewWalk walk, int op, float alpha, float beta)
    {
        ViewWalk.Offsets(walk, i, out long xo, out _, out long yo);
        y[yo] = UnaryOf(op, x[xo], alpha, beta);
    }

    public static void Binary(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y, ViewWalk walk, int op)
    {
        ViewWalk.Offsets(walk, i, out long ao, out long bo, out long yo);
        y[yo] = BinaryOf(op, a[ao], b[bo]);
    }

    public static float UnaryOf(int op, float x, float alpha, float beta)
    {
        switch ((UnaryOp)op)
        {
            case UnaryOp.Copy: return x;
            case UnaryOp.Neg: return -x;
            case UnaryOp.Affine: return alpha * x + beta;
            case UnaryOp.Relu: return XMath.IsNaN(x) ? x : (x > 0f ? x : 0f);
            case UnaryOp.Relu6: return XMath.IsNaN(x) ? x : (x > 6f ? 6f : x > 0f ? x : 0f);
            case UnaryOp.LeakyRelu: return x >= 0f ? x : alpha * x;
            case UnaryOp.Sigmoid: return 1f / (1f + XMath.Exp(-x));
            case UnaryOp.Tanh: return XMath.Tanh(x);
            case UnaryOp.Exp: return XMath.Exp(x);
            case UnaryOp.Log: return XMath.Log(x);
            case UnaryOp.Sqrt: return XMath.Sqrt(x);
            case UnaryOp.Abs: return XMath.Abs(x);
            case UnaryOp.Square: return x * x;
            case UnaryOp.Hardswish: return x * XMath.Min(XMath.Max(x + 3f, 0f), 6f) / 6f;
            default: return float.NaN;
        }
    }

    public static float BinaryOf(int op, float a, float b)
    {
        switch ((BinaryOp)op)
        {
            case BinaryOp.Add: return a + b;
            case BinaryOp.Sub: return a - b;
            case BinaryOp.Mul: return a * b;
            case BinaryOp.Div: return a / b;
            case BinaryOp.Max: return MaxOf(a, b);
            case BinaryOp.Min: return MinOf(a, b);
            default: return float.NaN;
        }
    }

    /// <summary>As MathF.Max: NaN if either is NaN, +0 above −0 (the device fmax does neither).</summary>
    public static float MaxOf(float a, float b)
    {
        if (XMath.IsNaN(a) || XMath.IsNaN(b)) return float.NaN;
        if (a > b) return a;
        if (b > a) return b;
        return IsNegative(a) ? b : a;
    }

    /// <summary>As MathF.Min: NaN if either is NaN, −0 below +0.</summary>
    public static float MinOf(float a, float b)
    {
        if (XMath.IsNaN(a) || XMath.IsNaN(b)) return float.NaN;
        if (a < b) return a;
        if (b < a) return b;
        return IsNegative(a) ? a : b;
    }

    static bool IsNegative(float x) => (Interop.FloatAsInt(x) & 0x8000_0000u) != 0;
}
