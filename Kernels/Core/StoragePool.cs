using System.Collections.Concurrent;

namespace NativeASD.Kernels;

/// <summary>
/// Released storages of one backend by size class (<see cref="SizeClasses"/>), so hot loops that allocate tensors of
/// recurring sizes reuse memory (host blocks or device buffers) instead of allocating each time. Retains at most
/// <see cref="MaxRetainedBytes"/>; the ILGPU backend empties it and retries when a device allocation fails.
/// </summary>
internal sealed class StoragePool<TStorage> where TStorage : Storage
{
    readonly ConcurrentDictionary<long, ConcurrentBag<TStorage>> _free = new();
    long _retainedBytes;

    public long MaxRetainedBytes { get; init; } = 512L << 20;

    public long RetainedBytes => Interlocked.Read(ref _retainedBytes);

    /// <summary>A pooled storage of exactly <paramref name="capacity"/> floats (a size class), re-armed, or null.</summary>
    public TStorage? Take(long capacity)
    {
        if (_free.TryGetValue(capacity, out var bag) && bag.TryTake(out var s))
        {
            Interlocked.Add(ref _retainedBytes, -capacity * sizeof(float));
            s.Reuse();
            return s;
        }
        return null;
    }

    /// <summary>Keeps <paramref name="s"/> for reuse; false when the pool is full (the caller frees it).</summary>
    public bool Return(TStorage s)
    {
        long bytes = s.Length * sizeof(float);
        if (Interlocked.Add(ref _retainedBytes, bytes) > MaxRetainedBytes)
        {
            Interlocked.Add(ref _retainedBytes, -bytes);
            return false;
        }
        _free.GetOrAdd(s.Length, _ => new ConcurrentBag<TStorage>()).Add(s);
        return true;
    }

    /// <summary>Frees every retained storage (an ILGPU backend calls it with its accelerator bound).</summary>
    public void Clear()
    {
        foreach (var bag in _free.Values)
            while (bag.TryTake(out var s)) { Interlocked.Add(ref _retainedBytes, -s.Length * sizeof(float)); s.Free(); }
    }
}
