using System.Collections.Concurrent;

namespace NativeASD.Kernels.Ilgpu;

/// <summary>
/// Released device buffers by size class (<see cref="SizeClasses"/>, the CPU pool's rule), so recurring tensor
/// sizes reuse memory instead of paying a device allocation each time. Retains at most
/// <see cref="MaxRetainedBytes"/>; the backend empties it and retries when an allocation fails.
/// </summary>
internal sealed class IlgpuStoragePool
{
    readonly ConcurrentDictionary<long, ConcurrentBag<IlgpuStorage>> _free = new();
    long _retainedBytes;

    public long MaxRetainedBytes { get; init; } = 512L << 20;

    public long RetainedBytes => Volatile.Read(ref _retainedBytes);

    public IlgpuStorage? Take(long capacity)
    {
        if (_free.TryGetValue(capacity, out var bag) && bag.TryTake(out var s))
        {
            Interlocked.Add(ref _retainedBytes, -capacity * sizeof(float));
            s.Reuse();
            return s;
        }
        return null;
    }

    public bool Return(IlgpuStorage s)
    {
        long bytes = s.Length * sizeof(float);
        if (Interlocked.Add(ref _retainedBytes, bytes) > MaxRetainedBytes)
        {
            Interlocked.Add(ref _retainedBytes, -bytes);
            return false;
        }
        _free.GetOrAdd(s.Length, _ => new ConcurrentBag<IlgpuStorage>()).Add(s);
        return true;
    }

    /// <summary>Frees every retained buffer (caller holds the backend's lock, accelerator bound).</summary>
    public void Clear()
    {
        foreach (var bag in _free.Values)
            while (bag.TryTake(out var s)) { Interlocked.Add(ref _retainedBytes, -s.Length * sizeof(float)); s.Free(); }
    }
}
