using System.Diagnostics;
using NativeASD.Kernels;

namespace NativeASD.Engine.Diagnostics;

/// <summary>Result of timing an operation: median and spread over repeats, each repeat a batch of calls.</summary>
public sealed record TimingResult(double MedianSeconds, double MinSeconds, double MaxSeconds, int Repeats, int CallsPerRepeat);

/// <summary>cuBLAS' timing as the GEMM peer: null timings when it did not run (Status says why).</summary>
public sealed record CuBlasTiming(string Status, TimingResult? Time, double? Gflops);

/// <summary>Self-timing for the bench command: warm-up, then the median of repeats (robust to a busy core).</summary>
public static class Timing
{
    /// <summary>Times <paramref name="action"/>: warms up for ~0.3 s, then <paramref name="repeats"/> batches of ≥ 20 ms each.</summary>
    public static TimingResult Measure(Action action, int repeats = 15, double warmupSeconds = 0.3, double batchSeconds = 0.02)
    {
        var sw = Stopwatch.StartNew();
        int calls = 0;
        do { action(); calls++; } while (sw.Elapsed.TotalSeconds < warmupSeconds || calls < 3);
        double perCall = sw.Elapsed.TotalSeconds / calls;
        int batch = Math.Max(1, (int)Math.Ceiling(batchSeconds / Math.Max(perCall, 1e-9)));
        var samples = new double[repeats];
        for (int r = 0; r < repeats; r++)
        {
            sw.Restart();
            for (int i = 0; i < batch; i++) action();
            samples[r] = sw.Elapsed.TotalSeconds / batch;
        }
        Array.Sort(samples);
        return new TimingResult(samples[repeats / 2], samples[0], samples[^1], repeats, batch);
    }

    /// <summary>Times C = A·B (m×k · k×n) on a backend; returns the timing and GFLOP/s at the median.</summary>
    public static (TimingResult Time, double Gflops) Gemm(IBackend backend, int m, int n, int k, int repeats = 15)
    {
        var rng = new Random(1);
        float[] Fill(int count) { var a = new float[count]; for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1); return a; }
        using var a = Tensor.FromSpan(Fill(m * k), [m, k], backend);
        using var b = Tensor.FromSpan(Fill(k * n), [k, n], backend);
        using var c = Tensor.Zeros([m, n], backend);
        // The backend call itself, as a kernel benchmark: no tensor wrappers in the timed loop.
        var args = new GemmArgs(m, n, k, 1f, a.Storage, 0, k, false, b.Storage, 0, n, false, 0f, c.Storage, 0, n);
        var t = Measure(() => { backend.Gemm(args); backend.Synchronize(); }, repeats);
        return (t, 2.0 * m * n * k / t.MedianSeconds / 1e9);
    }

    /// <summary>
    /// Times cuBLAS SGEMM C = A·B on an ILGPU backend, the peer of <see cref="Gemm"/> on the same shape and data:
    /// the result's Status says "not found" (no cuBLAS library), "not a CUDA device", or which library ran.
    /// </summary>
    public static CuBlasTiming CuBlasGemm(Kernels.Ilgpu.IlgpuBackend backend, int m, int n, int k, int repeats = 15)
    {
        if (!Kernels.Ilgpu.IlgpuBackend.CuBlasLoads(out string missing)) return new CuBlasTiming(missing, null, null);
        var rng = new Random(1);
        float[] Fill(int count) { var a = new float[count]; for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1); return a; }
        using var a = Tensor.FromSpan(Fill(m * k), [m, k], backend);
        using var b = Tensor.FromSpan(Fill(k * n), [k, n], backend);
        using var c = Tensor.Zeros([m, n], backend);
        var gemm = backend.CuBlasGemm(a.Storage, b.Storage, c.Storage, m, n, k, out string status);
        if (gemm is null) return new CuBlasTiming(status, null, null);
        var t = Measure(() => { gemm(); backend.Synchronize(); }, repeats);
        return new CuBlasTiming(status, t, 2.0 * m * n * k / t.MedianSeconds / 1e9);
    }

    /// <summary>
    /// Times one convolution on a backend: forward, backward data (dx) and backward weight (dW + db), each the backend
    /// call itself. Returns the three timings and the forward GFLOP/s at the median (<see cref="Conv2dGeometry.Flops"/>).
    /// </summary>
    public static (TimingResult Forward, TimingResult BackwardData, TimingResult BackwardWeight, double Gflops) Conv2d(
        IBackend backend, Conv2dGeometry g, int repeats = 15)
    {
        var rng = new Random(1);
        float[] Fill(int[] shape) { var a = new float[Layout.Count(shape)]; for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1); return a; }
        using var x = Tensor.FromSpan(Fill(g.InputShape), g.InputShape, backend);
        using var w = Tensor.FromSpan(Fill(g.WeightShape), g.WeightShape, backend);
        using var b = Tensor.FromSpan(Fill([g.OutChannels]), [g.OutChannels], backend);
        using var y = Tensor.Zeros(g.OutputShape, backend);
        using var dy = Tensor.FromSpan(Fill(g.OutputShape), g.OutputShape, backend);
        using var dx = Tensor.Zeros(g.InputShape, backend);
        using var dw = Tensor.Zeros(g.WeightShape, backend);
        using var db = Tensor.Zeros([g.OutChannels], backend);
        var (xv, wv, bv, yv, dyv, dxv, dwv, dbv) = (x.View, w.View, b.View, y.View, dy.View, dx.View, dw.View, db.View);
        var forward = Measure(() => { backend.Conv2dForward(g, xv, wv, bv, yv); backend.Synchronize(); }, repeats);
        var data = Measure(() => { backend.Conv2dBackwardData(g, dyv, wv, dxv); backend.Synchronize(); }, repeats);
        var weight = Measure(() => { backend.Conv2dBackwardWeight(g, xv, dyv, dwv, dbv); backend.Synchronize(); }, repeats);
        return (forward, data, weight, g.Flops / forward.MedianSeconds / 1e9);
    }
}
