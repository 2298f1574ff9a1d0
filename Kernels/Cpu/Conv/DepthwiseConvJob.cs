using System.Numerics.Tensors;

namespace NativeASD.Kernels.Cpu;

/// <summary>
/// Convolutions with one input channel per group (depthwise, e.g. MobileNet/YAMNet): a GEMM would have a single
/// row, so each output plane is computed directly, one task per (image, output channel). Per output row, every
/// kernel tap adds w·(a shifted input row) over the output columns whose input column is inside the image; for
/// stride 1 that is one vectorised multiply-add per tap. The order of the taps is fixed, so results are deterministic.
/// </summary>
internal sealed unsafe class DepthwiseConvJob : ParallelJob
{
    [ThreadStatic] static DepthwiseConvJob? _cached;
    public static DepthwiseConvJob Rent() => _cached ??= new DepthwiseConvJob();

    Conv2dGeometry _g;
    float* _x, _w, _bias, _y;

    public int Prepare(in Conv2dGeometry g, float* x, float* w, float* bias, float* y)
    {
        _g = g; _x = x; _w = w; _bias = bias; _y = y;
        return checked(g.Batch * g.OutChannels);
    }

    public void Clear() { _x = _w = _bias = _y = null; }

    public override void Execute(int task)
    {
        ref readonly var g = ref _g;
        int n = task / g.OutChannels, o = task % g.OutChannels, ci = o / g.OutPerGroup;
        int H = g.Height, W = g.Width, ho = g.OutHeight, wo = g.OutWidth, sw = g.StrideW;
        float* x = _x + ((long)n * g.InChannels + ci) * H * W;
        float* y = _y + ((long)n * g.OutChannels + o) * ho * wo;
        float* w = _w + (long)o * g.KernelH * g.KernelW;
        float b = _bias != null ? _bias[o] : 0f;
        for (int oy = 0; oy < ho; oy++)
        {
            float* yr = y + (long)oy * wo;
            new Span<float>(yr, wo).Fill(b);
            for (int ky = 0; ky < g.KernelH; ky++)
            {
                int iy = oy * g.StrideH + ky * g.DilationH - g.PadTop;
                if ((uint)iy >= (uint)H) continue;
                float* xr = x + (long)iy * W;
                for (int kx = 0; kx < g.KernelW; kx++)
                {
                    float wt = w[ky * g.KernelW + kx];
                    int shift = kx * g.DilationW - g.PadLeft; // ix = ox·sw + shift
                    var (lo, hi) = InsideRange(shift, sw, W, wo);
                    if (lo >= hi) continue;
                    if (sw == 1)
                    {
                        var dst = new Span<float>(yr + lo, hi - lo);
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(xr + lo + shift, hi - lo), wt, dst, dst);
                    }
                    else
                        for (int ox = lo; ox < hi; ox++) yr[ox] += wt * xr[ox * sw + shift];
                }
            }
        }
    }

    /// <summary>Output columns [lo, hi) whose input column ox·stride + shift lies in [0, width).</summary>
    internal static (int Lo, int Hi) InsideRange(int shift, int stride, int width, int outWidth)
    {
        int lo = shift >= 0 ? 0 : (-shift + stride - 1) / stride;
        int last = width - 1 - shift; // largest ox·stride allowed
        int hi = last < 0 ? 0 : Math.Min(outWidth, last / stride + 1);
        return (lo, Math.Max(lo, hi));
    }
}
