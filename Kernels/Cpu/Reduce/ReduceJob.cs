using System.Numerics.Tensors;

namespace NativeASD.Kernels.Cpu;

/// <summary>
/// Reduces a contiguous [outer, n, inner] block along n into [outer, inner]. When inner is 1 each output
/// reduces one contiguous span; otherwise whole rows of length inner are combined with SIMD, in blocks of
/// <see cref="Block"/> rows so float sums keep a pairwise-like error. Each output is computed by one task in
/// a fixed order: the result does not depend on the thread count.
/// </summary>
internal sealed unsafe class ReduceJob : ParallelJob
{
    const int Block = 128;
    const int InnerChunk = 4096;
    [ThreadStatic] static ReduceJob? _cached;
    [ThreadStatic] static float[]? _acc, _partial, _group, _best, _mean;

    ReduceOp _op;
    float* _x, _y;
    long _outer;
    int _n, _inner, _correction, _innerChunks, _outerPerTask;

    public static ReduceJob Rent() => _cached ??= new ReduceJob();

    public int Prepare(ReduceOp op, float* x, float* y, long outer, int n, int inner, int correction)
    {
        _op = op; _x = x; _y = y; _outer = outer; _n = n; _inner = inner; _correction = correction;
        if (inner == 1)
        {
            _innerChunks = 1;
            _outerPerTask = Math.Max(1, ElementwiseJob.ChunkElements / Math.Max(1, n));
            return checked((int)((outer + _outerPerTask - 1) / _outerPerTask));
        }
        _innerChunks = (inner + InnerChunk - 1) / InnerChunk;
        _outerPerTask = 1;
        return checked((int)(outer * _innerChunks));
    }

    public override void Execute(int task)
    {
        if (_inner == 1)
        {
            long o0 = (long)task * _outerPerTask, o1 = Math.Min(o0 + _outerPerTask, _outer);
            for (long o = o0; o < o1; o++)
                _y[o] = ReduceSpan(new ReadOnlySpan<float>(_x + o * _n, _n));
            return;
        }
        long outer = task / _innerChunks;
        int start = task % _innerChunks * InnerChunk;
        int width = Math.Min(InnerChunk, _inner - start);
        ReduceRows(_x + outer * _n * (long)_inner + start, new Span<float>(_y + outer * _inner + start, width));
    }

    float ReduceSpan(ReadOnlySpan<float> x)
    {
        switch (_op)
        {
            case ReduceOp.Sum: return PairwiseSum(x);
            case ReduceOp.Mean: return PairwiseSum(x) / x.Length;
            case ReduceOp.Max: return TensorPrimitives.Max(x);
            case ReduceOp.Min: return TensorPrimitives.Min(x);
            case ReduceOp.ArgMax: return ArgMax(x);
            case ReduceOp.Variance:
                {
                    float mean = PairwiseSum(x) / x.Length;
                    var dev = Scratch(ref _acc, Math.Min(x.Length, SpanBlock));
                    return PairwiseSquaredDeviations(x, mean, dev) / Math.Max(0, x.Length - _correction);
                }
            default: throw new ArgumentOutOfRangeException(nameof(_op), _op, "unknown reduction");
        }
    }

    /// <summary>Leaf size of the span sums: TensorPrimitives sums a leaf (a few SIMD lanes, ~SpanBlock/8 adds each).</summary>
    const int SpanBlock = 1024;

    /// <summary>
    /// Σx: TensorPrimitives.Sum on leaves of at most <see cref="SpanBlock"/> elements, combined pairwise. One long
    /// TensorPrimitives.Sum accumulates n/lanes terms per lane (error growing like n/8 ulp on 1e5 positive terms);
    /// this keeps it like the blocked row sums below, so a reduction is as accurate whichever axis is innermost.
    /// </summary>
    static float PairwiseSum(ReadOnlySpan<float> x)
    {
        if (x.Length <= SpanBlock) return TensorPrimitives.Sum(x);
        int half = (x.Length / 2 + SpanBlock - 1) / SpanBlock * SpanBlock;
        return PairwiseSum(x[..half]) + PairwiseSum(x[half..]);
    }

    /// <summary>Σ(x − mean)², pairwise over leaves like <see cref="PairwiseSum"/>; <paramref name="dev"/> holds one leaf.</summary>
    static float PairwiseSquaredDeviations(ReadOnlySpan<float> x, float mean, Span<float> dev)
    {
        if (x.Length <= SpanBlock)
        {
            var d = dev[..x.Length];
            TensorPrimitives.Subtract(x, mean, d);
            return TensorPrimitives.SumOfSquares(d);
        }
        int half = (x.Length / 2 + SpanBlock - 1) / SpanBlock * SpanBlock;
        return PairwiseSquaredDeviations(x[..half], mean, dev) + PairwiseSquaredDeviations(x[half..], mean, dev);
    }

    /// <summary>First index of the maximum; a NaN counts as the maximum (as torch.argmax).</summary>
    static float ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++)
        {
            if (float.IsNaN(x[best])) break;
            if (x[i] > x[best] || float.IsNaN(x[i])) best = i;
        }
        return best;
    }

    /// <summary>y[i] = reduce over j of x[j·inner + i], for i in [0, y.Length).</summary>
    void ReduceRows(float* x, Span<float> y)
    {
        int w = y.Length;
        long stride = _inner;
        switch (_op)
        {
            case ReduceOp.Sum:
            case ReduceOp.Mean:
            case ReduceOp.Variance:
                {
                    SumRows(x, stride, y, default, squaredDeviations: false);
                    if (_op == ReduceOp.Sum) return;
                    TensorPrimitives.Divide(y, _n, y);
                    if (_op == ReduceOp.Mean) return;
                    var mean = Scratch(ref _mean, w);
                    y.CopyTo(mean);
                    SumRows(x, stride, y, mean, squaredDeviations: true);
                    TensorPrimitives.Divide(y, Math.Max(0, _n - _correction), y);
                    return;
                }
            case ReduceOp.Max:
            case ReduceOp.Min:
                new ReadOnlySpan<float>(x, w).CopyTo(y);
                for (int j = 1; j < _n; j++)
                {
                    var row = new ReadOnlySpan<float>(x + j * stride, w);
                    if (_op == ReduceOp.Max) TensorPrimitives.Max(y, row, y); else TensorPrimitives.Min(y, row, y);
                }
                return;
            case ReduceOp.ArgMax:
                {
                    var best = Scratch(ref _best, w);
                    new ReadOnlySpan<float>(x, w).CopyTo(best);
                    y.Clear();
                    for (int j = 1; j < _n; j++)
                    {
                        float* row = x + j * stride;
                        for (int i = 0; i < w; i++)
                            if (!float.IsNaN(best[i]) && (row[i] > best[i] || float.IsNaN(row[i]))) { best[i] = row[i]; y[i] = j; }
                    }
                    return;
                }
            default: throw new ArgumentOutOfRangeException(nameof(_op), _op, "unknown reduction");
        }
    }

    /// <summary>
    /// y = Σ_j x_j, or Σ_j (x_j − mean)², in three levels: rows into a block partial (<see cref="Block"/> rows), block
    /// partials into a group (<see cref="Block"/> blocks), groups into y. Each level adds at most ~Block terms, so the
    /// error grows like 2·Block + n/Block² roundings instead of Block + n/Block: on n = 1e5 rows that is ~260 rather
    /// than ~900, and the measured error drops ~5x (long axes then match the span path's pairwise sums).
    /// </summary>
    void SumRows(float* x, long stride, Span<float> y, ReadOnlySpan<float> mean, bool squaredDeviations)
    {
        int w = y.Length;
        var partial = Scratch(ref _partial, w);
        var group = Scratch(ref _group, w);
        var dev = Scratch(ref _acc, w);
        y.Clear();
        group.Clear();
        int blocksInGroup = 0;
        for (int j0 = 0; j0 < _n; j0 += Block)
        {
            partial.Clear();
            int j1 = Math.Min(j0 + Block, _n);
            for (int j = j0; j < j1; j++)
            {
                var row = new ReadOnlySpan<float>(x + j * stride, w);
                if (!squaredDeviations) TensorPrimitives.Add(partial, row, partial);
                else
                {
                    TensorPrimitives.Subtract(row, mean, dev);
                    TensorPrimitives.MultiplyAdd(dev, dev, partial, partial);
                }
            }
            TensorPrimitives.Add(group, partial, group);
            if (++blocksInGroup == Block || j1 == _n)
            {
                TensorPrimitives.Add(y, group, y);
                group.Clear();
                blocksInGroup = 0;
            }
        }
    }

    static Span<float> Scratch(ref float[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length) buffer = new float[Math.Max(length, 256)];
        return buffer.AsSpan(0, length);
    }
}
