using System.Runtime.CompilerServices;

// ILGPU's CPU accelerator emits a task type per kernel in a dynamic assembly named ILGPURuntime; that
// assembly must see the internal argument structs below.
[assembly: InternalsVisibleTo("ILGPURuntime")]

namespace NativeASD.Kernels.Ilgpu;

/// <summary>
/// How a kernel turns a linear element index into storage offsets: one shared shape (up to
/// <see cref="StridedView.MaxRank"/> axes) walked row-major, with strides and a start offset for up to three
/// operands (A, B = inputs, Y = output). Unmanaged and fixed-size so it goes to the device by value as a
/// kernel argument. Built on the host by <see cref="Build"/>, which first drops size-1 axes and merges axes
/// that are contiguous in every operand, so a contiguous tensor walks as rank 1 (one multiply per element).
/// </summary>
internal unsafe struct ViewWalk
{
    public const int MaxRank = StridedView.MaxRank;

    public int Rank;
    public fixed int Shape[MaxRank];
    public fixed long StridesA[MaxRank];
    public fixed long StridesB[MaxRank];
    public fixed long StridesY[MaxRank];
    public long OffsetA, OffsetB, OffsetY;

    /// <summary>Storage offsets of element <paramref name="index"/> (row-major over the walk shape) in each operand.</summary>
    public readonly void Offsets(long index, out long a, out long b, out long y)
    {
        a = OffsetA; b = OffsetB; y = OffsetY;
        for (int d = Rank - 1; d >= 0; d--)
        {
            long n = Shape[d];
            long i = index % n;
            index /= n;
            a += i * StridesA[d];
            b += i * StridesB[d];
            y += i * StridesY[d];
        }
    }

    /// <summary>
    /// The walk over <paramref name="shape"/> for operands given as (offset, strides) — A, then B, then Y; the
    /// missing ones get stride 0. Returns the element count; 0 means nothing to launch.
    /// </summary>
    public static long Build(ReadOnlySpan<int> shape, out ViewWalk walk,
        long offsetA, long[]? stridesA, long offsetB = 0, long[]? stridesB = null, long offsetY = 0, long[]? stridesY = null)
    {
        walk = default;
        walk.OffsetA = offsetA; walk.OffsetB = offsetB; walk.OffsetY = offsetY;
        long count = Layout.Count(shape);
        if (count == 0) return 0;
        int rank = 0;
        for (int axis = 0; axis < shape.Length; axis++)
        {
            int n = shape[axis];
            if (n == 1) continue;
            long sa = stridesA?[axis] ?? 0, sb = stridesB?[axis] ?? 0, sy = stridesY?[axis] ?? 0;
            int last = rank - 1;
            if (last >= 0 && (long)walk.Shape[last] * n <= int.MaxValue && walk.StridesA[last] == sa * n && walk.StridesB[last] == sb * n && walk.StridesY[last] == sy * n)
            {
                // The previous axis steps exactly over this one in every operand: one longer axis.
                walk.Shape[last] *= n;
                walk.StridesA[last] = sa; walk.StridesB[last] = sb; walk.StridesY[last] = sy;
                continue;
            }
            walk.Shape[rank] = n;
            walk.StridesA[rank] = sa; walk.StridesB[rank] = sb; walk.StridesY[rank] = sy;
            rank++;
        }
        walk.Rank = rank;
        return count;
    }
}
