namespace NativeASD.Kernels;

/// <summary>Argument checks shared by all backends, so every backend fails the same way with the op and shapes named.</summary>
public static class Check
{
    public static void SameBackend(string op, IBackend backend, in StridedView v, string name)
    {
        if (!ReferenceEquals(v.Storage.Backend, backend))
            throw new ArgumentException($"{op}: {name} lives on {v.Storage.Backend.Kind}, not on {backend.Kind}");
        if (v.Storage.IsReleased)
            throw new ObjectDisposedException($"{op}: {name} storage was released");
        var (lo, end) = Layout.Extent(v.Offset, v.Shape, v.Strides);
        if (lo < 0 || end > v.Storage.Length)
            throw new ArgumentOutOfRangeException(name,
                $"{op}: {name} view {Layout.Format(v.Shape)} at offset {v.Offset} reaches [{lo},{end}) outside storage of {v.Storage.Length} elements");
    }

    public static void SameShape(string op, in StridedView a, string an, in StridedView b, string bn)
    {
        if (!Layout.SameShape(a.Shape, b.Shape))
            throw new ArgumentException($"{op}: shape mismatch, {an} {Layout.Format(a.Shape)} vs {bn} {Layout.Format(b.Shape)}");
    }

    public static void Unary(IBackend backend, UnaryOp op, in StridedView x, in StridedView y)
    {
        string name = op.ToString();
        SameBackend(name, backend, x, "x");
        SameBackend(name, backend, y, "y");
        SameShape(name, x, "x", y, "y");
    }

    public static void Binary(IBackend backend, BinaryOp op, in StridedView a, in StridedView b, in StridedView y)
    {
        string name = op.ToString();
        SameBackend(name, backend, a, "a");
        SameBackend(name, backend, b, "b");
        SameBackend(name, backend, y, "y");
        SameShape(name, a, "a", y, "y");
        SameShape(name, b, "b", y, "y");
    }

    public static void Reduce(IBackend backend, ReduceOp op, in StridedView x, int axis, in StridedView y)
    {
        string name = op.ToString();
        SameBackend(name, backend, x, "x");
        SameBackend(name, backend, y, "y");
        if ((uint)axis >= (uint)x.Rank)
            throw new ArgumentOutOfRangeException(nameof(axis), $"{name}: axis {axis} out of range for x {Layout.Format(x.Shape)}");
        if (x.Shape[axis] == 0)
            throw new ArgumentException($"{name}: cannot reduce empty axis {axis} of x {Layout.Format(x.Shape)}");
        bool ok = y.Rank == x.Rank;
        for (int i = 0; ok && i < x.Rank; i++) ok = y.Shape[i] == (i == axis ? 1 : x.Shape[i]);
        if (!ok)
            throw new ArgumentException($"{name}: y {Layout.Format(y.Shape)} must be x {Layout.Format(x.Shape)} with axis {axis} set to 1");
    }

    public static void Gemm(IBackend backend, in GemmArgs g)
    {
        if (g.M < 0 || g.N < 0 || g.K < 0 || g.Batch < 1)
            throw new ArgumentException($"gemm: invalid sizes m={g.M} n={g.N} k={g.K} batch={g.Batch}");
        int aRows = g.TransA ? g.K : g.M, aCols = g.TransA ? g.M : g.K;
        int bRows = g.TransB ? g.N : g.K, bCols = g.TransB ? g.K : g.N;
        Matrix(backend, "A", g.A, g.OffsetA, aRows, aCols, g.Lda, g.Batch, g.StrideA, g);
        Matrix(backend, "B", g.B, g.OffsetB, bRows, bCols, g.Ldb, g.Batch, g.StrideB, g);
        Matrix(backend, "C", g.C, g.OffsetC, g.M, g.N, g.Ldc, g.Batch, g.StrideC, g);
    }

    // Built only when a check fails: formatting it on every call would allocate in the hot path.
    static string Shapes(in GemmArgs g) => $"m={g.M} n={g.N} k={g.K} transA={g.TransA} transB={g.TransB}";

    static void Matrix(IBackend backend, string name, Storage s, long offset, int rows, int cols, int ld, int batch, long stride, in GemmArgs g)
    {
        if (!ReferenceEquals(s.Backend, backend))
            throw new ArgumentException($"gemm: {name} lives on {s.Backend.Kind}, not on {backend.Kind}");
        if (s.IsReleased) throw new ObjectDisposedException($"gemm: {name} storage was released");
        if (ld < Math.Max(1, cols))
            throw new ArgumentException($"gemm: ld{name.ToLowerInvariant()}={ld} < {cols} columns of {name} [{rows}x{cols}] ({Shapes(g)})");
        if (rows == 0 || cols == 0) return;
        long end = offset + (long)(batch - 1) * stride + (long)(rows - 1) * ld + cols;
        if (offset < 0 || stride < 0 || end > s.Length)
            throw new ArgumentOutOfRangeException(name,
                $"gemm: {name} [{rows}x{cols}] ld={ld} x{batch} (stride {stride}) at offset {offset} needs {end} elements, storage has {s.Length} ({Shapes(g)})");
    }
}
