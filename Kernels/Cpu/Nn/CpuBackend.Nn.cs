using System.Runtime.Intrinsics;

namespace NativeASD.Kernels.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void UnaryGrad(UnaryOp op, in StridedView saved, in StridedView dy, in StridedView dx, float alpha = 0f)
    {
        NnGrad.CheckUnaryGrad(this, op, saved, dy, dx);
        var rows = new StridedRows(dx.Shape, saved, dy, dx);
        var job = UnaryGradJob.Rent();
        _pool.Run(job, job.Prepare(op, rows, Ptr(saved.Storage), Ptr(dy.Storage), Ptr(dx.Storage), alpha, Simd >= SimdLevel.Vector256));
    }

    public void AdamStep(in StridedView param, in StridedView grad, in StridedView m, in StridedView v, in AdamArgs args)
    {
        NnGrad.CheckAdam(this, param, grad, m, v);
        var job = AdamJob.Rent();
        _pool.Run(job, job.Prepare(Ptr(param.Storage) + param.Offset, Ptr(grad.Storage) + grad.Offset,
            Ptr(m.Storage) + m.Offset, Ptr(v.Storage) + v.Offset, param.Count, args, Simd >= SimdLevel.Vector256));
    }

    public void ScatterAlongAxis(in StridedView values, in StridedView index, int axis, in StridedView y)
    {
        NnGrad.CheckScatter(this, values, index, axis, y);
        Fill(y, 0f);
        // One element per output of the reduction: small next to the pooled input, so a plain serial walk.
        float* v = Ptr(values.Storage), ix = Ptr(index.Storage), yp = Ptr(y.Storage);
        int rank = y.Rank, n = y.Shape[axis];
        long count = values.Count;
        Span<int> at = stackalloc int[Math.Max(rank, 1)];
        at.Clear();
        for (long e = 0; e < count; e++)
        {
            long vo = values.Offset, io = index.Offset, yo = y.Offset;
            for (int d = 0; d < rank; d++) { vo += at[d] * values.Strides[d]; io += at[d] * index.Strides[d]; yo += at[d] * y.Strides[d]; }
            float fi = ix[io];
            int i = (int)fi;
            if (!(fi >= 0f) || i >= n || i != fi)
                throw new ArgumentOutOfRangeException(nameof(index), $"ScatterAlongAxis: index {fi} outside axis {axis} of y {Layout.Format(y.Shape)}");
            yp[yo + i * y.Strides[axis]] = v[vo];
            for (int d = rank - 1; d >= 0; d--)
            {
                if (++at[d] < values.Shape[d]) break;
                at[d] = 0;
            }
        }
    }
}

/// <summary>Adam over contiguous arrays in fixed chunks; Vector256 body with the same operation order as the scalar rule.</summary>
internal sealed unsafe class AdamJob : ParallelJob
{
    const int Chunk = 1 << 14;
    [ThreadStatic] static AdamJob? _cached;

    float* _p, _g, _m, _v;
    long _count;
    AdamArgs _a;

    public static AdamJob Rent() => _cached ??= new AdamJob();

    bool _vector;

    public int Prepare(float* p, float* g, float* m, float* v, long count, in AdamArgs a, bool vector)
    {
        _p = p; _g = g; _m = m; _v = v; _count = count; _a = a; _vector = vector && Vector256.IsHardwareAccelerated;
        return checked((int)((count + Chunk - 1) / Chunk));
    }

    public override void Execute(int task)
    {
        long start = (long)task * Chunk;
        int n = (int)Math.Min(Chunk, _count - start);
        float* p = _p + start, g = _g + start, m = _m + start, v = _v + start;
        int i = 0;
        if (_vector)
        {
            var b1 = Vector256.Create(_a.Beta1); var c1 = Vector256.Create(1f - _a.Beta1);
            var b2 = Vector256.Create(_a.Beta2); var c2 = Vector256.Create(1f - _a.Beta2);
            var eps = Vector256.Create(_a.Eps); var step = Vector256.Create(_a.StepSize); var bias2 = Vector256.Create(_a.Bias2Sqrt);
            var l2 = Vector256.Create(_a.L2Decay); var decay = Vector256.Create(_a.DecoupledScale);
            for (; i <= n - 8; i += 8)
            {
                var pv = Vector256.Load(p + i);
                var gv = Vector256.Load(g + i) + l2 * pv;
                pv *= decay;
                var mv = Vector256.Load(m + i) * b1 + c1 * gv;
                var vv = Vector256.Load(v + i) * b2 + c2 * (gv * gv);
                pv -= step * (mv / (Vector256.Sqrt(vv) / bias2 + eps));
                Vector256.Store(mv, m + i);
                Vector256.Store(vv, v + i);
                Vector256.Store(pv, p + i);
            }
        }
        for (; i < n; i++) NnGrad.Adam(ref p[i], g[i], ref m[i], ref v[i], _a);
    }
}

/// <summary>dx = dy · f'(saved) over strided rows, in fixed-size tasks; unit-stride rows of the activations run on Vector256.</summary>
internal sealed unsafe class UnaryGradJob : ParallelJob
{
    [ThreadStatic] static UnaryGradJob? _cached;

    StridedRows _rows = null!;
    UnaryOp _op;
    float _alpha;
    float* _s, _dy, _dx;
    int _rowsPerTask, _segmentsPerRow;
    bool _vector;

    public static UnaryGradJob Rent() => _cached ??= new UnaryGradJob();

    /// <summary><paramref name="vector"/>: the backend's SIMD level allows Vector256 (tests force the scalar path).</summary>
    public int Prepare(UnaryOp op, StridedRows rows, float* s, float* dy, float* dx, float alpha, bool vector)
    {
        _op = op; _rows = rows; _s = s; _dy = dy; _dx = dx; _alpha = alpha; _vector = vector && Vector256.IsHardwareAccelerated;
        if (rows.Count == 0) return 0;
        const int chunk = ElementwiseJob.ChunkElements;
        _segmentsPerRow = (rows.RowLength + chunk - 1) / chunk;
        _rowsPerTask = _segmentsPerRow > 1 ? 1 : Math.Max(1, chunk / rows.RowLength);
        return _segmentsPerRow > 1
            ? checked((int)(rows.Rows * _segmentsPerRow))
            : checked((int)((rows.Rows + _rowsPerTask - 1) / _rowsPerTask));
    }

    public override void Execute(int task)
    {
        const int chunk = ElementwiseJob.ChunkElements;
        if (_segmentsPerRow > 1)
        {
            long row = task / _segmentsPerRow;
            int start = task % _segmentsPerRow * chunk;
            RunRow(row, start, Math.Min(chunk, _rows.RowLength - start));
            return;
        }
        long first = (long)task * _rowsPerTask, end = Math.Min(first + _rowsPerTask, _rows.Rows);
        for (long r = first; r < end; r++) RunRow(r, 0, _rows.RowLength);
    }

    void RunRow(long row, int start, int length)
    {
        long ss = _rows.InnerStride(0), ds = _rows.InnerStride(1), xs = _rows.InnerStride(2);
        float* s = _s + _rows.RowStart(row, 0) + start * ss;
        float* dy = _dy + _rows.RowStart(row, 1) + start * ds;
        float* dx = _dx + _rows.RowStart(row, 2) + start * xs;
        int i = 0;
        if (ss == 1 && ds == 1 && xs == 1 && _vector) i = Vectorised(s, dy, dx, length);
        int op = (int)_op;
        for (; i < length; i++) dx[i * xs] = NnGrad.Of(op, s[i * ss], dy[i * ds], _alpha);
    }

    /// <summary>The activations' rules on whole vectors; returns how many elements it did (the rest go scalar).</summary>
    int Vectorised(float* s, float* dy, float* dx, int length)
    {
        int i = 0;
        var zero = Vector256<float>.Zero;
        var one = Vector256.Create(1f);
        var six = Vector256.Create(6f);
        var alpha = Vector256.Create(_alpha);
        switch (_op)
        {
            case UnaryOp.Relu:
                for (; i <= length - 8; i += 8)
                {
                    var x = Vector256.Load(s + i);
                    Vector256.Store(Vector256.ConditionalSelect(Vector256.GreaterThan(x, zero), Vector256.Load(dy + i), zero), dx + i);
                }
                break;
            case UnaryOp.Relu6:
                for (; i <= length - 8; i += 8)
                {
                    var x = Vector256.Load(s + i);
                    var pass = Vector256.GreaterThan(x, zero) & Vector256.LessThan(x, six);
                    Vector256.Store(Vector256.ConditionalSelect(pass, Vector256.Load(dy + i), zero), dx + i);
                }
                break;
            case UnaryOp.LeakyRelu:
                for (; i <= length - 8; i += 8)
                {
                    var x = Vector256.Load(s + i);
                    var g = Vector256.Load(dy + i);
                    Vector256.Store(Vector256.ConditionalSelect(Vector256.GreaterThan(x, zero), g, g * alpha), dx + i);
                }
                break;
            case UnaryOp.Sigmoid:
                for (; i <= length - 8; i += 8)
                {
                    var y = Vector256.Load(s + i);
                    Vector256.Store(Vector256.Load(dy + i) * y * (one - y), dx + i);
                }
                break;
            case UnaryOp.Tanh:
                for (; i <= length - 8; i += 8)
                {
                    var y = Vector256.Load(s + i);
                    Vector256.Store(Vector256.Load(dy + i) * (one - y * y), dx + i);
                }
                break;
            case UnaryOp.Hardswish:
                var three = Vector256.Create(3f);
                var half = Vector256.Create(0.5f);
                for (; i <= length - 8; i += 8)
                {
                    var x = Vector256.Load(s + i);
                    var g = Vector256.Load(dy + i);
                    var inside = Vector256.ConditionalSelect(Vector256.LessThanOrEqual(x, three), g * (x / three + half), g);
                    Vector256.Store(Vector256.ConditionalSelect(Vector256.LessThan(x, -three), zero, inside), dx + i);
                }
                break;
        }
        return i;
    }
}
