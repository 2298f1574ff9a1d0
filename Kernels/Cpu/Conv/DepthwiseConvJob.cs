using System.Runtime.Intrinsics;

namespace NativeASD.Kernels.Cpu;

/// <summary>
/// Convolutions with one input channel per group (depthwise, e.g. MobileNet/YAMNet/EfficientAT): a GEMM would have a
/// single row, so each output plane is computed directly, one task per (image, output channel). The task first copies
/// its input plane into a zero-padded scratch plane split into stride-many column phases (phase r holds padded columns
/// r, r + stride, …), so that for every tap the inputs of consecutive output columns are consecutive floats, whatever
/// the stride, and no tap needs a bounds check; tall planes go in bands of output rows so the scratch stays within
/// 256 KiB per worker. Each output vector then accumulates all k_h·k_w taps in registers
/// (fused multiply-adds, four 8-wide accumulators at a time) and is stored once. The tap order is fixed, so results are
/// deterministic and independent of the thread count.
/// </summary>
internal sealed unsafe class DepthwiseConvJob : ParallelJob
{
    [ThreadStatic] static DepthwiseConvJob? _cached;
    [ThreadStatic] static float[]? _plane;     // each worker's padded, phase-split input plane
    [ThreadStatic] static int[]? _taps;        // each worker's tap offsets into it

    public static DepthwiseConvJob Rent() => _cached ??= new DepthwiseConvJob();

    Conv2dGeometry _g;
    float* _x, _w, _bias, _y;

    public int Prepare(in Conv2dGeometry g, float* x, float* w, float* bias, float* y)
    {
        _g = g; _x = x; _w = w; _bias = bias; _y = y;
        return checked(g.Batch * g.OutChannels);
    }

    public void Clear() { _x = _w = _bias = _y = null; }

    /// <summary>Floats of scratch per worker: output rows are computed in bands whose padded input rows fit in it (256 KiB, within L2).</summary>
    const int ScratchFloats = 1 << 16;

    public override void Execute(int task)
    {
        ref readonly var g = ref _g;
        int n = task / g.OutChannels, o = task % g.OutChannels, ci = o / g.OutPerGroup;
        int H = g.Height, W = g.Width, ho = g.OutHeight, wo = g.OutWidth, sh = g.StrideH, sw = g.StrideW, kh = g.KernelH, kw = g.KernelW;
        int phaseWidth = (W + g.PadLeft + g.PadRight + sw - 1) / sw;
        // A band of R output rows reads (R − 1)·sh + reach padded input rows.
        int reach = (kh - 1) * g.DilationH + 1;
        int bandRows = Math.Clamp((ScratchFloats / (sw * phaseWidth) - reach) / sh + 1, 1, ho);
        int inputRows = (bandRows - 1) * sh + reach;
        int size = checked(sw * inputRows * phaseWidth), taps = kh * kw;
        var plane = _plane is { } p && p.Length >= size ? p : (_plane = new float[Math.Max(size, ScratchFloats)]);
        var tapOffsets = _taps is { } t && t.Length >= taps ? t : (_taps = new int[Math.Max(taps, 64)]);
        for (int ky = 0; ky < kh; ky++)
            for (int kx = 0; kx < kw; kx++)
            {
                int column = kx * g.DilationW;
                tapOffsets[ky * kw + kx] = ((column % sw) * inputRows + ky * g.DilationH) * phaseWidth + column / sw;
            }
        float* x = _x + ((long)n * g.InChannels + ci) * H * W;
        float* y = _y + ((long)n * g.OutChannels + o) * ho * wo;
        float* w = _w + (long)o * taps;
        float b = _bias != null ? _bias[o] : 0f;
        fixed (float* buffer = plane)
        fixed (int* offsets = tapOffsets)
            for (int oy0 = 0; oy0 < ho; oy0 += bandRows)
            {
                Split(x, buffer, size, H, W, oy0 * sh - g.PadTop, inputRows, phaseWidth, sw, g.PadLeft);
                for (int oy = oy0; oy < Math.Min(ho, oy0 + bandRows); oy++)
                    Row(buffer + (long)(oy - oy0) * sh * phaseWidth, offsets, w, taps, b, y + (long)oy * wo, wo);
            }
    }

    /// <summary>
    /// Input rows firstRow … firstRow + rows − 1 (rows outside the image are zero padding) into the scratch: padded column
    /// c of band row r goes to phase c mod stride, row r, position c / stride.
    /// </summary>
    static void Split(float* x, float* buffer, int size, int H, int W, int firstRow, int rows, int phaseWidth, int sw, int padLeft)
    {
        new Span<float>(buffer, size).Clear();
        for (int r = Math.Max(0, -firstRow); r < rows && firstRow + r < H; r++)
        {
            float* src = x + (long)(firstRow + r) * W;
            if (sw == 1)
            {
                new ReadOnlySpan<float>(src, W).CopyTo(new Span<float>(buffer + (long)r * phaseWidth + padLeft, W));
                continue;
            }
            for (int phase = 0; phase < sw; phase++)
            {
                // Phase `phase` holds padded columns j·sw + phase, i.e. input columns ix = j·sw + phase − padLeft.
                float* dst = buffer + ((long)phase * rows + r) * phaseWidth;
                int j = phase >= padLeft ? 0 : (padLeft - phase + sw - 1) / sw;
                for (int ix = j * sw + phase - padLeft; ix < W; ix += sw, j++) dst[j] = src[ix];
            }
        }
    }

    /// <summary>One output row: y[ox] = b + Σ_taps w[t]·row[offsets[t] + ox], taps in order, as fused multiply-adds.</summary>
    static void Row(float* row, int* offsets, float* w, int taps, float b, float* y, int wo)
    {
        int ox = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var bias = Vector256.Create(b);
            for (; ox + 32 <= wo; ox += 32)
            {
                Vector256<float> a0 = bias, a1 = bias, a2 = bias, a3 = bias;
                for (int t = 0; t < taps; t++)
                {
                    float* s = row + offsets[t] + ox;
                    var wt = Vector256.Create(w[t]);
                    a0 = Vector256.FusedMultiplyAdd(Vector256.Load(s), wt, a0);
                    a1 = Vector256.FusedMultiplyAdd(Vector256.Load(s + 8), wt, a1);
                    a2 = Vector256.FusedMultiplyAdd(Vector256.Load(s + 16), wt, a2);
                    a3 = Vector256.FusedMultiplyAdd(Vector256.Load(s + 24), wt, a3);
                }
                a0.Store(y + ox);
                a1.Store(y + ox + 8);
                a2.Store(y + ox + 16);
                a3.Store(y + ox + 24);
            }
            for (; ox + 8 <= wo; ox += 8)
            {
                var a = bias;
                for (int t = 0; t < taps; t++) a = Vector256.FusedMultiplyAdd(Vector256.Load(row + offsets[t] + ox), Vector256.Create(w[t]), a);
                a.Store(y + ox);
            }
        }
        for (; ox < wo; ox++)
        {
            float a = b;
            for (int t = 0; t < taps; t++) a = MathF.FusedMultiplyAdd(row[offsets[t] + ox], w[t], a);
            y[ox] = a;
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
