using NativeASD.Kernels;

namespace NativeASD.Engine;

/// <summary>
/// Tensor operations. Each returns a new tensor, or writes into <c>into</c> when given (no allocation:
/// for hot loops). Binary ops broadcast with numpy rules. Everything runs on the inputs' backend.
/// </summary>
public static class Ops
{
    // ---- elementwise unary ------------------------------------------------------------------------

    public static Tensor Unary(UnaryOp op, Tensor x, Tensor? into = null, float alpha = 0f, float beta = 0f)
    {
        var y = into ?? Tensor.Empty(x.ShapeArray(), x.Backend);
        if (!Layout.SameShape(x.Shape, y.Shape))
            throw new ArgumentException($"{op}: output {Layout.Format(y.Shape)} does not match input {Layout.Format(x.Shape)}");
        x.Backend.Unary(op, x.View, y.View, alpha, beta);
        return y;
    }

    public static Tensor Neg(Tensor x, Tensor? into = null) => Unary(UnaryOp.Neg, x, into);
    /// <summary>y = scale·x + shift.</summary>
    public static Tensor Affine(Tensor x, float scale, float shift, Tensor? into = null) => Unary(UnaryOp.Affine, x, into, scale, shift);
    public static Tensor Scale(Tensor x, float scale, Tensor? into = null) => Unary(UnaryOp.Affine, x, into, scale, 0f);
    public static Tensor AddScalar(Tensor x, float value, Tensor? into = null) => Unary(UnaryOp.Affine, x, into, 1f, value);
    public static Tensor Relu(Tensor x, Tensor? into = null) => Unary(UnaryOp.Relu, x, into);
    public static Tensor Relu6(Tensor x, Tensor? into = null) => Unary(UnaryOp.Relu6, x, into);
    public static Tensor LeakyRelu(Tensor x, float slope = 0.01f, Tensor? into = null) => Unary(UnaryOp.LeakyRelu, x, into, slope);
    public static Tensor Sigmoid(Tensor x, Tensor? into = null) => Unary(UnaryOp.Sigmoid, x, into);
    public static Tensor Tanh(Tensor x, Tensor? into = null) => Unary(UnaryOp.Tanh, x, into);
    public static Tensor Exp(Tensor x, Tensor? into = null) => Unary(UnaryOp.Exp, x, into);
    public static Tensor Log(Tensor x, Tensor? into = null) => Unary(UnaryOp.Log, x, into);
    public static Tensor Sqrt(Tensor x, Tensor? into = null) => Unary(UnaryOp.Sqrt, x, into);
    public static Tensor Abs(Tensor x, Tensor? into = null) => Unary(UnaryOp.Abs, x, into);
    public static Tensor Square(Tensor x, Tensor? into = null) => Unary(UnaryOp.Square, x, into);

    /// <summary>Copies x into y (shapes must match; y may be a strided view, e.g. a slice).</summary>
    public static void Copy(Tensor x, Tensor into) => Unary(UnaryOp.Copy, x, into);

    // ---- elementwise binary (broadcasting) -------------------------------------------------------

    /// <summary>The numpy broadcast of two shapes; throws naming the op and both shapes when they do not broadcast.</summary>
    public static int[] BroadcastShape(string op, ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var shape = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
            int db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"{op}: shapes {Layout.Format(a)} and {Layout.Format(b)} do not broadcast (axis {i}: {da} vs {db})");
            shape[i] = da == 1 ? db : da;
        }
        return shape;
    }

    public static Tensor Binary(BinaryOp op, Tensor a, Tensor b, Tensor? into = null)
    {
        if (!ReferenceEquals(a.Backend, b.Backend))
            throw new ArgumentException($"{op}: a is on {a.Backend.Kind}, b on {b.Backend.Kind}");
        int[] shape = BroadcastShape(op.ToString(), a.Shape, b.Shape);
        if (into is not null && !Layout.SameShape(into.Shape, shape))
            throw new ArgumentException($"{op}: output {Layout.Format(into.Shape)} does not match broadcast shape {Layout.Format(shape)} of {Layout.Format(a.Shape)} and {Layout.Format(b.Shape)}");
        var y = into ?? Tensor.Empty(shape, a.Backend);
        using var ab = a.BroadcastTo(shape);
        using var bb = b.BroadcastTo(shape);
        a.Backend.Binary(op, ab.View, bb.View, y.View);
        return y;
    }

    public static Tensor Add(Tensor a, Tensor b, Tensor? into = null) => Binary(BinaryOp.Add, a, b, into);
    public static Tensor Sub(Tensor a, Tensor b, Tensor? into = null) => Binary(BinaryOp.Sub, a, b, into);
    public static Tensor Mul(Tensor a, Tensor b, Tensor? into = null) => Binary(BinaryOp.Mul, a, b, into);
    public static Tensor Div(Tensor a, Tensor b, Tensor? into = null) => Binary(BinaryOp.Div, a, b, into);
    public static Tensor Maximum(Tensor a, Tensor b, Tensor? into = null) => Binary(BinaryOp.Max, a, b, into);
    public static Tensor Minimum(Tensor a, Tensor b, Tensor? into = null) => Binary(BinaryOp.Min, a, b, into);

    // ---- reductions -------------------------------------------------------------------------------

    /// <summary>Reduces along <paramref name="axis"/>; the axis is kept as size 1 when <paramref name="keepDim"/>.</summary>
    public static Tensor Reduce(ReduceOp op, Tensor x, int axis, bool keepDim = false, int correction = 0)
    {
        axis = x.NormalizeAxis(axis, op.ToString());
        var kept = x.ShapeArray();
        kept[axis] = 1;
        var y = Tensor.Empty(kept, x.Backend);
        x.Backend.Reduce(op, x.View, axis, y.View, correction);
        if (keepDim) return y;
        using (y) return y.Squeeze(axis);
    }

    /// <summary>Reduces over all elements to a tensor of shape [1].</summary>
    public static Tensor ReduceAll(ReduceOp op, Tensor x, int correction = 0)
    {
        using var flat = x.Reshape(1, checked((int)x.Count));
        using var y = Reduce(op, flat, 1, keepDim: false, correction);
        return y.Reshape(1);
    }

    public static Tensor Sum(Tensor x, int axis, bool keepDim = false) => Reduce(ReduceOp.Sum, x, axis, keepDim);
    public static Tensor Mean(Tensor x, int axis, bool keepDim = false) => Reduce(ReduceOp.Mean, x, axis, keepDim);
    public static Tensor Max(Tensor x, int axis, bool keepDim = false) => Reduce(ReduceOp.Max, x, axis, keepDim);
    public static Tensor Min(Tensor x, int axis, bool keepDim = false) => Reduce(ReduceOp.Min, x, axis, keepDim);
    /// <summary>Index of the first maximum along the axis, as float32 values (exact below 2^24).</summary>
    public static Tensor ArgMax(Tensor x, int axis, bool keepDim = false) => Reduce(ReduceOp.ArgMax, x, axis, keepDim);
    /// <summary>Variance along the axis; correction 0 = population (numpy default), 1 = unbiased (torch default).</summary>
    public static Tensor Variance(Tensor x, int axis, int correction = 0, bool keepDim = false) => Reduce(ReduceOp.Variance, x, axis, keepDim, correction);

    // ---- matrix products ---------------------------------------------------------------------------

    /// <summary>
    /// C = alpha·op(A)·op(B) + beta·C for 2-D tensors, or batched over a leading axis for 3-D ones.
    /// Operands may be any views whose last axis is unit-stride (a transposed view is passed as transposed, not copied).
    /// </summary>
    public static void Gemm(Tensor a, Tensor b, Tensor c, bool transA = false, bool transB = false, float alpha = 1f, float beta = 0f)
    {
        var (ma, ta) = AsMatrix("gemm", a, "A", transA);
        var (mb, tb) = AsMatrix("gemm", b, "B", transB);
        var (mc, tc) = AsMatrix("gemm", c, "C", false);
        try
        {
            if (tc.Transposed) throw new ArgumentException($"gemm: C {Layout.Format(c.Shape)} must have a unit-stride last axis");
            int m = ta.Rows, k = ta.Cols, n = tb.Cols;
            if (tb.Rows != k || tc.Rows != m || tc.Cols != n)
                throw new ArgumentException($"gemm: op(A) [{m}x{k}] · op(B) [{tb.Rows}x{n}] cannot produce C {Layout.Format(c.Shape)} (A {Layout.Format(a.Shape)} transA={transA}, B {Layout.Format(b.Shape)} transB={transB})");
            int batch = tc.Batch;
            if (ta.Batch != batch && ta.Batch != 1 || tb.Batch != batch && tb.Batch != 1)
                throw new ArgumentException($"gemm: batch sizes differ: A {Layout.Format(a.Shape)}, B {Layout.Format(b.Shape)}, C {Layout.Format(c.Shape)}");
            c.Backend.Gemm(new GemmArgs(m, n, k, alpha,
                ma.Storage, ma.Offset, ta.Ld, ta.Transposed,
                mb.Storage, mb.Offset, tb.Ld, tb.Transposed,
                beta, mc.Storage, mc.Offset, tc.Ld,
                batch, ta.Batch == 1 ? 0 : ta.BatchStride, tb.Batch == 1 ? 0 : tb.BatchStride, tc.BatchStride));
        }
        finally
        {
            ma.Dispose(); mb.Dispose(); mc.Dispose();
        }
    }

    /// <summary>op(A)·op(B) into a new tensor: [m,k]·[k,n] → [m,n], or [b,m,k]·[b,k,n] → [b,m,n].</summary>
    public static Tensor MatMul(Tensor a, Tensor b, bool transA = false, bool transB = false)
    {
        if (a.Rank != b.Rank || a.Rank is < 2 or > 3)
            throw new ArgumentException($"matmul: expected two 2-D or two 3-D tensors, got {Layout.Format(a.Shape)} and {Layout.Format(b.Shape)}");
        int m = transA ? a.Dim(-1) : a.Dim(-2), n = transB ? b.Dim(-2) : b.Dim(-1);
        int[] shape = a.Rank == 2 ? [m, n] : [Math.Max(a.Dim(0), b.Dim(0)), m, n];
        var c = Tensor.Empty(shape, a.Backend);
        try { Gemm(a, b, c, transA, transB); }
        catch { c.Dispose(); throw; }
        return c;
    }

    readonly record struct MatrixLayout(int Batch, int Rows, int Cols, int Ld, bool Transposed, long BatchStride);

    /// <summary>
    /// Describes a 2-D/3-D tensor as a (batched) row-major matrix for GEMM. A view whose last axis is not
    /// unit-stride but whose second-to-last is (a transposed view) is handed over as the transposed matrix;
    /// anything else is copied to contiguous memory first. Returns the tensor to use (dispose it).
    /// </summary>
    static (Tensor Matrix, MatrixLayout Layout) AsMatrix(string op, Tensor t, string name, bool trans)
    {
        if (t.Rank is < 2 or > 3) throw new ArgumentException($"{op}: {name} must be 2-D or 3-D, got {Layout.Format(t.Shape)}");
        int r = t.Rank;
        int rows = t.Shape[r - 2], cols = t.Shape[r - 1];
        int batch = r == 3 ? t.Shape[0] : 1;
        long batchStride = r == 3 ? t.Strides[0] : 0;
        long sr = t.Strides[r - 2], sc = t.Strides[r - 1];
        bool rowMajor = (sc == 1 || cols == 1) && sr >= Math.Max(1, cols) && sr <= int.MaxValue;
        bool colMajor = (sr == 1 || rows == 1) && sc >= Math.Max(1, rows) && sc <= int.MaxValue;
        bool batchOk = batch == 1 || batchStride >= 0;
        if (rowMajor && batchOk)
            return (t.Share(), new MatrixLayout(batch, trans ? cols : rows, trans ? rows : cols, (int)Math.Max(sr, Math.Max(1, cols)), trans, batchStride));
        if (colMajor && batchOk)
            return (t.Share(), new MatrixLayout(batch, trans ? cols : rows, trans ? rows : cols, (int)Math.Max(sc, Math.Max(1, rows)), !trans, batchStride));
        var c = t.Clone();
        return (c, new MatrixLayout(batch, trans ? cols : rows, trans ? rows : cols, Math.Max(1, cols), trans, r == 3 ? (long)rows * cols : 0));
    }
}
