using NativeASD.Engine;
using NativeASD.Engine.Layers;
using NativeASD.Kernels;
using NativeASD.Kernels.Cpu;
using Xunit.Abstractions;

namespace NativeASD.Tests.Engine.Layers;

/// <summary>
/// <see cref="IBackend.Conv2dForwardFused"/> (conv → per-channel scale and shift → + residual → ReLU in one op) on every
/// backend against the float64 loop of the unfused sequence, and the eval-mode layer path
/// (<see cref="Conv2d.ForwardFused"/>) against the layers one by one. Tolerance: NMSE = Σ(a − e)²/Σe² ≤ 1e-10 (float32
/// accumulation of a few hundred products, Winograd's transforms included, gives 1e-14 … 1e-12).
/// </summary>
public partial class Conv2dTests
{
    const double MaxNmse = 1e-10;

    /// <summary>The plain conv tests' geometries (a property: static initialisers of partial parts run in no fixed order), plus ones where only the transposed Winograd layout pays (long H, narrow W).</summary>
    public static Conv2dGeometry[] FusedGeometries =>
    [
        .. Geometries,
        new(2, 16, 41, 9, 24, 3, 3, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1),               // transposed: odd sizes, batch 2
        new(3, 260, 47, 6, 20, 3, 3, PadTop: 1, PadBottom: 0, PadLeft: 0, PadRight: 1),              // transposed: two K blocks, asymmetric pads
        new(1, 24, 300, 8, 17, 3, 3, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1),              // transposed: 150 tiles per row, 3 chunks
        // Streamed weights (≤ 256 output positions, ≥ 2²⁰ weights per group): output channels not a multiple of 6, last
        // panel partial, several K blocks with a short last one, batch 2, stride 2, groups, and PANNs' 31×2 map.
        new(2, 457, 9, 5, 259, 3, 3, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1),
        new(1, 230, 31, 2, 520, 3, 3, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1),
        new(2, 300, 13, 9, 400, 3, 3, 2, 2, PadTop: 1, PadBottom: 0, PadLeft: 1, PadRight: 1),
        new(1, 256, 4, 3, 1826, 3, 3, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, Groups: 2),
    ];

    public static TheoryData<int, string> FusedCases => OnEveryBackend(FusedGeometries.Length);

    /// <summary>The conv alone as the textbook loop in float64.</summary>
    static double[] NaiveConv(in Conv2dGeometry g, float[] x, float[] w)
    {
        int ho = g.OutHeight, wo = g.OutWidth, cg = g.InPerGroup, og = g.OutPerGroup;
        var y = new double[Layout.Count(g.OutputShape)];
        for (int n = 0; n < g.Batch; n++)
            for (int o = 0; o < g.OutChannels; o++)
                for (int oy = 0; oy < ho; oy++)
                    for (int ox = 0; ox < wo; ox++)
                    {
                        double sum = 0;
                        for (int ci = 0; ci < cg; ci++)
                            for (int ky = 0; ky < g.KernelH; ky++)
                                for (int kx = 0; kx < g.KernelW; kx++)
                                {
                                    int iy = oy * g.StrideH + ky * g.DilationH - g.PadTop, ix = ox * g.StrideW + kx * g.DilationW - g.PadLeft;
                                    if (iy < 0 || iy >= g.Height || ix < 0 || ix >= g.Width) continue;
                                    sum += (double)w[((o * cg + ci) * g.KernelH + ky) * g.KernelW + kx] * x[((long)(n * g.InChannels + o / og * cg + ci) * g.Height + iy) * g.Width + ix];
                                }
                        y[((long)(n * g.OutChannels + o) * ho + oy) * wo + ox] = sum;
                    }
        return y;
    }

    static float[] Random(long n, int seed, float low = -1f, float high = 1f)
    {
        var r = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < a.Length; i++) a[i] = low + (float)r.NextDouble() * (high - low);
        return a;
    }

    static double Nmse(double[] expected, float[] actual)
    {
        double d = 0, e = 0;
        for (int i = 0; i < actual.Length; i++) { d += (actual[i] - expected[i]) * (actual[i] - expected[i]); e += expected[i] * expected[i]; }
        return d / Math.Max(e, 1e-300);
    }

    /// <summary>Each geometry twice: scale, shift, residual and ReLU; scale and shift only (the BN of a shortcut conv).</summary>
    [Theory]
    [MemberData(nameof(FusedCases))]
    public void FusedMatchesTheUnfusedSequence(int index, string backendName)
    {
        var g = FusedGeometries[index];
        var backend = TestBackends.Get(backendName);
        float[] x = Random(Layout.Count(g.InputShape), 100 + index), w = Random(Layout.Count(g.WeightShape), 200 + index);
        float[] scale = Random(g.OutChannels, 300 + index, 0.2f, 2f), shift = Random(g.OutChannels, 400 + index);
        float[] r = Random(Layout.Count(g.OutputShape), 500 + index);
        var conv = NaiveConv(g, x, w);
        int planes = g.OutHeight * g.OutWidth;
        using var tx = Tensor.FromSpan(x, g.InputShape, backend);
        using var tw = Tensor.FromSpan(w, g.WeightShape, backend);
        using var ts = Tensor.FromSpan(scale, [g.OutChannels], backend);
        using var tb = Tensor.FromSpan(shift, [g.OutChannels], backend);
        using var tr = Tensor.FromSpan(r, g.OutputShape, backend);
        foreach (bool full in new[] { true, false })
        {
            var expected = new double[conv.Length];
            for (int i = 0; i < conv.Length; i++)
            {
                int o = i / planes % g.OutChannels;
                double v = conv[i] * scale[o] + shift[o] + (full ? r[i] : 0);
                expected[i] = full ? Math.Max(v, 0) : v;
            }
            using var y = Tensor.Full(g.OutputShape, float.NaN, backend);    // must be overwritten
            backend.Conv2dForwardFused(g, tx.View, tw.View, new ConvEpilogue(ts.View, tb.View, full ? tr.View : null, full), y.View);
            double nmse = Nmse(expected, y.ToArray());
            output.WriteLine($"{g} on {backendName}, residual + ReLU {full}: NMSE {nmse:E2}");
            Assert.True(nmse <= MaxNmse, $"{g} on {backendName}, residual + ReLU {full}: NMSE {nmse:E2} > {MaxNmse:E0}");
        }
    }

    /// <summary>The fused op with s as both scale and shift, residual r and ReLU, on backend b.</summary>
    static float[] RunFused(IBackend b, Conv2dGeometry g, float[] x, float[] w, float[] s, float[] r)
    {
        using var tx = Tensor.FromSpan(x, g.InputShape, b);
        using var tw = Tensor.FromSpan(w, g.WeightShape, b);
        using var ts = Tensor.FromSpan(s, [g.OutChannels], b);
        using var tr = Tensor.FromSpan(r, g.OutputShape, b);
        using var y = Tensor.Empty(g.OutputShape, b);
        b.Conv2dForwardFused(g, tx.View, tw.View, new ConvEpilogue(ts.View, ts.View, tr.View, true), y.View);
        return y.ToArray();
    }

    [Fact]
    public void FusedResultsDoNotDependOnTheThreadCount()
    {
        using var one = new CpuBackend(1);
        using var two = new CpuBackend(2);
        foreach (var g in FusedGeometries)
        {
            float[] x = Random(Layout.Count(g.InputShape), 1), w = Random(Layout.Count(g.WeightShape), 2), s = Random(g.OutChannels, 3), r = Random(Layout.Count(g.OutputShape), 4);
            Assert.Equal(RunFused(one, g, x, w, s, r), RunFused(two, g, x, w, s, r));
        }
    }

    /// <summary>The streamed-weights mode (the last four geometries) reads the weights unpacked but keeps the packed
    /// implicit GEMM's order of every sum: bit-identical to the general path.</summary>
    [Fact]
    public void StreamedWeightsMatchThePackedPathBitForBit()
    {
        using var streamed = new CpuBackend(2);
        using var packed = new CpuBackend(2) { GeneralConvOnly = true };
        foreach (var g in FusedGeometries[^4..])
        {
            float[] x = Random(Layout.Count(g.InputShape), 11), w = Random(Layout.Count(g.WeightShape), 12), s = Random(g.OutChannels, 13), r = Random(Layout.Count(g.OutputShape), 14);
            Assert.Equal(RunFused(packed, g, x, w, s, r), RunFused(streamed, g, x, w, s, r));
        }
    }

    /// <summary>Eval-mode Conv2d.ForwardFused against Conv2d → BatchNorm2d → (+ residual) → ReLU as separate layers, on a conv
    /// with a bias (folded into the shift), batch 3, stride 2 and odd sizes, and on the PANNs shapes' transposed Winograd.</summary>
    [Theory]
    [InlineData(3, 5, 7, 13, 11, 3, 2, true)]
    [InlineData(2, 32, 40, 8, 32, 3, 1, true)]
    [InlineData(2, 32, 40, 8, 48, 1, 1, false)]
    public void FusedLayerPathMatchesTheLayersOneByOne(int n, int c, int h, int w, int o, int k, int stride, bool bias)
    {
        var backend = TestBackends.Get("cpu");
        var rng = new SeededRandom(5);
        using var conv = new Conv2d(c, o, k, stride, padding: k / 2, bias: bias, init: rng, backend: backend);
        using var bn = new BatchNorm2d(o, backend: backend);
        foreach (var (name, t) in new[] { ("w", bn.Weight!.Value), ("b", bn.Bias!.Value), ("m", bn.RunningMean), ("v", bn.RunningVar) })
            t.Backend.Upload(Random(o, name[0], name == "v" ? 0.5f : -1f, name == "v" ? 2f : 1f), t.Storage, t.Offset);
        using var relu = new ReLU(backend);
        conv.Eval(); bn.Eval(); relu.Eval();
        using var x = Tensor.FromSpan(Random((long)n * c * h * w, 7), [n, c, h, w], backend);
        int ho = (h + 2 * (k / 2) - k) / stride + 1, wo = (w + 2 * (k / 2) - k) / stride + 1;
        using var residual = Tensor.FromSpan(Random((long)n * o * ho * wo, 8), [n, o, ho, wo], backend);
        foreach (bool withResidual in new[] { false, true })
        {
            using var a = conv.Forward(x);
            using var b = bn.Forward(a);
            using var sum = withResidual ? Ops.Add(b, residual) : b.Share();
            using var expected = relu.Forward(sum);
            using var fused = conv.ForwardFused(x, bn, withResidual ? residual : null, relu: true);
            var e = expected.ToArray();
            double nmse = Nmse([.. e.Select(v => (double)v)], fused.ToArray());
            output.WriteLine($"[{n},{c},{h},{w}] → {o}, k {k}, stride {stride}, residual {withResidual}: NMSE {nmse:E2}");
            Assert.True(nmse <= MaxNmse, $"NMSE {nmse:E2}");
        }
    }

    /// <summary>Nothing folded is kept: a weight or running-statistics change shows in the next fused forward, and training
    /// mode refuses it.</summary>
    [Fact]
    public void FoldingFollowsWeightChangesAndIsRefusedInTraining()
    {
        var backend = TestBackends.Get("cpu");
        using var conv = new Conv2d(16, 16, 3, padding: 1, bias: false, init: new SeededRandom(1), backend: backend);
        using var bn = new BatchNorm2d(16, backend: backend);
        using var x = Tensor.FromSpan(Random(2 * 16 * 30 * 30, 9), [2, 16, 30, 30], backend);
        Assert.Throws<InvalidOperationException>(() => conv.ForwardFused(x, bn, null, relu: true));
        conv.Eval(); bn.Eval();
        using var before = conv.ForwardFused(x, bn, null, relu: false);
        Ops.Scale(conv.Weight.Value, 2f, into: conv.Weight.Value);
        Ops.AddScalar(bn.RunningMean, 0.5f, into: bn.RunningMean);
        using var after = conv.ForwardFused(x, bn, null, relu: false);
        using var a = conv.Forward(x);
        using var expected = bn.Forward(a);
        Assert.True(Nmse([.. expected.ToArray().Select(v => (double)v)], after.ToArray()) <= MaxNmse);
        Assert.NotEqual(before.ToArray(), after.ToArray());
        bn.Train();
        Assert.Throws<InvalidOperationException>(() => conv.ForwardFused(x, bn, null, relu: false));
    }
}
