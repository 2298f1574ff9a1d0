using System.Runtime.Intrinsics;

namespace NativeASD.Kernels.Cpu;

/// <summary>
/// <see cref="ConvEpilogue"/> as the conv jobs see it: raw pointers, applied to each output row segment while it is
/// still in cache. <see cref="Active"/> is false for a plain forward (the default value).
/// </summary>
internal readonly unsafe struct FusedEpilogue(float* y, float* scale, float* shift, float* residual, bool relu)
{
    readonly float* _y = y, _residual = residual;
    public readonly float* Scale = scale, Shift = shift;
    public readonly bool Relu = relu;

    public bool Active => Scale != null;

    /// <summary>row[0..n) = row·scale[o] + shift[o], then the residual at the same place and the ReLU.</summary>
    public void Row(float* row, int o, int n) => Apply(row, n, Scale[o], Shift[o]);

    /// <summary>The residual add and ReLU of row[0..n) (scale and shift already applied).</summary>
    public void Finish(float* row, int n) => Apply(row, n, 1f, 0f);

    void Apply(float* row, int n, float scale, float shift)
    {
        float* r = _residual == null ? null : _residual + (row - _y);
        var s = Vector256.Create(scale);
        var b = Vector256.Create(shift);
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            var v = Vector256.Load(row + i) * s + b;
            if (r != null) v += Vector256.Load(r + i);
            if (Relu) v = Vector256.Max(v, Vector256<float>.Zero);
            v.Store(row + i);
        }
        for (; i < n; i++)
        {
            float v = row[i] * scale + shift;
            if (r != null) v += r[i];
            row[i] = Relu ? MathF.Max(v, 0f) : v;
        }
    }

    /// <summary>One output value v (scale and shift applied) written to y[at]: residual and ReLU, scalar.</summary>
    public void Put(long at, float v)
    {
        if (_residual != null) v += _residual[at];
        _y[at] = Relu ? MathF.Max(v, 0f) : v;
    }
}
