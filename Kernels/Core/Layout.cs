namespace NativeASD.Kernels;

/// <summary>Shape and stride arithmetic shared by every backend.</summary>
public static class Layout
{
    public static long Count(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (int d in shape) n *= d;
        return n;
    }

    public static long[] ContiguousStrides(ReadOnlySpan<int> shape)
    {
        var strides = new long[shape.Length];
        long s = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { strides[i] = s; s *= shape[i]; }
        return strides;
    }

    /// <summary>Row-major contiguous, ignoring strides of size-1 axes (they are never stepped).</summary>
    public static bool IsContiguous(ReadOnlySpan<int> shape, ReadOnlySpan<long> strides)
    {
        long expected = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            if (shape[i] == 1) continue;
            if (strides[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(",", shape.ToArray()) + "]";

    public static bool SameShape(ReadOnlySpan<int> a, ReadOnlySpan<int> b) => a.SequenceEqual(b);

    /// <summary>Lowest and one-past-highest element a view touches; used to bounds-check views against storage.</summary>
    public static (long Min, long End) Extent(long offset, ReadOnlySpan<int> shape, ReadOnlySpan<long> strides)
    {
        long lo = offset, hi = offset;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == 0) return (offset, offset);
            long span = (long)(shape[i] - 1) * strides[i];
            if (span < 0) lo += span; else hi += span;
        }
        return (lo, hi + 1);
    }
}
