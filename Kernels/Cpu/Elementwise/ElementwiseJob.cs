namespace NativeASD.Kernels.Cpu;

/// <summary>
/// Runs a unary or binary op over strided rows, split into fixed-size tasks (so the split, and the result,
/// do not depend on the thread count). Rows that are not unit-stride are gathered into a per-thread scratch row.
/// </summary>
internal sealed unsafe class ElementwiseJob : ParallelJob
{
    /// <summary>Elements per task: big enough to amortise a dispatch, small enough to balance two cores.</summary>
    public const int ChunkElements = 1 << 15;

    [ThreadStatic] static ElementwiseJob? _cached;
    [ThreadStatic] static float[]? _scratchA, _scratchB, _scratchY;

    StridedRows _rows = null!;
    int _operands;
    UnaryOp _unary;
    BinaryOp _binary;
    float _alpha, _beta;
    float* _a, _b, _y;
    int _segmentsPerRow, _rowsPerTask;

    public static ElementwiseJob Rent() => _cached ??= new ElementwiseJob();

    public int PrepareUnary(UnaryOp op, StridedRows rows, float* x, float* y, float alpha, float beta)
    {
        _operands = 1; _unary = op; _alpha = alpha; _beta = beta;
        _a = x; _b = null; _y = y;
        return Split(rows);
    }

    public int PrepareBinary(BinaryOp op, StridedRows rows, float* a, float* b, float* y)
    {
        _operands = 2; _binary = op;
        _a = a; _b = b; _y = y;
        return Split(rows);
    }

    int Split(StridedRows rows)
    {
        _rows = rows;
        if (rows.Count == 0) return 0;
        _segmentsPerRow = (rows.RowLength + ChunkElements - 1) / ChunkElements;
        _rowsPerTask = _segmentsPerRow > 1 ? 1 : Math.Max(1, ChunkElements / rows.RowLength);
        return _segmentsPerRow > 1
            ? checked((int)(rows.Rows * _segmentsPerRow))
            : checked((int)((rows.Rows + _rowsPerTask - 1) / _rowsPerTask));
    }

    public override void Execute(int task)
    {
        if (_segmentsPerRow > 1)
        {
            long row = task / _segmentsPerRow;
            int start = task % _segmentsPerRow * ChunkElements;
            RunRow(row, start, Math.Min(ChunkElements, _rows.RowLength - start));
            return;
        }
        long first = (long)task * _rowsPerTask;
        long end = Math.Min(first + _rowsPerTask, _rows.Rows);
        for (long r = first; r < end; r++) RunRow(r, 0, _rows.RowLength);
    }

    void RunRow(long row, int start, int length)
    {
        int yi = _operands; // y is the last operand of the walk
        long ys = _rows.InnerStride(yi);
        float* y = _y + _rows.RowStart(row, yi) + start * ys;
        Span<float> outRow = ys == 1 ? new Span<float>(y, length) : Scratch(ref _scratchY, length);

        long as_ = _rows.InnerStride(0);
        float* a = _a + _rows.RowStart(row, 0) + start * as_;
        if (_operands == 1)
        {
            SpanKernels.Unary(_unary, Row(a, as_, length, ref _scratchA), outRow, _alpha, _beta);
        }
        else
        {
            long bs = _rows.InnerStride(1);
            float* b = _b + _rows.RowStart(row, 1) + start * bs;
            if (as_ != 0 && bs == 0) SpanKernels.Binary(_binary, Row(a, as_, length, ref _scratchA), *b, outRow);
            else if (as_ == 0 && bs != 0) SpanKernels.Binary(_binary, *a, Row(b, bs, length, ref _scratchB), outRow);
            else SpanKernels.Binary(_binary, Row(a, as_, length, ref _scratchA), Row(b, bs, length, ref _scratchB), outRow);
        }
        if (ys != 1)
            for (int i = 0; i < length; i++) y[i * ys] = outRow[i];
    }

    /// <summary>The row as a span: itself when unit-stride, else gathered into scratch.</summary>
    static ReadOnlySpan<float> Row(float* p, long stride, int length, ref float[]? scratch)
    {
        if (stride == 1) return new ReadOnlySpan<float>(p, length);
        var s = Scratch(ref scratch, length);
        for (int i = 0; i < length; i++) s[i] = p[i * stride];
        return s;
    }

    static Span<float> Scratch(ref float[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length) buffer = new float[Math.Max(length, 256)];
        return buffer.AsSpan(0, length);
    }
}
