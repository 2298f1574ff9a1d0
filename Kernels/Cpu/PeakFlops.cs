using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeASD.Kernels.Cpu;

/// <summary>
/// Measures this machine's FP32 FMA peak: independent Vector512 (or Vector256) FMA chains held in
/// registers, on 1..N threads. The yardstick that kernel speeds are reported against.
/// </summary>
public static class PeakFlops
{
    const int Chains = 12;

    /// <summary>GFLOP/s reached by <paramref name="threads"/> threads running FMAs for about <paramref name="seconds"/>.</summary>
    public static double Measure(int threads, double seconds = 0.5)
    {
        long iterations = 1 << 20;
        RunOn(threads, 1 << 16); // JIT and wake threads
        while (true)
        {
            var sw = Stopwatch.StartNew();
            double flops = RunOn(threads, iterations);
            double elapsed = sw.Elapsed.TotalSeconds;
            if (elapsed >= seconds || iterations > (1L << 40)) return flops / elapsed / 1e9;
            iterations = (long)(iterations * Math.Max(2, seconds / Math.Max(elapsed, 1e-6)));
        }
    }

    static double RunOn(int threads, long iterations)
    {
        var sink = new float[threads];
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() => sink[t] = Spin(iterations))).ToArray();
        foreach (var w in workers) w.Start();
        foreach (var w in workers) w.Join();
        GC.KeepAlive(sink);
        int lanes = Vector512.IsHardwareAccelerated ? 16 : 8;
        return 2.0 * lanes * Chains * iterations * threads;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static float Spin(long iterations) =>
        Vector512.IsHardwareAccelerated ? Spin512(iterations) : Spin256(iterations);

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static float Spin512(long n)
    {
        var m = Vector512.Create(0.999999f); var c = Vector512.Create(1e-7f);
        Vector512<float> a0 = Vector512.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0,
            a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (long i = 0; i < n; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, m, c); a1 = Vector512.FusedMultiplyAdd(a1, m, c);
            a2 = Vector512.FusedMultiplyAdd(a2, m, c); a3 = Vector512.FusedMultiplyAdd(a3, m, c);
            a4 = Vector512.FusedMultiplyAdd(a4, m, c); a5 = Vector512.FusedMultiplyAdd(a5, m, c);
            a6 = Vector512.FusedMultiplyAdd(a6, m, c); a7 = Vector512.FusedMultiplyAdd(a7, m, c);
            a8 = Vector512.FusedMultiplyAdd(a8, m, c); a9 = Vector512.FusedMultiplyAdd(a9, m, c);
            a10 = Vector512.FusedMultiplyAdd(a10, m, c); a11 = Vector512.FusedMultiplyAdd(a11, m, c);
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static float Spin256(long n)
    {
        var m = Vector256.Create(0.999999f); var c = Vector256.Create(1e-7f);
        Vector256<float> a0 = Vector256.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0,
            a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (long i = 0; i < n; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, m, c); a1 = Vector256.FusedMultiplyAdd(a1, m, c);
            a2 = Vector256.FusedMultiplyAdd(a2, m, c); a3 = Vector256.FusedMultiplyAdd(a3, m, c);
            a4 = Vector256.FusedMultiplyAdd(a4, m, c); a5 = Vector256.FusedMultiplyAdd(a5, m, c);
            a6 = Vector256.FusedMultiplyAdd(a6, m, c); a7 = Vector256.FusedMultiplyAdd(a7, m, c);
            a8 = Vector256.FusedMultiplyAdd(a8, m, c); a9 = Vector256.FusedMultiplyAdd(a9, m, c);
            a10 = Vector256.FusedMultiplyAdd(a10, m, c); a11 = Vector256.FusedMultiplyAdd(a11, m, c);
        }
        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }
}
