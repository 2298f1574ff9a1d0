using System.Runtime.InteropServices;

namespace NativeASD.Kernels.Cpu;

/// <summary>
/// Growable 64-byte aligned native float buffer: grown on demand, reused across calls, so the hot path allocates
/// nothing once it has seen its largest shape. Freed by the finalizer.
/// </summary>
internal sealed unsafe class NativeBuffer
{
    float* _p;
    long _capacity;

    public float* Get(long floats)
    {
        if (floats <= _capacity) return _p;
        if (_p != null) NativeMemory.AlignedFree(_p);
        long grown = Math.Max(floats, _capacity + _capacity / 2);
        _p = (float*)NativeMemory.AlignedAlloc((nuint)(grown * sizeof(float)), 64);
        _capacity = grown;
        return _p;
    }

    ~NativeBuffer()
    {
        if (_p != null) NativeMemory.AlignedFree(_p);
    }
}

/// <summary>Per-thread scratch of the convolution kernels (separate from the GEMM's own packing buffers, which they call into).</summary>
internal static class ConvScratch
{
    [ThreadStatic] static NativeBuffer? _panel, _columns;

    /// <summary>Packed B panel of the implicit GEMM.</summary>
    public static NativeBuffer Panel => _panel ??= new NativeBuffer();

    /// <summary>im2col / col2im block of the backward passes.</summary>
    public static NativeBuffer Columns => _columns ??= new NativeBuffer();
}
