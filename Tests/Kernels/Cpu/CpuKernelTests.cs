using NativeASD.Engine;
using NativeASD.Kernels;
using NativeASD.Kernels.Cpu;
using Xunit;

namespace NativeASD.Tests.Kernels.Cpu;

/// <summary>CPU-backend properties that torch fixtures do not cover: determinism, fast paths vs general paths, pooling.</summary>
public class CpuKernelTests
{
    static float[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void ReductionsAreBitIdenticalForAnyThreadCount(int axis)
    {
        var data = Random(37 * 1100 * 41, 3);
        int[] shape = [37, 1100, 41];
        using var one = new CpuBackend(1);
        using var two = new CpuBackend(2);
        using var three = new CpuBackend(3);
        foreach (var op in Enum.GetValues<ReduceOp>())
        {
            float[] Run(IBackend b)
            {
                using var x = Tensor.FromSpan(data, shape, b);
                using var y = Ops.Reduce(op, x, axis, correction: 1);
                return y.ToArray();
            }
            var r1 = Run(one);
            Assert.Equal(r1, Run(two));
            Assert.Equal(r1, Run(three));
        }
    }

    [Fact]
    public void ElementwiseIsBitIdenticalForAnyThreadCount()
    {
        var a = Random(300_001, 1);
        var b = Random(300_001, 2);
        using var one = new CpuBackend(1);
        using var two = new CpuBackend(2);
        float[] Run(IBackend be)
        {
            using var x = Tensor.FromSpan(a, [300_001], be);
            using var y = Tensor.FromSpan(b, [300_001], be);
            using var s = Ops.Mul(x, y);
            using var t = Ops.Sigmoid(s);
            return t.ToArray();
        }
        Assert.Equal(Run(one), Run(two));
    }

    [Theory]
    [InlineData(3, 5)]
    [InlineData(64, 64)]
    [InlineData(1000, 37)]
    [InlineData(33, 2049)]
    public void TiledTransposeMatchesElementByElement(int rows, int cols)
    {
        var data = Random(rows * cols, 5);
        using var x = Tensor.FromArray(data, rows, cols);
        using var t = x.Transpose(0, 1);
        using var c = t.Contiguous();
        var got = c.ToArray();
        for (int i = 0; i < cols; i++)
            for (int j = 0; j < rows; j++)
                Assert.Equal(data[j * cols + i], got[i * rows + j]);
    }

    [Fact]
    public void PermuteOfFourAxesMatchesIndexing()
    {
        var data = Random(2 * 3 * 4 * 5, 7);
        using var x = Tensor.FromArray(data, 2, 3, 4, 5);
        using var p = x.Permute(3, 1, 0, 2);
        using var c = p.Contiguous();
        Assert.Equal([5, 3, 2, 4], c.ShapeArray());
        for (int a = 0; a < 2; a++) for (int b = 0; b < 3; b++) for (int d = 0; d < 4; d++) for (int e = 0; e < 5; e++)
            Assert.Equal(data[((a * 3 + b) * 4 + d) * 5 + e], c[e, b, a, d]);
    }

    [Fact]
    public void BroadcastFirstOperandUsesScalarPath()
    {
        using var col = Tensor.FromArray([1f, 2f, 3f], 3, 1);
        using var row = Tensor.FromArray([10f, 20f, 30f, 40f], 1, 4);
        using var d = Ops.Sub(col, row);
        Assert.Equal([-9f, -19f, -29f, -39f, -8f, -18f, -28f, -38f, -7f, -17f, -27f, -37f], d.ToArray());
        using var q = Ops.Div(row, col);
        Assert.Equal(40f / 3f, q[2, 3]);
    }

    [Fact]
    public void ReleasedStorageIsReusedFromThePool()
    {
        using var backend = new CpuBackend(1);
        var first = backend.Allocate(1000);
        long capacity = first.Length;
        first.Release();
        var second = backend.Allocate(900);
        Assert.Same(first, second);
        Assert.Equal(capacity, second.Length);
        second.Release();
        Assert.Throws<ObjectDisposedException>(() => second.Release());
    }

    [Fact]
    public void ViewOutsideStorageIsRejected()
    {
        var b = TestBackends.Reference;
        using var s = b.Allocate(16);
        var bad = new StridedView(s, 10, [4, 4], [4, 1]);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => b.Fill(bad, 0f));
        Assert.Contains("fill", e.Message);
        Assert.Contains("[4,4]", e.Message);
    }
}
