using NativeASD.Engine;
using NativeASD.Engine.Layers;
using NativeASD.Kernels;
using NativeASD.Kernels.Cpu;

namespace NativeASD.Tests.Engine.Layers;

/// <summary>
/// The conv/pool backend ops on random geometries against a naive float64 loop, the CPU fast paths against the general
/// paths, thread-count determinism, finite differences through the layers, and the errors for bad shapes.
/// </summary>
public partial class Conv2dTests
{
    /// <summary>Geometries that reach each CPU path: row panels, panels wrapping rows, 1×1 flat, depthwise, Winograd, K blocking, strides, dilation, groups, asymmetric padding.</summary>
    public static readonly Conv2dGeometry[] Geometries =
    [
        new(2, 3, 7, 9, 5, 3, 3, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1),
        new(1, 4, 5, 40, 7, 3, 3, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1),                  // rows wider than a panel
        new(2, 40, 6, 11, 13, 3, 3, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1),                // K = 360: two K blocks
        new(2, 8, 5, 7, 6, 1, 1),                                                                      // 1×1 flat
        new(1, 6, 9, 8, 4, 1, 1, 2, 2),                                                                // 1×1 stride 2
        new(2, 6, 7, 9, 6, 3, 3, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, Groups: 6),        // depthwise
        new(1, 4, 9, 10, 8, 3, 3, 2, 2, 0, 1, 0, 1, Groups: 4),                                       // depthwise ×2, SAME-like
        new(2, 3, 11, 45, 3, 5, 5, 2, 2, 2, 2, 2, 2, Groups: 3),                                      // depthwise 5×5 stride 2 (EfficientAT): vectors and a tail
        new(1, 2, 7, 41, 2, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, Groups: 2),                                 // depthwise dilated: 32-wide block, 8-wide, tail
        new(1, 2, 300, 300, 2, 3, 3, 1, 1, 1, 1, 1, 1, Groups: 2),                                    // depthwise in two bands of output rows
        new(1, 2, 530, 260, 2, 5, 5, 2, 2, 2, 2, 2, 2, Groups: 2),                                    // depthwise stride 2 in three bands
        new(2, 4, 8, 9, 6, 3, 3, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, Groups: 2),
        new(1, 3, 11, 12, 4, 3, 3, 2, 2, 2, 1, 1, 2, 2, 2),                                          // stride + dilation + asymmetric
        new(2, 3, 8, 9, 2, 2, 4, 1, 1, 0, 1, 2, 1),                                                    // even kernel, asymmetric pads
        new(1, 2, 13, 12, 3, 5, 5, 3, 3, 2, 2, 2, 2),
        new(2, 20, 9, 135, 17, 3, 3, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1),              // Winograd: odd sizes, 2 tile chunks, edge rows
        new(1, 260, 24, 24, 16, 3, 3, PadTop: 0, PadBottom: 1, PadLeft: 1, PadRight: 0),             // Winograd: two K blocks, asymmetric pads
        new(2, 16, 40, 31, 24, 3, 3, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1),              // Winograd: narrow rows (chunk of 16 tiles)
        new(1, 16, 175, 24, 16, 3, 3, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1),             // Winograd dW: two tile-row chunks, the last partial
        new(1, 512, 1, 1, 520, 3, 3, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1),              // weights packed in two output-channel slices
    ];

    /// <summary>Each of <paramref name="geometries"/> geometries on every backend, plus the SIMD levels this machine lacks in
    /// software vectors (Vector512 on AVX2).</summary>
    static TheoryData<int, string> OnEveryBackend(int geometries)
    {
        var data = new TheoryData<int, string>();
        for (int i = 0; i < geometries; i++)
            foreach (var b in TestBackends.AllNames().Concat(TestBackends.SoftwareNames())) data.Add(i, b);
        return data;
    }

    public static TheoryData<int, string> KernelCases => OnEveryBackend(Geometries.Length);

    /// <summary>The textbook loops in float64: y, dx, dw, db.</summary>
    static (double[] Y, double[] Dx, double[] Dw, double[] Db) Naive(in Conv2dGeometry g, float[] x, float[] w, float[] b, float[] dy)
    {
        int ho = g.OutHeight, wo = g.OutWidth, cg = g.InPerGroup, og = g.OutPerGroup;
        var y = new double[Layout.Count(g.OutputShape)];
        var dx = new double[x.Length];
        var dw = new double[w.Length];
        var db = new double[g.OutChannels];
        for (int n = 0; n < g.Batch; n++)
            for (int o = 0; o < g.OutChannels; o++)
                for (int oy = 0; oy < ho; oy++)
                    for (int ox = 0; ox < wo; ox++)
                    {
                        long yi = ((long)(n * g.OutChannels + o) * ho + oy) * wo + ox;
                        double sum = b[o];
                        db[o] += dy[yi];
                        for (int ci = 0; ci < cg; ci++)
                            for (int ky = 0; ky < g.KernelH; ky++)
                                for (int kx = 0; kx < g.KernelW; kx++)
                                {
                                    int iy = oy * g.StrideH + ky * g.DilationH - g.PadTop, ix = ox * g.StrideW + kx * g.DilationW - g.PadLeft;
                                    if (iy < 0 || iy >= g.Height || ix < 0 || ix >= g.Width) continue;
                                    long xi = ((long)(n * g.InChannels + o / og * cg + ci) * g.Height + iy) * g.Width + ix;
                                    long wi = ((long)(o * cg + ci) * g.KernelH + ky) * g.KernelW + kx;
                                    sum += (double)w[wi] * x[xi];
                                    dx[xi] += (double)w[wi] * dy[yi];
                                    dw[wi] += (double)x[xi] * dy[yi];
                                }
                        y[yi] = sum;
                    }
        return (y, dx, dw, db);
    }

    sealed class Run : IDisposable
    {
        public readonly Tensor X, W, B, Dy, Y, Dx, Dw, Db;
        public Run(IBackend backend, in Conv2dGeometry g, float[] x, float[] w, float[] b, float[] dy)
        {
            X = Tensor.FromSpan(x, g.InputShape, backend);
            W = Tensor.FromSpan(w, g.WeightShape, backend);
            B = Tensor.FromSpan(b, [g.OutChannels], backend);
            Dy = Tensor.FromSpan(dy, g.OutputShape, backend);
            Y = Tensor.Full(g.OutputShape, float.NaN, backend);   // must be overwritten
            Dx = Tensor.Full(g.InputShape, float.NaN, backend);
            Dw = Tensor.Full(g.WeightShape, 0.5f, backend);       // accumulated into
            Db = Tensor.Full([g.OutChannels], 0.5f, backend);
            backend.Conv2dForward(g, X.View, W.View, B.View, Y.View);
            backend.Conv2dBackwardData(g, Dy.View, W.View, Dx.View);
            backend.Conv2dBackwardWeight(g, X.View, Dy.View, Dw.View, Db.View);
        }
        public void Dispose() { foreach (var t in new[] { X, W, B, Dy, Y, Dx, Dw, Db }) t.Dispose(); }
    }

    static (float[] X, float[] W, float[] B, float[] Dy) Inputs(in Conv2dGeometry g, int seed) =>
        (Random(Layout.Count(g.InputShape), seed), Random(Layout.Count(g.WeightShape), seed + 1),
         Random(g.OutChannels, seed + 2), Random(Layout.Count(g.OutputShape), seed + 3));

    static void Close(double[] expected, Tensor actual, double offset, string label)
    {
        var a = actual.ToArray();
        Assert.Equal(expected.Length, a.Length);
        double worst = 0, scale = 1;
        for (int i = 0; i < a.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(a[i] - (expected[i] + offset)));
            scale = Math.Max(scale, Math.Abs(expected[i]));
        }
        // float32 accumulation of a few hundred products of values in [-1, 1]
        Assert.True(worst <= 2e-5 * scale, $"{label}: max abs error {worst:G3} (scale {scale:G3})");
    }

    [Theory]
    [MemberData(nameof(KernelCases))]
    public void MatchesNaiveLoops(int index, string backendName)
    {
        var g = Geometries[index];
        var (x, w, b, dy) = Inputs(g, 10 * index);
        var (ey, edx, edw, edb) = Naive(g, x, w, b, dy);
        using var run = new Run(TestBackends.Get(backendName), g, x, w, b, dy);
        string label = $"{g} on {backendName}";
        Close(ey, run.Y, 0, label + " y");
        Close(edx, run.Dx, 0, label + " dx");
        Close(edw, run.Dw, 0.5, label + " dw");
        Close(edb, run.Db, 0.5, label + " db");
    }

    public static TheoryData<int> GeometryIndices => new(Enumerable.Range(0, Geometries.Length));

    [Theory]
    [MemberData(nameof(GeometryIndices))]
    public void FastPathsMatchGeneralPaths(int index)
    {
        var g = Geometries[index];
        var (x, w, b, dy) = Inputs(g, 7 * index + 1);
        using var fastBackend = new CpuBackend(2);
        using var generalBackend = new CpuBackend(2) { GeneralConvOnly = true };
        using var fast = new Run(fastBackend, g, x, w, b, dy);
        using var general = new Run(generalBackend, g, x, w, b, dy);
        foreach (var (f, s, name) in new[] { (fast.Y, general.Y, "y"), (fast.Dx, general.Dx, "dx"), (fast.Dw, general.Dw, "dw"), (fast.Db, general.Db, "db") })
            TensorAssert.Close(s, f, 1e-4, 1e-5, $"{g} fast vs general {name}"); // Winograd rounds more (transforms): ~100 ulp at K = 2340
    }

    [Theory]
    [MemberData(nameof(GeometryIndices))]
    public void ResultsDoNotDependOnTheThreadCount(int index)
    {
        var g = Geometries[index];
        var (x, w, b, dy) = Inputs(g, 3 * index + 5);
        using var one = new Run(TestBackends.Get("cpu-1thread"), g, x, w, b, dy);
        using var two = new Run(TestBackends.Get("cpu"), g, x, w, b, dy);
        foreach (var (p, q, name) in new[] { (one.Y, two.Y, "y"), (one.Dx, two.Dx, "dx"), (one.Dw, two.Dw, "dw"), (one.Db, two.Db, "db") })
            TensorAssert.Equal(p.ToArray(), q.ToArray(), p.ShapeArray(), $"{g} {name}, 1 vs 2 threads");
    }

    // ---- finite differences through the layers ----------------------------------------------------

    /// <summary>
    /// L = Σ y·r. Conv and average pooling are linear in x and w, so a central difference is exact up to float32
    /// rounding of L (≈ 1e-7·|L| / eps); max pooling is linear away from ties (random data has none within eps).
    /// </summary>
    static void CheckGradients(Layer layer, int[] inShape, int seed)
    {
        var backend = TestBackends.Reference;
        var xData = Random(Layout.Count(inShape), seed);
        using var x = Tensor.FromSpan(xData, inShape, backend);
        layer.Train();
        layer.ZeroGrad();
        using var y = layer.Forward(x);
        var r = Random(y.Count, seed + 1);
        using var rt = Tensor.FromSpan(r, y.ShapeArray(), backend);
        using var dx = layer.Backward(rt);
        var dxData = dx.ToArray();

        double Loss(float[] xs)
        {
            using var xt = Tensor.FromSpan(xs, inShape, backend);
            using var yt = layer.Forward(xt);
            var ys = yt.ToArray();
            double s = 0;
            for (int i = 0; i < ys.Length; i++) s += (double)ys[i] * r[i];
            layer.ClearSaved();
            return s;
        }

        const float eps = 1e-2f;
        var rng = new Random(seed);
        for (int t = 0; t < 12; t++)
        {
            int i = rng.Next(xData.Length);
            var plus = (float[])xData.Clone(); plus[i] += eps;
            var minus = (float[])xData.Clone(); minus[i] -= eps;
            double fd = (Loss(plus) - Loss(minus)) / (2 * eps);
            Assert.True(Math.Abs(fd - dxData[i]) <= 2e-3 * (1 + Math.Abs(fd)), $"{layer.Describe()} dx[{i}]: finite difference {fd}, backward {dxData[i]}");
        }
        foreach (var (name, p) in layer.NamedParameters())
        {
            var grad = p.Grad.ToArray();
            var value = p.Value.ToArray();
            for (int t = 0; t < 6; t++)
            {
                int i = rng.Next(value.Length);
                double Shifted(float delta)
                {
                    var v = (float[])value.Clone(); v[i] += delta;
                    backend.Upload(v, p.Value.Storage, p.Value.Offset);
                    return Loss(xData);
                }
                double fd = (Shifted(eps) - Shifted(-eps)) / (2 * eps);
                backend.Upload(value, p.Value.Storage, p.Value.Offset);
                Assert.True(Math.Abs(fd - grad[i]) <= 2e-3 * (1 + Math.Abs(fd)), $"{layer.Describe()} d{name}[{i}]: finite difference {fd}, backward {grad[i]}");
            }
        }
    }

    [Fact]
    public void Conv2dPassesFiniteDifferences()
    {
        using var conv = new Conv2d(4, 6, (3, 3), (2, 1), ConvPadding.Same, (1, 2), 2, init: new SeededRandom(3), backend: TestBackends.Reference);
        CheckGradients(conv, [2, 4, 7, 9], 11);
    }

    [Fact]
    public void DepthwiseAndConv1dPassFiniteDifferences()
    {
        using var dw = new Conv2d(5, 5, 3, padding: 1, groups: 5, init: new SeededRandom(4), backend: TestBackends.Reference);
        CheckGradients(dw, [2, 5, 6, 7], 21);
        using var c1 = new Conv1d(3, 4, 5, stride: 2, padding: 2, init: new SeededRandom(5), backend: TestBackends.Reference);
        CheckGradients(c1, [2, 3, 17], 31);
    }

    [Fact]
    public void PoolsPassFiniteDifferences()
    {
        using var max = new MaxPool2d(3, 2, 1, TestBackends.Reference);
        CheckGradients(max, [2, 3, 9, 8], 41);
        using var avg = new AvgPool2d(3, 2, 1, backend: TestBackends.Reference);
        CheckGradients(avg, [2, 3, 9, 8], 51);
    }

    // ---- errors -----------------------------------------------------------------------------------

    [Fact]
    public void ErrorsNameTheLayerAndShapes()
    {
        var backend = TestBackends.Reference;
        using var conv = new Conv2d(4, 8, 3, padding: 1, backend: backend);
        using var wrongChannels = Tensor.Zeros([2, 5, 7, 7], backend);
        var e = Assert.Throws<ArgumentException>(() => conv.Forward(wrongChannels));
        Assert.Contains("Conv2d(4→8", e.Message);
        Assert.Contains("[2,5,7,7]", e.Message);

        using var dilated = new Conv2d(4, 8, 3, dilation: 4, backend: backend);
        using var small = Tensor.Zeros([1, 4, 6, 20], backend);
        e = Assert.Throws<ArgumentException>(() => dilated.Forward(small));
        Assert.Contains("smaller than the kernel's reach 9x9", e.Message);

        e = Assert.Throws<ArgumentException>(() => new Conv2d(6, 4, 3, groups: 4, backend: backend));
        Assert.Contains("divisible by groups=4", e.Message);

        using var c1 = new Conv1d(3, 2, 7, backend: backend);
        using var short1 = Tensor.Zeros([1, 3, 5], backend);
        e = Assert.Throws<ArgumentException>(() => c1.Forward(short1));
        Assert.Contains("Conv1d(3→2", e.Message);

        using var pool = new MaxPool2d(2, backend: backend);
        using var rank3 = Tensor.Zeros([3, 4, 4], backend);
        e = Assert.Throws<ArgumentException>(() => pool.Forward(rank3));
        Assert.Contains("MaxPool2d(kernel 2x2", e.Message);
        Assert.Contains("[3,4,4]", e.Message);

        // The backend op itself names the op and the offending tensor.
        var g = new Conv2dGeometry(1, 4, 5, 5, 8, 3, 3);
        using var x = Tensor.Zeros(g.InputShape, backend);
        using var wrongW = Tensor.Zeros([8, 4, 3, 2], backend);
        using var y = Tensor.Zeros(g.OutputShape, backend);
        e = Assert.Throws<ArgumentException>(() => backend.Conv2dForward(g, x.View, wrongW.View, null, y.View));
        Assert.Contains("conv2d: weight is [8,4,3,2], expected [8,4,3,3]", e.Message);
    }

    [Fact]
    public void BackwardWithoutForwardIsAClearError()
    {
        using var conv = new Conv2d(2, 2, 3, backend: TestBackends.Reference);
        using var dy = Tensor.Zeros([1, 2, 3, 3], TestBackends.Reference);
        var e = Assert.Throws<InvalidOperationException>(() => conv.Backward(dy));
        Assert.Contains("Conv2d(2→2", e.Message);
    }
}
