using ILGPU;
using ILGPU.Runtime;

namespace NativeASD.Kernels.Ilgpu;

/// <summary>
/// A dense float32 buffer in the accelerator's memory. Pooled like CPU storage: when the last reference is
/// released the buffer goes back to its backend's pool (or is freed when the pool is full).
/// </summary>
public sealed class IlgpuStorage : Storage
{
    readonly IlgpuBackend _owner;
    readonly MemoryBuffer1D<float, Stride1D.Dense> _buffer;

    internal IlgpuStorage(IlgpuBackend owner, MemoryBuffer1D<float, Stride1D.Dense> buffer)
    {
        _owner = owner;
        _buffer = buffer;
    }

    public override IBackend Backend => _owner;
    public override long Length => _buffer.Length;

    /// <summary>The whole buffer; kernels index it with absolute element offsets.</summary>
    internal ArrayView<float> View => _buffer.View;

    protected override void ReturnToPool() => _owner.Recycle(this);

    /// <summary>Frees the device memory; call with the accelerator bound (the backend does).</summary>
    internal override void Free() => _buffer.Dispose();
}
