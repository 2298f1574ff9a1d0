namespace NativeASD.Kernels.Cpu;

/// <summary>
/// Max and average pooling, forward and backward, one task per (image, channel) plane (planes are independent, so
/// results do not depend on the thread count). Torch semantics: the max takes the first maximum in scan order (NaN
/// wins) and records its flat index iy·W + ix; the average divides by the window clipped to the padded input
/// (count_include_pad) or to the input.
/// </summary>
internal sealed unsafe class PoolJob : ParallelJob
{
    [ThreadStatic] static PoolJob? _cached;
    public static PoolJob Rent() => _cached ??= new PoolJob();

    Pool2dGeometry _g;
    float* _in, _out, _indices;
    bool _backward;

    /// <summary>Forward: in = x, out = y. Backward: in = dy, out = dx.</summary>
    public int Prepare(in Pool2dGeometry g, float* input, float* output, float* indices, bool backward)
    {
        _g = g; _in = input; _out = output; _indices = indices; _backward = backward;
        return checked(g.Batch * g.Channels);
    }

    public void Clear() { _in = _out = _indices = null; }

    public override void Execute(int task)
    {
        ref readonly var g = ref _g;
        int H = g.Height, W = g.Width, ho = g.OutHeight, wo = g.OutWidth;
        long inPlane = (long)H * W, outPlane = (long)ho * wo;
        if (_backward)
        {
            float* dy = _in + task * outPlane, dx = _out + task * inPlane;
            new Span<float>(dx, checked((int)inPlane)).Clear();
            if (g.Kind == PoolKind.Max)
            {
                float* idx = _indices + task * outPlane;
                for (long o = 0; o < outPlane; o++) dx[(long)idx[o]] += dy[o];
                return;
            }
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++)
                {
                    var (y0, y1, x0, x1, divisor) = Window(g, oy, ox);
                    float share = dy[oy * wo + ox] / divisor;
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++) dx[iy * W + ix] += share;
                }
            return;
        }
        float* x = _in + task * inPlane, y = _out + task * outPlane;
        float* indices = _indices != null ? _indices + task * outPlane : null;
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++)
            {
                var (y0, y1, x0, x1, divisor) = Window(g, oy, ox);
                if (g.Kind == PoolKind.Average)
                {
                    float sum = 0f;
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++) sum += x[iy * W + ix];
                    y[oy * wo + ox] = sum / divisor;
                    continue;
                }
                float best = float.NegativeInfinity;
                int at = y0 * W + x0;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++)
                    {
                        float v = x[iy * W + ix];
                        if (v > best || float.IsNaN(v)) { best = v; at = iy * W + ix; if (float.IsNaN(v)) goto found; }
                    }
                found:
                y[oy * wo + ox] = best;
                if (indices != null) indices[oy * wo + ox] = at;
            }
    }

    /// <summary>The window of output (oy, ox) clipped to the input, and the average's divisor.</summary>
    static (int Y0, int Y1, int X0, int X1, float Divisor) Window(in Pool2dGeometry g, int oy, int ox)
    {
        int y0 = oy * g.StrideH - g.PadH, x0 = ox * g.StrideW - g.PadW;
        int y1 = Math.Min(y0 + g.KernelH, g.Height + g.PadH), x1 = Math.Min(x0 + g.KernelW, g.Width + g.PadW);
        int padded = (y1 - y0) * (x1 - x0);
        y0 = Math.Max(y0, 0); x0 = Math.Max(x0, 0);
        y1 = Math.Min(y1, g.Height); x1 = Math.Min(x1, g.Width);
        return (y0, y1, x0, x1, g.CountIncludePad ? padded : (y1 - y0) * (x1 - x0));
    }
}
