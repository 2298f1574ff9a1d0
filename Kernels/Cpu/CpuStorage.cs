using System.Runtime.InteropServices;

namespace NativeASD.Kernels.Cpu;

/// <summary>64-byte aligned native host memory (one cache line, one Vector512). Freed by the finalizer if never released.</summary>
public sealed unsafe class CpuStorage : Storage
{
    readonly CpuBackend _owner;
    readonly long _capacity;
    float* _pointer;

    internal CpuStorage(CpuBackend owner, long capacity)
    {
        _owner = owner;
        _capacity = capacity;
        _pointer = (float*)NativeMemory.AlignedAlloc((nuint)(capacity * sizeof(float)), 64);
        GC.AddMemoryPressure(capacity * sizeof(float));
    }

    public override IBackend Backend => _owner;
    public override long Length => _capacity;
    public float* Pointer => _pointer;

    public Span<float> AsSpan(long offset, int length)
    {
        if (offset < 0 || length < 0 || offset + length > _capacity)
            throw new ArgumentOutOfRangeException(nameof(offset), $"span [{offset},{offset + length}) outside storage of {_capacity} elements");
        return new Span<float>(_pointer + offset, length);
    }

    protected override void ReturnToPool()
    {
        _owner.Released(this);
        if (!_owner.Pool.Return(this)) Free();
    }

    internal override void Free()
    {
        if (_pointer == null) return;
        NativeMemory.AlignedFree(_pointer);
        _pointer = null;
        GC.RemoveMemoryPressure(_capacity * sizeof(float));
        GC.SuppressFinalize(this);
    }

    ~CpuStorage()
    {
        if (_pointer != null) NativeMemory.AlignedFree(_pointer);
    }
}
