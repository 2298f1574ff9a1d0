using System.Runtime.CompilerServices;

// ILGPU's CPU accelerator emits a task type per kernel in a dynamic assembly named ILGPURuntime; that
// assembly must see the internal argument structs below.
[assembly: InternalsVisibleTo("ILGPURuntime")]

namespace NativeASD.Kernels.Ilgpu;

/// <summary>One axis of a <see cref="ViewWalk"/>: its length and each operand's stride along it.</summary>
internal struct WalkAxis
{
    public int Length;
    public long StrideA, StrideB, StrideY;
}

/// <summary>
/// How a kernel turns a linear element index into storage offsets: one shared shape (up to
/// <see cref="StridedView.MaxRank"/> axes) walked row-major, with strides and a start offset for up to three
/// operands (A, B = inputs, Y = output).
/// <para>
/// A plain struct of scalars so it goes to the device by value as a kernel argument and stays in registers: the
/// axes are separate fields rather than arrays, because arrays (fixed buffers) make ILGPU copy the struct to
/// per-thread local memory, or fail to compile it. The outermost axis is kept apart (<see cref="Outer"/>): after
/// the inner axes are divided off, the index is already its coordinate, so a rank-1 (contiguous) walk costs one
/// multiply and no division. Indices are 32-bit (fast division on GPUs); <see cref="Plan"/> splits larger walks
/// into several launches.
/// </para>
/// </summary>
internal struct ViewWalk
{
    public const int MaxRank = StridedView.MaxRank;

    public int Rank;
    public WalkAxis Outer;
    /// <summary>The axes inside <see cref="Outer"/>, innermost first (Inner0 varies fastest).</summary>
    public WalkAxis Inner0, Inner1, Inner2, Inner3, Inner4, Inner5, Inner6;
    public long OffsetA, OffsetB, OffsetY;

    /// <summary>Storage offsets of element <paramref name="index"/> (row-major over the walk shape) in each operand.</summary>
    public static void Offsets(in ViewWalk w, int index, out long a, out long b, out long y)
    {
        a = w.OffsetA; b = w.OffsetB; y = w.OffsetY;
        // Unrolled over fields (see the type's remarks): no loop index into the struct.
        if (w.Rank > 1) Step(ref index, w.Inner0, ref a, ref b, ref y);
        if (w.Rank > 2) Step(ref index, w.Inner1, ref a, ref b, ref y);
        if (w.Rank > 3) Step(ref index, w.Inner2, ref a, ref b, ref y);
        if (w.Rank > 4) Step(ref index, w.Inner3, ref a, ref b, ref y);
        if (w.Rank > 5) Step(ref index, w.Inner4, ref a, ref b, ref y);
        if (w.Rank > 6) Step(ref index, w.Inner5, ref a, ref b, ref y);
        if (w.Rank > 7) Step(ref index, w.Inner6, ref a, ref b, ref y);
        a += index * w.Outer.StrideA;
        b += index * w.Outer.StrideB;
        y += index * w.Outer.StrideY;
    }

    /// <summary>Takes one axis off the index.</summary>
    static void Step(ref int index, in WalkAxis axis, ref long a, ref long b, ref long y)
    {
        int quotient = index / axis.Length;
        long i = index - quotient * axis.Length;
        index = quotient;
        a += i * axis.StrideA;
        b += i * axis.StrideB;
        y += i * axis.StrideY;
    }

    /// <summary>
    /// The launches that walk <paramref name="shape"/> for operands given as (offset, strides) — A, then B, then Y;
    /// missing operands get stride 0. Usually one launch; walks of more than <paramref name="maxCount"/> elements
    /// are cut along their outer axes. Empty when the shape has no elements.
    /// </summary>
    public static List<(ViewWalk Walk, int Count)> Plan(ReadOnlySpan<int> shape,
        long offsetA, long[]? stridesA, long offsetB = 0, long[]? stridesB = null, long offsetY = 0, long[]? stridesY = null,
        int maxCount = int.MaxValue)
    {
        var launches = new List<(ViewWalk, int)>();
        if (Layout.Count(shape) == 0) return launches;

        // Drop size-1 axes and merge an axis into the one before it when that one steps exactly over it in every
        // operand (as the CPU's StridedRows does): a contiguous tensor becomes one axis.
        var axes = new List<WalkAxis>(MaxRank);
        for (int axis = 0; axis < shape.Length; axis++)
        {
            int n = shape[axis];
            if (n == 1) continue;
            var next = new WalkAxis { Length = n, StrideA = stridesA?[axis] ?? 0, StrideB = stridesB?[axis] ?? 0, StrideY = stridesY?[axis] ?? 0 };
            if (axes.Count > 0)
            {
                var last = axes[^1];
                if ((long)last.Length * n <= int.MaxValue && last.StrideA == next.StrideA * n
                    && last.StrideB == next.StrideB * n && last.StrideY == next.StrideY * n)
                {
                    next.Length *= last.Length;
                    axes[^1] = next;
                    continue;
                }
            }
            axes.Add(next);
        }
        Split(axes, 0, offsetA, offsetB, offsetY, maxCount, launches);
        return launches;
    }

    /// <summary>Adds launches for axes[from..] (outermost first) at the given offsets, each at most maxCount elements.</summary>
    static void Split(List<WalkAxis> axes, int from, long a, long b, long y, int maxCount, List<(ViewWalk, int)> launches)
    {
        if (from == axes.Count)
        {
            launches.Add((Make(axes, from, axes.Count, a, b, y), 1)); // a single element
            return;
        }
        long inner = 1;
        for (int d = from + 1; d < axes.Count; d++) inner *= axes[d].Length;
        var outer = axes[from];
        if (inner > maxCount)
        {
            // Even one step of the outer axis is too much: recurse into each of its indices.
            for (long i = 0; i < outer.Length; i++)
                Split(axes, from + 1, a + i * outer.StrideA, b + i * outer.StrideB, y + i * outer.StrideY, maxCount, launches);
            return;
        }
        int chunk = (int)Math.Min(outer.Length, maxCount / inner);
        for (int start = 0; start < outer.Length; start += chunk)
        {
            int length = Math.Min(chunk, outer.Length - start);
            var walk = Make(axes, from, axes.Count, a + start * outer.StrideA, b + start * outer.StrideB, y + start * outer.StrideY);
            walk.Outer.Length = length;
            launches.Add((walk, (int)(length * inner)));
        }
    }

    /// <summary>The walk over axes[from..to) (outermost first) at the given offsets.</summary>
    static ViewWalk Make(List<WalkAxis> axes, int from, int to, long a, long b, long y)
    {
        var w = new ViewWalk { Rank = to - from, OffsetA = a, OffsetB = b, OffsetY = y };
        if (w.Rank == 0) return w;
        w.Outer = axes[from];
        for (int d = 0; d < w.Rank - 1; d++) InnerAxis(ref w, d) = axes[to - 1 - d];
        return w;
    }

    static ref WalkAxis InnerAxis(ref ViewWalk w, int d)
    {
        switch (d)
        {
            case 0: return ref w.Inner0;
            case 1: return ref w.Inner1;
            case 2: return ref w.Inner2;
            case 3: return ref w.Inner3;
            case 4: return ref w.Inner4;
            case 5: return ref w.Inner5;
            case 6: return ref w.Inner6;
            default: throw new ArgumentOutOfRangeException(nameof(d), d, $"walk: rank exceeds {MaxRank}");
        }
    }
}
