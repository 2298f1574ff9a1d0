using System.Diagnostics;
using NativeASD.Kernels;
using NativeASD.Kernels.Cpu;

namespace NativeASD.Bench;

/// <summary>Stopwatch timing of one GEMM shape: warm-up, then the median of repeated timed runs, as GFLOP/s (2·m·n·k per call).</summary>
internal static class GemmQuick
{
    public static void Run(string[] args)
    {
        if (args.Length < 4)
        {
            Console.Error.WriteLine("usage: gemm-quick M N K threads [scalar|128|256|512] [seconds] [nn|nt|tn|tt]");
            return;
        }
        int m = int.Parse(args[0]), n = int.Parse(args[1]), k = int.Parse(args[2]), threads = int.Parse(args[3]);
        SimdLevel level = args.Length > 4 ? args[4] switch
        {
            "scalar" => SimdLevel.Scalar, "128" => SimdLevel.Vector128, "256" => SimdLevel.Vector256, _ => SimdLevel.Vector512,
        } : SimdSupport.Detect();
        double seconds = args.Length > 5 ? double.Parse(args[5]) : 2.0;
        string trans = args.Length > 6 ? args[6] : "nn";
        bool ta = trans[0] == 't', tb = trans[1] == 't';
        using var be = new CpuBackend(threads, level);
        var a = be.Allocate((long)m * k); var b = be.Allocate((long)k * n); var c = be.Allocate((long)m * n);
        var rnd = new Random(1);
        var tmp = new float[Math.Max((long)m * k, (long)k * n)];
        for (int i = 0; i < tmp.Length; i++) tmp[i] = (float)(rnd.NextDouble() - 0.5);
        be.Upload(tmp.AsSpan(0, m * k), a, 0);
        be.Upload(tmp.AsSpan(0, k * n), b, 0);
        var g = new GemmArgs(m, n, k, 1f, a, 0, ta ? m : k, ta, b, 0, tb ? k : n, tb, 0f, c, 0, n);
        double flops = 2.0 * m * n * k;
        // warm-up ~0.3 s, then repetitions sized to ~seconds/15 each
        var sw = Stopwatch.StartNew();
        int calls = 0;
        while (sw.Elapsed.TotalSeconds < 0.3 || calls < 3) { be.Gemm(g); calls++; }
        double per = sw.Elapsed.TotalSeconds / calls;
        int inner = Math.Max(1, (int)(seconds / 15 / per));
        var times = new List<double>(16);
        long alloc0 = GC.GetAllocatedBytesForCurrentThread(), total0 = GC.GetTotalAllocatedBytes(precise: true);
        for (int r = 0; r < 15; r++)
        {
            sw.Restart();
            for (int i = 0; i < inner; i++) be.Gemm(g);
            times.Add(sw.Elapsed.TotalSeconds / inner);
        }
        long alloc = GC.GetAllocatedBytesForCurrentThread() - alloc0, total = GC.GetTotalAllocatedBytes(precise: true) - total0;
        times.Sort();
        double med = times[times.Count / 2], best = times[0];
        Console.WriteLine($"{m}x{n}x{k} {trans} threads={threads} {level}: median {flops / med / 1e9:F1} GFLOP/s, best {flops / best / 1e9:F1} GFLOP/s ({med * 1e3:F3} ms), allocated {alloc} B on this thread, {total} B in the process ({15 * inner} calls)");
    }
}
