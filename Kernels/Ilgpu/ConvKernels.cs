using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace NativeASD.Kernels.Ilgpu;

/// <summary>The <see cref="Conv2dGeometry"/> / <see cref="Pool2dGeometry"/> scalars and view offsets, unmanaged, for the device.</summary>
internal struct ConvParams
{
    public int N, C, H, W, O, KH, KW, SH, SW, PT, PL, DH, DW, Groups, HO, WO;
    public int PoolMax, CountIncludePad, HasBias;
    public long OffA, OffB, OffC, OffD;

    public static ConvParams From(in Conv2dGeometry g) => new()
    {
        N = g.Batch, C = g.InChannels, H = g.Height, W = g.Width, O = g.OutChannels, KH = g.KernelH, KW = g.KernelW,
        SH = g.StrideH, SW = g.StrideW, PT = g.PadTop, PL = g.PadLeft, DH = g.DilationH, DW = g.DilationW,
        Groups = g.Groups, HO = g.OutHeight, WO = g.OutWidth,
    };

    public static ConvParams From(in Pool2dGeometry g) => new()
    {
        N = g.Batch, C = g.Channels, O = g.Channels, H = g.Height, W = g.Width, KH = g.KernelH, KW = g.KernelW,
        SH = g.StrideH, SW = g.StrideW, PT = g.PadH, PL = g.PadW, DH = 1, DW = 1, Groups = 1,
        HO = g.OutHeight, WO = g.OutWidth, PoolMax = g.Kind == PoolKind.Max ? 1 : 0, CountIncludePad = g.CountIncludePad ? 1 : 0,
    };
}

/// <summary>
/// Direct convolution and pooling kernels, one thread per output element, each gathering its inputs in a fixed
/// order (no atomics: deterministic). Convolutions run them only when a group is too narrow for the tiled implicit
/// GEMM (ConvGemm.cs), i.e. depthwise and other grouped convs with fewer than 8 channels per group: their loops are
/// then short (C/groups·KH·KW terms).
/// </summary>
internal static class ConvKernels
{
    /// <summary>y[n, o, oy, ox] = bias[o] + Σ_{ci, ky, kx} w[o, ci, ky, kx] · x[n, g·C/g + ci, iy, ix]. a = x, b = w, c = bias, d = y.</summary>
    public static void Forward(Index1D i, ArrayView<float> x, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> y, ConvParams p)
    {
        int ox = i % p.WO, oy = i / p.WO % p.HO, o = i / (p.WO * p.HO) % p.O, n = i / (p.WO * p.HO * p.O);
        int cg = p.C / p.Groups, og = p.O / p.Groups, grp = o / og;
        float sum = 0f;
        for (int ci = 0; ci < cg; ci++)
            for (int ky = 0; ky < p.KH; ky++)
            {
                int iy = oy * p.SH + ky * p.DH - p.PT;
                if (iy < 0 || iy >= p.H) continue;
                for (int kx = 0; kx < p.KW; kx++)
                {
                    int ix = ox * p.SW + kx * p.DW - p.PL;
                    if (ix < 0 || ix >= p.W) continue;
                    sum += w[p.OffB + ((long)(o * cg + ci) * p.KH + ky) * p.KW + kx]
                         * x[p.OffA + (((long)n * p.C + grp * cg + ci) * p.H + iy) * p.W + ix];
                }
            }
        if (p.HasBias != 0) sum += bias[p.OffC + o];
        y[p.OffD + i] = sum;
    }

    /// <summary>dx[n, c, iy, ix] = Σ over the outputs whose window covers it of w · dy. a = dy, b = w, d = dx.</summary>
    public static void BackwardData(Index1D i, ArrayView<float> dy, ArrayView<float> w, ArrayView<float> unused, ArrayView<float> dx, ConvParams p)
    {
        int ix = i % p.W, iy = i / p.W % p.H, c = i / (p.W * p.H) % p.C, n = i / (p.W * p.H * p.C);
        int cg = p.C / p.Groups, og = p.O / p.Groups, grp = c / cg, ci = c % cg;
        float sum = 0f;
        for (int co = 0; co < og; co++)
        {
            int o = grp * og + co;
            for (int ky = 0; ky < p.KH; ky++)
            {
                int ty = iy + p.PT - ky * p.DH; // = oy · SH
                if (ty < 0 || ty % p.SH != 0 || ty / p.SH >= p.HO) continue;
                for (int kx = 0; kx < p.KW; kx++)
                {
                    int tx = ix + p.PL - kx * p.DW;
                    if (tx < 0 || tx % p.SW != 0 || tx / p.SW >= p.WO) continue;
                    sum += w[p.OffB + ((long)(o * cg + ci) * p.KH + ky) * p.KW + kx]
                         * dy[p.OffA + (((long)n * p.O + o) * p.HO + ty / p.SH) * p.WO + tx / p.SW];
                }
            }
        }
        dx[p.OffD + i] = sum;
    }

    /// <summary>Pool forward: a = x, c = indices (when HasBias ≠ 0, reused as "has indices"), d = y.</summary>
    public static void PoolForward(Index1D i, ArrayView<float> x, ArrayView<float> unused, ArrayView<float> indices, ArrayView<float> y, ConvParams p)
    {
        int ox = i % p.WO, oy = i / p.WO % p.HO, plane = i / (p.WO * p.HO);
        int y0 = oy * p.SH - p.PT, x0 = ox * p.SW - p.PL;
        int y1 = XMath.Min(y0 + p.KH, p.H + p.PT), x1 = XMath.Min(x0 + p.KW, p.W + p.PL);
        int padded = (y1 - y0) * (x1 - x0);
        y0 = XMath.Max(y0, 0); x0 = XMath.Max(x0, 0); y1 = XMath.Min(y1, p.H); x1 = XMath.Min(x1, p.W);
        long basis = p.OffA + (long)plane * p.H * p.W;
        if (p.PoolMax == 0)
        {
            float sum = 0f;
            for (int iy = y0; iy < y1; iy++)
                for (int ix = x0; ix < x1; ix++) sum += x[basis + iy * p.W + ix];
            y[p.OffD + i] = sum / (p.CountIncludePad != 0 ? padded : (y1 - y0) * (x1 - x0));
            return;
        }
        float best = float.NegativeInfinity;
        int at = y0 * p.W + x0;
        bool nan = false;
        for (int iy = y0; iy < y1; iy++)
            for (int ix = x0; ix < x1; ix++)
            {
                float v = x[basis + iy * p.W + ix];
                if (!nan && (v > best || XMath.IsNaN(v))) { best = v; at = iy * p.W + ix; nan = XMath.IsNaN(v); }
            }
        y[p.OffD + i] = best;
        if (p.HasBias != 0) indices[p.OffC + i] = at;
    }

    /// <summary>Pool backward, one thread per dx element gathering from the windows that cover it: a = dy, c = indices, d = dx.</summary>
    public static void PoolBackward(Index1D i, ArrayView<float> dy, ArrayView<float> unused, ArrayView<float> indices, ArrayView<float> dx, ConvParams p)
    {
        int ix = i % p.W, iy = i / p.W % p.H, plane = i / (p.W * p.H);
        // Outputs whose window [o·S − P, o·S − P + K) contains the element.
        int oyLo = XMath.Max(0, (iy + p.PT - p.KH + p.SH) / p.SH), oyHi = XMath.Min(p.HO - 1, (iy + p.PT) / p.SH);
        int oxLo = XMath.Max(0, (ix + p.PL - p.KW + p.SW) / p.SW), oxHi = XMath.Min(p.WO - 1, (ix + p.PL) / p.SW);
        long basis = (long)plane * p.HO * p.WO;
        float sum = 0f;
        for (int oy = oyLo; oy <= oyHi; oy++)
            for (int ox = oxLo; ox <= oxHi; ox++)
            {
                long o = basis + oy * p.WO + ox;
                if (p.PoolMax != 0)
                {
                    if ((int)indices[p.OffC + o] == iy * p.W + ix) sum += dy[p.OffA + o];
                    continue;
                }
                int y0 = oy * p.SH - p.PT, x0 = ox * p.SW - p.PL;
                int y1 = XMath.Min(y0 + p.KH, p.H + p.PT), x1 = XMath.Min(x0 + p.KW, p.W + p.PL);
                int divisor = (y1 - y0) * (x1 - x0);
                if (p.CountIncludePad == 0)
                    divisor = (XMath.Min(y1, p.H) - XMath.Max(y0, 0)) * (XMath.Min(x1, p.W) - XMath.Max(x0, 0));
                sum += dy[p.OffA + o] / divisor;
            }
        dx[p.OffD + i] = sum;
    }
}

/// <summary>The conv/pool kernels compiled for one accelerator, on first use (the tiled variants on their first launch).</summary>
internal sealed class IlgpuConvKernels(Accelerator accelerator)
{
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvParams>
        Forward = Load(accelerator, ConvKernels.Forward),
        BackwardData = Load(accelerator, ConvKernels.BackwardData),
        PoolForward = Load(accelerator, ConvKernels.PoolForward),
        PoolBackward = Load(accelerator, ConvKernels.PoolBackward);

    public readonly GemmVariant<ConvForwardOperands>[] TiledForward = GemmVariants.For<ConvForwardOperands>(accelerator);
    public readonly GemmVariant<ConvBackwardDataOperands>[] TiledBackwardData = GemmVariants.For<ConvBackwardDataOperands>(accelerator);
    public readonly GemmVariant<ConvBackwardWeightOperands>[] TiledBackwardWeight = GemmVariants.For<ConvBackwardWeightOperands>(accelerator);

    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, long, int, int> SumSplits =
        accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, long, int, int>(ConvGemm.SumSplits);
    public readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvParams, ConvDivisors> WeightGradPerElement =
        accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvParams, ConvDivisors>(ConvGemm.WeightGradPerElement);
    public readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ConvParams> BiasGrad =
        accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ConvParams>(ConvGemm.BiasGrad);

    static Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvParams> Load(
        Accelerator a, Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvParams> kernel) =>
        a.LoadAutoGroupedStreamKernel(kernel);
}
