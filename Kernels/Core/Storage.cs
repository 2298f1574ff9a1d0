namespace NativeASD.Kernels;

/// <summary>
/// A block of float32 memory owned by one backend: 64-byte aligned host memory on the CPU backend,
/// a device buffer on ILGPU backends. Reference counted so views can share it; when the last
/// reference is released the block goes back to its backend's pool instead of being freed.
/// </summary>
public abstract class Storage : IDisposable
{
    int _references = 1;

    public abstract IBackend Backend { get; }

    /// <summary>Number of float32 elements the storage holds (may exceed what was asked for: pool size classes).</summary>
    public abstract long Length { get; }

    /// <summary>Adds a reference (a new view sharing this storage). Pair with <see cref="Release"/>.</summary>
    public Storage Retain()
    {
        if (Interlocked.Increment(ref _references) <= 1)
            throw new ObjectDisposedException(GetType().Name, "storage was already released");
        return this;
    }

    /// <summary>Drops a reference; the last one hands the memory back to the backend's pool.</summary>
    public void Release()
    {
        int left = Interlocked.Decrement(ref _references);
        if (left == 0) ReturnToPool();
        else if (left < 0) throw new ObjectDisposedException(GetType().Name, "storage released more often than retained");
    }

    public bool IsReleased => Volatile.Read(ref _references) <= 0;

    /// <summary>Called once, when the reference count reaches zero.</summary>
    protected abstract void ReturnToPool();

    /// <summary>Re-arms a pooled storage for a new owner.</summary>
    internal void Reuse() => Volatile.Write(ref _references, 1);

    /// <summary>Frees the memory for good (not back to the pool).</summary>
    internal abstract void Free();

    public void Dispose() => Release();
}
