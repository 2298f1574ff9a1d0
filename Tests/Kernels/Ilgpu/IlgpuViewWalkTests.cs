using NativeASD.Kernels;
using NativeASD.Kernels.Ilgpu;

namespace NativeASD.Tests.Kernels.Ilgpu;

/// <summary>
/// The host side of strided kernels: <see cref="ViewWalk.Plan"/> (axis merging, splitting into launches) and the
/// index-to-offset arithmetic the kernels run, checked element by element against plain row-major stepping.
/// Splitting is exercised with tiny launch limits, standing in for tensors of more than 2^31 elements.
/// </summary>
public class IlgpuViewWalkTests
{
    public static TheoryData<int[], long[], int> Cases => new()
    {
        { new[] { 3, 5, 7 }, Layout.ContiguousStrides([3, 5, 7]), int.MaxValue },
        { new[] { 3, 5, 7 }, Layout.ContiguousStrides([3, 5, 7]), 10 },        // split the merged axis
        { new[] { 4, 1, 6, 5 }, new long[] { 1, 99, 4, 24 }, int.MaxValue },   // permuted, with a size-1 axis
        { new[] { 4, 6, 5 }, new long[] { 0, 1, 0 }, 7 },                     // broadcast, split
        { new[] { 2, 3, 4, 5 }, new long[] { 200, -40, 10, 2 }, 3 },           // negative stride, recurse past the outer axis
        { new[] { 2, 2, 2, 2, 2, 2, 2, 2 }, new long[] { 1, 2, 4, 8, 16, 32, 64, 128 }, int.MaxValue }, // rank 8, reversed
        { new int[0], new long[0], int.MaxValue },                               // a scalar
        { new[] { 1, 1 }, new long[] { 5, 9 }, int.MaxValue },
        { new[] { 3, 0, 2 }, new long[] { 2, 2, 1 }, int.MaxValue },           // empty
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void PlanVisitsEveryElementInRowMajorOrder(int[] shape, long[] strides, int maxCount)
    {
        // Operand A uses the strides, Y is contiguous: Y's offset is the element's row-major index.
        var contiguous = Layout.ContiguousStrides(shape);
        var launches = ViewWalk.Plan(shape, 1000, strides, 0, null, 0, contiguous, maxCount);
        var seen = new List<(long A, long Y)>();
        foreach (var (walk, count) in launches)
        {
            Assert.InRange(count, 1, maxCount);
            for (int i = 0; i < count; i++)
            {
                ViewWalk.Offsets(walk, i, out long a, out long b, out long y);
                Assert.Equal(0, b);
                seen.Add((a, y));
            }
        }
        long total = Layout.Count(shape);
        Assert.Equal(total, seen.Count);
        for (long e = 0; e < total; e++)
        {
            long rest = e, expectedA = 1000;
            for (int d = shape.Length - 1; d >= 0; d--) { expectedA += rest % shape[d] * strides[d]; rest /= shape[d]; }
            Assert.Equal((expectedA, e), seen[(int)e]);
        }
    }

    [Fact]
    public void ContiguousViewsMergeToOneAxis()
    {
        var launches = ViewWalk.Plan([4, 5, 6], 0, Layout.ContiguousStrides([4, 5, 6]), 0, null, 3, Layout.ContiguousStrides([4, 5, 6]));
        var (walk, count) = Assert.Single(launches);
        Assert.Equal(1, walk.Rank);
        Assert.Equal(120, count);
    }
}
