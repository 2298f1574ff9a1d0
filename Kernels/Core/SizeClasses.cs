using System.Numerics;

namespace NativeASD.Kernels;

/// <summary>
/// The capacity a pooled storage gets for a requested length: 16 floats at least, then 2^k or 1.5·2^k.
/// Shared by every backend's pool so recurring tensor sizes land in the same few buckets and get reused,
/// while wasting at most a third of an allocation.
/// </summary>
public static class SizeClasses
{
    public static long Round(long length)
    {
        if (length <= 16) return 16;
        long pow = (long)BitOperations.RoundUpToPowerOf2((ulong)length);
        long threeQuarters = pow / 4 * 3;
        return length <= threeQuarters ? threeQuarters : pow;
    }
}
