using System.Collections.Concurrent;

namespace NativeASD.Kernels.Cpu;

/// <summary>
/// Keeps released storages by size class (2^k and 1.5·2^k floats) so hot loops that allocate
/// tensors of recurring sizes reuse memory. Retains at most <see cref="MaxRetainedBytes"/>.
/// </summary>
internal sealed class StoragePool
{
    readonly ConcurrentDictionary<long, ConcurrentBag<CpuStorage>> _free = new();
    long _retainedBytes;

    public long MaxRetainedBytes { get; init; } = 512L << 20;

    public long RetainedBytes => Interlocked.Read(ref _retainedBytes);

    public static long SizeClass(long length) => SizeClasses.Round(length);

    public CpuStorage? Take(long capacity)
    {
        if (_free.TryGetValue(capacity, out var bag) && bag.TryTake(out var s))
        {
            Interlocked.Add(ref _retainedBytes, -capacity * sizeof(float));
            s.Reuse();
            return s;
        }
        return null;
    }

    public bool Return(CpuStorage s)
    {
        long bytes = s.Length * sizeof(float);
        if (Interlocked.Add(ref _retainedBytes, bytes) > MaxRetainedBytes)
        {
            Interlocked.Add(ref _retainedBytes, -bytes);
            return false;
        }
        _free.GetOrAdd(s.Length, _ => new ConcurrentBag<CpuStorage>()).Add(s);
        return true;
    }

    public void Clear()
    {
        foreach (var bag in _free.Values)
            while (bag.TryTake(out var s)) { Interlocked.Add(ref _retainedBytes, -s.Length * sizeof(float)); s.Free(); }
    }
}
