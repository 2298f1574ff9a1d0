using NativeASD.Engine;
using NativeASD.Kernels;
using NativeASD.Kernels.Cpu;
using Xunit;

namespace NativeASD.Tests.Engine.Tensors;

/// <summary>The tensor core on its own (no PyTorch): views, copies, pooling, argument errors.</summary>
public class TensorTests
{
    static float[] Iota(int n, float start = 0) => Enumerable.Range(0, n).Select(i => start + i).ToArray();

    static Tensor Iota(params int[] shape) => Tensor.FromArray(Iota((int)Layout.Count(shape)), shape);

    // ---- creation and reading ------------------------------------------------------------------------

    [Fact]
    public void FromArrayKeepsShapeAndValues()
    {
        using var t = Iota(2, 3, 4);
        Assert.Equal([2, 3, 4], t.ShapeArray());
        Assert.Equal(24, t.Count);
        Assert.Equal(3, t.Rank);
        Assert.True(t.IsContiguous);
        Assert.Equal([12L, 4, 1], t.Strides.ToArray());
        Assert.Equal(Iota(24), t.ToArray());
        Assert.Equal(4, t.Dim(-1));
        Assert.Equal(2, t.Dim(0));
    }

    [Fact]
    public void ZerosAndFull()
    {
        using var z = Tensor.Zeros([3, 5]);
        Assert.All(z.ToArray(), v => Assert.Equal(0f, v));
        using var f = Tensor.Full([4], 2.5f);
        Assert.Equal([2.5f, 2.5f, 2.5f, 2.5f], f.ToArray());
    }

    [Fact]
    public void IndexerReadsThroughStrides()
    {
        using var t = Iota(2, 3, 4);
        Assert.Equal(0f, t[0, 0, 0]);
        Assert.Equal(23f, t[1, 2, 3]);
        Assert.Equal(1 * 12 + 2 * 4 + 1, t[1, 2, 1]);
        using var p = t.Permute(2, 0, 1);   // p[i,j,k] = t[j,k,i]
        Assert.Equal(t[1, 2, 3], p[3, 1, 2]);
        using var s = t.Slice(2, 1, 2);
        Assert.Equal(t[1, 1, 2], s[1, 1, 1]);
    }

    [Fact]
    public void IndexerRejectsBadIndices()
    {
        using var t = Iota(2, 3);
        var e = Assert.Throws<IndexOutOfRangeException>(() => t[2, 0]);
        Assert.Contains("[2,3]", e.Message);
        Assert.Throws<IndexOutOfRangeException>(() => t[0, -1]);
        var a = Assert.Throws<ArgumentException>(() => t[1]);
        Assert.Contains("rank 2", a.Message);
    }

    [Fact]
    public void ToArrayReadsThroughStrides()
    {
        using var t = Iota(2, 3, 4);
        using var p = t.Permute(2, 0, 1);
        var expected = new float[24];
        int n = 0;
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 2; j++)
                for (int k = 0; k < 3; k++)
                    expected[n++] = t[j, k, i];
        Assert.Equal(expected, p.ToArray());

        using var s = t.Slice(1, 1, 2);
        Assert.Equal([4f, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23], s.ToArray());

        using var col = Iota(1, 3);
        using var b = col.BroadcastTo(2, 3);
        Assert.Equal([0f, 1, 2, 0, 1, 2], b.ToArray());
    }

    // ---- views share storage -----------------------------------------------------------------------------

    [Fact]
    public void ViewsShareStorage()
    {
        using var t = Iota(4, 6);
        using var slice = t.Slice(0, 1, 2);
        using var perm = t.Permute(1, 0);
        using var reshaped = t.Reshape(2, 12);
        using var transposed = t.Transpose(0, 1);
        using var unsq = t.Unsqueeze(0);
        using var sq = unsq.Squeeze(0);
        using var row = Iota(1, 6);
        using var bcast = row.BroadcastTo(5, 6);
        foreach (var v in new[] { slice, perm, reshaped, transposed, unsq, sq })
            Assert.Same(t.Storage, v.Storage);
        Assert.Same(row.Storage, bcast.Storage);
        Assert.Equal(0L, bcast.Strides[0]);
        Assert.False(perm.IsContiguous);
        Assert.True(reshaped.IsContiguous);
        Assert.Equal(6L, slice.Offset);
    }

    [Fact]
    public void WritesThroughASliceAreVisibleInTheParent()
    {
        using var t = Tensor.Zeros([3, 4]);
        using var slice = t.Slice(1, 1, 2);   // columns 1..2 of every row: a strided view
        Assert.False(slice.IsContiguous);
        using var src = Tensor.FromArray([1f, 2, 3, 4, 5, 6], 3, 2);
        Ops.Copy(src, into: slice);
        Assert.Equal([0f, 1, 2, 0, 0, 3, 4, 0, 0, 5, 6, 0], t.ToArray());

        using var rowSlice = t.Slice(0, 2, 1);
        using var ones = Tensor.Full([1, 4], 9f);
        Ops.Copy(ones, rowSlice);
        Assert.Equal([0f, 1, 2, 0, 0, 3, 4, 0, 9, 9, 9, 9], t.ToArray());
    }

    [Fact]
    public void WritesThroughAPermutedViewAndIntoOutputs()
    {
        using var t = Tensor.Zeros([2, 3]);
        using var tt = t.Transpose(0, 1);   // [3,2] view
        using var src = Tensor.FromArray([1f, 2, 3, 4, 5, 6], 3, 2);
        Ops.Copy(src, tt);
        Assert.Equal([1f, 3, 5, 2, 4, 6], t.ToArray());

        using var neg = Ops.Neg(src, into: tt);
        Assert.Same(tt, neg);
        Assert.Equal([-1f, -3, -5, -2, -4, -6], t.ToArray());
    }

    [Fact]
    public void ReshapeOfANonContiguousTensorCopies()
    {
        using var t = Iota(2, 3);
        using var tt = t.Transpose(0, 1);
        using var flat = tt.Reshape(-1);
        Assert.NotSame(t.Storage, flat.Storage);
        Assert.True(flat.IsContiguous);
        Assert.Equal([0f, 3, 1, 4, 2, 5], flat.ToArray());
        using var again = flat.Reshape(3, 2);
        Assert.Same(flat.Storage, again.Storage);
    }

    [Fact]
    public void ContiguousOfAContiguousTensorIsAView()
    {
        using var t = Iota(2, 3);
        using var c = t.Contiguous();
        Assert.Same(t.Storage, c.Storage);
        using var tt = t.Transpose(0, 1);
        using var ct = tt.Contiguous();
        Assert.NotSame(t.Storage, ct.Storage);
        Assert.True(ct.IsContiguous);
        using var clone = t.Clone();
        Assert.NotSame(t.Storage, clone.Storage);
        Assert.Equal(t.ToArray(), clone.ToArray());
    }

    [Fact]
    public void ReshapeInfersMinusOne()
    {
        using var t = Iota(2, 3, 4);
        using var a = t.Reshape(-1, 4);
        Assert.Equal([6, 4], a.ShapeArray());
        using var b = t.Reshape(2, -1);
        Assert.Equal([2, 12], b.ShapeArray());
        using var c = t.Reshape(-1);
        Assert.Equal([24], c.ShapeArray());
        using var d = t.Reshape(3, -1, 2);
        Assert.Equal([3, 4, 2], d.ShapeArray());
        Assert.Equal(Iota(24), d.ToArray());
    }

    [Fact]
    public void ReshapeErrorsNameTheShapes()
    {
        using var t = Iota(2, 3, 4);
        var e = Assert.Throws<ArgumentException>(() => t.Reshape(5, -1));
        Assert.Contains("reshape", e.Message);
        Assert.Contains("[5,-1]", e.Message);
        Assert.Contains("[2,3,4]", e.Message);
        e = Assert.Throws<ArgumentException>(() => t.Reshape(5, 5));
        Assert.Contains("[2,3,4]", e.Message);
        Assert.Contains("[5,5]", e.Message);
        Assert.Throws<ArgumentException>(() => t.Reshape(0, -1));
    }

    // ---- disposal and the pool ---------------------------------------------------------------------------

    [Fact]
    public void DisposedStorageComesBackFromThePool()
    {
        using var backend = new CpuBackend(1);
        var t = Tensor.Empty([10, 100], backend);   // 1000 floats: the 1024 size class
        var storage = t.Storage;
        Assert.Equal(1024, storage.Length);
        t.Dispose();
        Assert.True(storage.IsReleased);
        using var u = Tensor.Empty([1020], backend);   // same size class
        Assert.Same(storage, u.Storage);
        Assert.False(storage.IsReleased);
        using var v = Tensor.Empty([1000], backend);   // the pooled one is taken: a fresh one
        Assert.NotSame(storage, v.Storage);
    }

    [Theory]
    [InlineData(1, 16)]
    [InlineData(16, 16)]
    [InlineData(17, 24)]
    [InlineData(24, 24)]
    [InlineData(25, 32)]
    [InlineData(33, 48)]
    [InlineData(49, 64)]
    [InlineData(1000, 1024)]
    [InlineData(1537, 2048)]
    public void StorageLengthIsTheSizeClass(int requested, int expected)
    {
        using var backend = new CpuBackend(1);
        using var t = Tensor.Empty([requested], backend);
        Assert.Equal(expected, t.Storage.Length);
    }

    [Fact]
    public void StorageStaysWhileAViewLives()
    {
        using var backend = new CpuBackend(1);
        var t = Tensor.FromSpan(Iota(64), [8, 8], backend);
        var storage = t.Storage;
        var view = t.Slice(0, 2, 3);
        t.Dispose();
        Assert.False(storage.IsReleased);
        Assert.Equal(16f, view[0, 0]);   // still readable
        using (var other = Tensor.Empty([64], backend))
            Assert.NotSame(storage, other.Storage);
        view.Dispose();
        Assert.True(storage.IsReleased);
        using var again = Tensor.Empty([64], backend);
        Assert.Same(storage, again.Storage);
    }

    [Fact]
    public void DisposeTwiceIsHarmlessAndUseAfterDisposeThrows()
    {
        using var backend = new CpuBackend(1);
        var t = Tensor.FromSpan(Iota(6), [2, 3], backend);
        using var keep = t.Share();   // keep the storage alive so only t's own checks fire
        t.Dispose();
        t.Dispose();
        Assert.False(keep.Storage.IsReleased);
        Assert.Throws<ObjectDisposedException>(() => t.ToArray());
        Assert.Throws<ObjectDisposedException>(() => t.Reshape(6));
        Assert.Throws<ObjectDisposedException>(() => t.Clone());
    }

    [Fact]
    public void ZerosClearsReusedMemory()
    {
        using var backend = new CpuBackend(1);
        var t = Tensor.Full([100], 7f, backend);
        t.Dispose();
        using var z = Tensor.Zeros([100], backend);
        Assert.All(z.ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void OpsOnReleasedStorageThrow()
    {
        using var backend = new CpuBackend(1);
        var t = Tensor.FromSpan(Iota(4), [4], backend);
        using var y = Tensor.Empty([4], backend);   // allocated first: after the Dispose it would reuse t's pooled storage
        var view = t.View;
        t.Dispose();
        var e = Assert.Throws<ObjectDisposedException>(() => backend.Unary(UnaryOp.Neg, view, y.View));
        Assert.Contains("Neg", e.Message);
    }

    // ---- argument errors ---------------------------------------------------------------------------------

    [Fact]
    public void BroadcastMismatchNamesTheOpAndShapes()
    {
        using var a = Tensor.Zeros([2, 3]);
        using var b = Tensor.Zeros([4]);
        var e = Assert.Throws<ArgumentException>(() => Ops.Add(a, b));
        Assert.Contains("Add: shapes [2,3] and [4] do not broadcast", e.Message);
        e = Assert.Throws<ArgumentException>(() => Ops.Maximum(a, b));
        Assert.Contains("Max: shapes [2,3] and [4] do not broadcast", e.Message);
    }

    [Fact]
    public void OutputShapeMismatchNamesTheShapes()
    {
        using var a = Tensor.Zeros([2, 3]);
        using var b = Tensor.Zeros([3]);
        using var wrong = Tensor.Zeros([3, 2]);
        var e = Assert.Throws<ArgumentException>(() => Ops.Mul(a, b, into: wrong));
        Assert.Contains("Mul", e.Message);
        Assert.Contains("[3,2]", e.Message);
        Assert.Contains("[2,3]", e.Message);
        e = Assert.Throws<ArgumentException>(() => Ops.Relu(a, into: wrong));
        Assert.Contains("Relu", e.Message);
        Assert.Contains("[3,2]", e.Message);
        Assert.Contains("[2,3]", e.Message);
    }

    [Fact]
    public void BackendMismatchIsRejected()
    {
        using var other = new CpuBackend(1);
        using var a = Tensor.Zeros([2]);
        using var b = Tensor.Zeros([2], other);
        var e = Assert.Throws<ArgumentException>(() => Ops.Add(a, b));
        Assert.Contains("Add", e.Message);
    }

    [Fact]
    public void RankAboveEightIsRejected()
    {
        int[] nine = Enumerable.Repeat(1, 9).ToArray();
        var e = Assert.Throws<ArgumentException>(() => Tensor.Zeros(nine));
        Assert.Contains("rank 9", e.Message);
        using var eight = Tensor.Zeros(Enumerable.Repeat(1, 8).ToArray());
        Assert.Equal(8, eight.Rank);
        Assert.Throws<ArgumentException>(() => eight.Unsqueeze(0));
        Assert.Throws<ArgumentException>(() => eight.BroadcastTo(nine));
    }

    [Fact]
    public void BadShapesAndAxesAreRejected()
    {
        Assert.ThrowsAny<ArgumentException>(() => Tensor.Zeros([2, -1]));
        Assert.ThrowsAny<ArgumentException>(() => Tensor.Zeros([-2, -1]));
        var e = Assert.Throws<ArgumentException>(() => Tensor.FromArray([1f, 2, 3], 2, 2));
        Assert.Contains("[2,2]", e.Message);

        using var t = Iota(2, 3, 4);
        Assert.Throws<ArgumentException>(() => t.Permute(0, 1));
        Assert.Throws<ArgumentException>(() => t.Permute(0, 1, 1));
        Assert.Throws<ArgumentException>(() => t.Permute(0, 1, 3));
        var r = Assert.Throws<ArgumentOutOfRangeException>(() => t.Slice(1, 2, 2));
        Assert.Contains("[2,3,4]", r.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Slice(3, 0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Slice(0, -1, 1));
        var s = Assert.Throws<ArgumentException>(() => t.Squeeze(1));
        Assert.Contains("squeeze", s.Message);
        var b = Assert.Throws<ArgumentException>(() => t.BroadcastTo(2, 5, 4));
        Assert.Contains("[2,3,4]", b.Message);
        Assert.Contains("[2,5,4]", b.Message);
        Assert.Throws<ArgumentException>(() => t.BroadcastTo(3, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Dim(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Transpose(0, -4));
    }

    [Fact]
    public void ReduceAxisErrorsNameTheOp()
    {
        using var t = Iota(2, 3);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Sum(t, 2));
        Assert.Contains("Sum", e.Message);
        Assert.Contains("[2,3]", e.Message);
        using var empty = Tensor.Zeros([2, 0]);
        var z = Assert.Throws<ArgumentException>(() => Ops.Max(empty, 1));
        Assert.Contains("Max", z.Message);
        Assert.Contains("empty", z.Message);
    }

    [Fact]
    public void GemmShapeErrorsNameTheShapes()
    {
        using var a = Tensor.Zeros([2, 3]);
        using var b = Tensor.Zeros([4, 5]);
        using var c = Tensor.Zeros([2, 5]);
        var e = Assert.Throws<ArgumentException>(() => Ops.Gemm(a, b, c));
        Assert.Contains("gemm", e.Message);
        Assert.Contains("[2,3]", e.Message);
        Assert.Contains("[4,5]", e.Message);
        using var v = Tensor.Zeros([3]);
        Assert.Throws<ArgumentException>(() => Ops.MatMul(a, v));
    }

    // ---- small op semantics the fixtures rely on ---------------------------------------------------------

    [Fact]
    public void ReduceKeepDimAndScalarReduce()
    {
        using var t = Iota(2, 3);
        using var s = Ops.Sum(t, 1, keepDim: true);
        Assert.Equal([2, 1], s.ShapeArray());
        Assert.Equal([3f, 12], s.ToArray());
        using var all = Ops.ReduceAll(ReduceOp.Sum, t);
        Assert.Equal([1], all.ShapeArray());
        Assert.Equal(15f, all.ToArray()[0]);
        using var am = Ops.ArgMax(t, 0);
        Assert.Equal([1f, 1, 1], am.ToArray());
    }

    [Fact]
    public void BroadcastViewsCanBeReadButNotExpandedWrongly()
    {
        using var t = Tensor.FromArray([1f, 2, 3], 3, 1);
        using var b = t.BroadcastTo(2, 3, 4);
        Assert.Equal([2, 3, 4], b.ShapeArray());
        Assert.Equal([0L, 1, 0], b.Strides.ToArray());
        Assert.Equal(3f, b[1, 2, 3]);
        using var sum = Ops.Sum(b, 2);
        Assert.Equal([4f, 8, 12, 4, 8, 12], sum.ToArray());
    }

    [Fact]
    public void ToMovesBetweenBackends()
    {
        using var other = new CpuBackend(1);
        using var t = Iota(2, 2);
        using var tt = t.Transpose(0, 1);
        using var moved = tt.To(other);
        Assert.Same(other, moved.Backend);
        Assert.Equal(tt.ToArray(), moved.ToArray());
        using var same = t.To(t.Backend);
        Assert.Same(t.Storage, same.Storage);
    }
}
