using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeASD.Kernels.Cpu;

/// <summary>
/// Contiguous-span kernels for the elementwise ops. TensorPrimitives is used where it is already the
/// fastest way (it picks Vector512/256/128 itself); the rest are written over Vector512 and Vector256
/// with a scalar tail.
/// </summary>
internal static class SpanKernels
{
    public static void Unary(UnaryOp op, ReadOnlySpan<float> x, Span<float> y, float alpha, float beta)
    {
        switch (op)
        {
            case UnaryOp.Copy: x.CopyTo(y); break;
            case UnaryOp.Neg: TensorPrimitives.Negate(x, y); break;
            case UnaryOp.Affine: TensorPrimitives.Multiply(x, alpha, y); TensorPrimitives.Add(y, beta, y); break;
            case UnaryOp.Relu: TensorPrimitives.Max(x, 0f, y); break;
            case UnaryOp.Relu6: TensorPrimitives.Max(x, 0f, y); TensorPrimitives.Min(y, 6f, y); break;
            case UnaryOp.LeakyRelu: LeakyRelu(x, y, alpha); break;
            case UnaryOp.Sigmoid: TensorPrimitives.Sigmoid(x, y); break;
            case UnaryOp.Tanh: Tanh(x, y); break;
            case UnaryOp.Exp: TensorPrimitives.Exp(x, y); break;
            case UnaryOp.Log: TensorPrimitives.Log(x, y); break;
            case UnaryOp.Sqrt: TensorPrimitives.Sqrt(x, y); break;
            case UnaryOp.Abs: TensorPrimitives.Abs(x, y); break;
            case UnaryOp.Square: TensorPrimitives.Multiply(x, x, y); break;
            case UnaryOp.Hardswish: Hardswish(x, y); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "unknown unary op");
        }
    }

    /// <summary>Scalar form of <see cref="Unary"/>, used for strided single elements and as the test oracle.</summary>
    public static float Unary(UnaryOp op, float x, float alpha, float beta) => op switch
    {
        UnaryOp.Copy => x,
        UnaryOp.Neg => -x,
        UnaryOp.Affine => alpha * x + beta,
        UnaryOp.Relu => float.IsNaN(x) ? x : MathF.Max(x, 0f),
        UnaryOp.Relu6 => float.IsNaN(x) ? x : MathF.Min(MathF.Max(x, 0f), 6f),
        UnaryOp.LeakyRelu => x >= 0f ? x : alpha * x,
        UnaryOp.Sigmoid => 1f / (1f + MathF.Exp(-x)),
        UnaryOp.Tanh => MathF.Tanh(x),
        UnaryOp.Exp => MathF.Exp(x),
        UnaryOp.Log => MathF.Log(x),
        UnaryOp.Sqrt => MathF.Sqrt(x),
        UnaryOp.Abs => MathF.Abs(x),
        UnaryOp.Square => x * x,
        UnaryOp.Hardswish => x * MathF.Min(MathF.Max(x + 3f, 0f), 6f) / 6f,
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "unknown unary op"),
    };

    public static void Binary(BinaryOp op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y)
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(a, b, y); break;
            case BinaryOp.Sub: TensorPrimitives.Subtract(a, b, y); break;
            case BinaryOp.Mul: TensorPrimitives.Multiply(a, b, y); break;
            case BinaryOp.Div: TensorPrimitives.Divide(a, b, y); break;
            case BinaryOp.Max: TensorPrimitives.Max(a, b, y); break;
            case BinaryOp.Min: TensorPrimitives.Min(a, b, y); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "unknown binary op");
        }
    }

    /// <summary>y = a ∘ b with b one repeated value (a broadcast operand along the row).</summary>
    public static void Binary(BinaryOp op, ReadOnlySpan<float> a, float b, Span<float> y)
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(a, b, y); break;
            case BinaryOp.Sub: TensorPrimitives.Subtract(a, b, y); break;
            case BinaryOp.Mul: TensorPrimitives.Multiply(a, b, y); break;
            case BinaryOp.Div: TensorPrimitives.Divide(a, b, y); break;
            case BinaryOp.Max: TensorPrimitives.Max(a, b, y); break;
            case BinaryOp.Min: TensorPrimitives.Min(a, b, y); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "unknown binary op");
        }
    }

    /// <summary>y = a ∘ b with a one repeated value.</summary>
    public static void Binary(BinaryOp op, float a, ReadOnlySpan<float> b, Span<float> y)
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(b, a, y); break;
            case BinaryOp.Sub: TensorPrimitives.Subtract(a, b, y); break;
            case BinaryOp.Mul: TensorPrimitives.Multiply(b, a, y); break;
            case BinaryOp.Div: TensorPrimitives.Divide(a, b, y); break;
            case BinaryOp.Max: TensorPrimitives.Max(b, a, y); break;
            case BinaryOp.Min: TensorPrimitives.Min(b, a, y); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "unknown binary op");
        }
    }

    public static float Binary(BinaryOp op, float a, float b) => op switch
    {
        BinaryOp.Add => a + b,
        BinaryOp.Sub => a - b,
        BinaryOp.Mul => a * b,
        BinaryOp.Div => a / b,
        BinaryOp.Max => float.IsNaN(a) || float.IsNaN(b) ? float.NaN : MathF.Max(a, b),
        BinaryOp.Min => float.IsNaN(a) || float.IsNaN(b) ? float.NaN : MathF.Min(a, b),
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "unknown binary op"),
    };

    /// <summary>|x| below which <see cref="Tanh"/> uses its odd polynomial instead of TensorPrimitives.Tanh.</summary>
    const float TanhSmall = 0.25f;
    /// <summary>|x| below which tanh(x) rounds to x itself (x³/3 is under half an ulp of x): returns x, keeping −0 and denormals.</summary>
    const float TanhIdentity = 1.0f / 8192;

    // tanh x = x + x³·q(x²), q = −1/3 + 2/15 x² − 17/315 x⁴ + 62/2835 x⁶ − 1382/155925 x⁸ (Taylor; the next term is
    // 2.1e-10 relative at |x| = 0.25). x + x·(x²q) rounds once at the end: within about one ulp.
    const float T1 = -1f / 3, T2 = 2f / 15, T3 = -17f / 315, T4 = 62f / 2835, T5 = -1382f / 155925;

    static float TanhPolynomial(float x)
    {
        float x2 = x * x;
        float q = (((T5 * x2 + T4) * x2 + T3) * x2 + T2) * x2 + T1;
        return x + x * (x2 * q);
    }

    /// <summary>
    /// y = tanh(x). TensorPrimitives.Tanh has an absolute error of ~2^-24 near zero: tanh(0) came out as −6e-8 and
    /// tanh(1e-7) with the wrong sign, and 0.01 was 30+ ulp off. Its results are kept for |x| ≥ 0.25 (within a few
    /// ulp there); below that an odd polynomial gives ~1 ulp relative, and below 2^-13 tanh(x) = x exactly.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tanh(ReadOnlySpan<float> x, Span<float> y)
    {
        if (y.Length < x.Length) throw new ArgumentException("tanh: destination too short");
        const int Chunk = 256;
        Span<float> copy = stackalloc float[Chunk];
        for (int start = 0; start < x.Length; start += Chunk)
        {
            int n = Math.Min(Chunk, x.Length - start);
            scoped ReadOnlySpan<float> xs = x.Slice(start, n);
            Span<float> ys = y.Slice(start, n);
            if (xs.Overlaps(ys)) { xs.CopyTo(copy); xs = copy[..n]; }   // in place: keep the inputs for the fix-up
            TensorPrimitives.Tanh(xs, ys);
            int i = 0;
            ref float xr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(xs);
            ref float yr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(ys);
            if (Vector256.IsHardwareAccelerated)
            {
                var small = Vector256.Create(TanhSmall);
                var identity = Vector256.Create(TanhIdentity);
                for (; i <= n - 8; i += 8)
                {
                    var v = Vector256.LoadUnsafe(ref xr, (nuint)i);
                    var a = Vector256.Abs(v);
                    var useSmall = Vector256.LessThan(a, small);
                    if (useSmall == Vector256<float>.Zero) continue;
                    var x2 = v * v;
                    var q = ((((Vector256.Create(T5) * x2 + Vector256.Create(T4)) * x2 + Vector256.Create(T3)) * x2 + Vector256.Create(T2)) * x2) + Vector256.Create(T1);
                    var p = Vector256.ConditionalSelect(Vector256.LessThan(a, identity), v, v + v * (x2 * q));
                    Vector256.ConditionalSelect(useSmall, p, Vector256.LoadUnsafe(ref yr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
                }
            }
            for (; i < n; i++)
            {
                float a = MathF.Abs(xs[i]);
                if (a < TanhSmall) ys[i] = a < TanhIdentity ? xs[i] : TanhPolynomial(xs[i]);
            }
        }
    }

    static readonly SimdLevel Level = SimdSupport.Detect();

    static void LeakyRelu(ReadOnlySpan<float> x, Span<float> y, float slope) => LeakyRelu(x, y, slope, Level);

    /// <summary>y = x ≥ 0 ? x : slope·x over vectors of <paramref name="level"/> (Vector512, Vector256, else scalar); tests
    /// pass each level, in software where the machine lacks it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void LeakyRelu(ReadOnlySpan<float> x, Span<float> y, float slope, SimdLevel level)
    {
        if (y.Length < x.Length) throw new ArgumentException("leaky relu: destination too short");
        int i = 0;
        ref float xs = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        ref float ys = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(y);
        if (level == SimdLevel.Vector512)
        {
            var s = Vector512.Create(slope);
            for (; i <= x.Length - 16; i += 16)
            {
                var v = Vector512.LoadUnsafe(ref xs, (nuint)i);
                Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(v, Vector512<float>.Zero), v, v * s).StoreUnsafe(ref ys, (nuint)i);
            }
        }
        else if (level == SimdLevel.Vector256)
        {
            var s = Vector256.Create(slope);
            for (; i <= x.Length - 8; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref xs, (nuint)i);
                Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(v, Vector256<float>.Zero), v, v * s).StoreUnsafe(ref ys, (nuint)i);
            }
        }
        for (; i < x.Length; i++) y[i] = x[i] >= 0f ? x[i] : slope * x[i];
    }

    /// <summary>x·min(max(x + 3, 0), 6)/6 in torch's order of operations (multiply, then divide by 6).</summary>
    static void Hardswish(ReadOnlySpan<float> x, Span<float> y)
    {
        if (y.Length < x.Length) throw new ArgumentException("hardswish: destination too short");
        int i = 0;
        ref float xs = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        ref float ys = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(y);
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> three = Vector512.Create(3f), six = Vector512.Create(6f);
            for (; i <= x.Length - 16; i += 16)
            {
                var v = Vector512.LoadUnsafe(ref xs, (nuint)i);
                (v * Vector512.Min(Vector512.Max(v + three, Vector512<float>.Zero), six) / six).StoreUnsafe(ref ys, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> three = Vector256.Create(3f), six = Vector256.Create(6f);
            for (; i <= x.Length - 8; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref xs, (nuint)i);
                (v * Vector256.Min(Vector256.Max(v + three, Vector256<float>.Zero), six) / six).StoreUnsafe(ref ys, (nuint)i);
            }
        }
        for (; i < x.Length; i++) y[i] = Unary(UnaryOp.Hardswish, x[i], 0f, 0f);
    }
}
