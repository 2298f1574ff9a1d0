namespace NativeASD.Kernels;

/// <summary>
/// A compute backend. Every tensor op goes through one of these calls; each backend implements all of
/// them and is checked against the CPU backend by the same tests.
/// Calls validate their arguments (<see cref="Check"/>) and throw naming the op and the shapes.
/// </summary>
public partial interface IBackend : IDisposable
{
    /// <summary>Device option value: cpu, cuda, opencl, ilgpu-cpu.</summary>
    DeviceKind Kind { get; }

    /// <summary>Human-readable device line, e.g. "CPU AVX-512 (Vector512), 2 threads".</summary>
    string Description { get; }

    /// <summary>Worker threads the backend uses on the host (1 for device backends).</summary>
    int Threads { get; }

    /// <summary>Storage for <paramref name="length"/> floats, from the pool when one fits; zeroed when asked.</summary>
    Storage Allocate(long length, bool zero = false);

    void Upload(ReadOnlySpan<float> source, Storage destination, long offset);
    void Download(Storage source, long offset, Span<float> destination);

    /// <summary>Sets every element of a view.</summary>
    void Fill(in StridedView y, float value);

    void Unary(UnaryOp op, in StridedView x, in StridedView y, float alpha = 0f, float beta = 0f);
    void Binary(BinaryOp op, in StridedView a, in StridedView b, in StridedView y);

    /// <summary>Reduces <paramref name="x"/> along <paramref name="axis"/> into <paramref name="y"/>, whose shape is x's with that axis set to 1.</summary>
    void Reduce(ReduceOp op, in StridedView x, int axis, in StridedView y, int correction = 0);

    void Gemm(in GemmArgs args);

    /// <summary>Waits for queued device work (no-op on the CPU).</summary>
    void Synchronize();
}

public enum DeviceKind { Cpu, Cuda, OpenCL, IlgpuCpu }
