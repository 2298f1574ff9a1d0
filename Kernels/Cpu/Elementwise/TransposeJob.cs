namespace NativeASD.Kernels.Cpu;

/// <summary>
/// Tiled 2-D transpose copy: y[r, c] = x[c, r] with unit stride on y's rows and on x's columns.
/// Square tiles keep both the reads and the writes within a few cache lines.
/// </summary>
internal sealed unsafe class TransposeJob : ParallelJob
{
    const int Tile = 32;
    [ThreadStatic] static TransposeJob? _cached;

    float* _x, _y;
    long _rows, _cols, _xStride, _yStride;

    public static TransposeJob Rent() => _cached ??= new TransposeJob();

    /// <summary>y is rows×cols with row stride yStride; x is read as x[c·1 + r·xStride]… transposed: x[r, c] = x[c·xStride + r].</summary>
    public int Prepare(float* x, long xStride, float* y, long yStride, long rows, long cols)
    {
        _x = x; _y = y; _rows = rows; _cols = cols; _xStride = xStride; _yStride = yStride;
        return checked((int)((rows + Tile - 1) / Tile));
    }

    public override void Execute(int task)
    {
        long r0 = (long)task * Tile, r1 = Math.Min(r0 + Tile, _rows);
        for (long c0 = 0; c0 < _cols; c0 += Tile)
        {
            long c1 = Math.Min(c0 + Tile, _cols);
            for (long r = r0; r < r1; r++)
            {
                float* yr = _y + r * _yStride;
                for (long c = c0; c < c1; c++) yr[c] = _x[c * _xStride + r];
            }
        }
    }
}
