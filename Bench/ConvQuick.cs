using System.Diagnostics;
using NativeASD.Kernels;
using NativeASD.Kernels.Cpu;

namespace NativeASD.Bench;

/// <summary>
/// A/B timing of the conv forward paths on one shape (for choosing the algorithm): the automatic choice (Winograd
/// for 3×3 stride 1, depthwise, …) against the general implicit GEMM, alternated call by call so that a busy machine
/// slows both alike, then the automatic backend's backward data and backward weight. Reports the median wall time
/// and the median process CPU time per call (the steadier figure on a shared machine).
/// </summary>
internal static class ConvQuick
{
    public static void Run(string[] args)
    {
        if (args.Length < 6)
        {
            Console.Error.WriteLine("usage: conv-quick N C H W O K [threads] [calls]   (stride 1, padding K/2)");
            return;
        }
        int[] v = args.Take(6).Select(int.Parse).ToArray();
        int threads = args.Length > 6 ? int.Parse(args[6]) : 1, calls = args.Length > 7 ? int.Parse(args[7]) : 11;
        int p = v[5] / 2;
        var g = new Conv2dGeometry(v[0], v[1], v[2], v[3], v[4], v[5], v[5], 1, 1, p, p, p, p);
        using var auto = new CpuBackend(threads);
        using var general = new CpuBackend(threads) { GeneralConvOnly = true };
        var timings = new Dictionary<string, (List<double> Wall, List<double> Cpu)>
        {
            ["forward"] = ([], []), ["general forward"] = ([], []), ["backward data"] = ([], []), ["backward weight"] = ([], []),
            ["general backward weight"] = ([], []),
        };
        var (x, w, b, y) = Views(auto, g);
        var (gx, gw, gb, gy) = Views(general, g);
        var dw = StridedView.Contiguous(auto.Allocate(Layout.Count(g.WeightShape), zero: true), g.WeightShape);
        var db = StridedView.Contiguous(auto.Allocate(g.OutChannels, zero: true), g.OutChannels);
        var dx = StridedView.Contiguous(auto.Allocate(Layout.Count(g.InputShape)), g.InputShape);
        var gdw = StridedView.Contiguous(general.Allocate(Layout.Count(g.WeightShape), zero: true), g.WeightShape);
        var gdb = StridedView.Contiguous(general.Allocate(g.OutChannels, zero: true), g.OutChannels);
        var steps = new (string Name, Action Call)[]
        {
            ("forward", () => auto.Conv2dForward(g, x, w, b, y)),
            ("general forward", () => general.Conv2dForward(g, gx, gw, gb, gy)),
            ("backward data", () => auto.Conv2dBackwardData(g, y, w, dx)),
            ("backward weight", () => auto.Conv2dBackwardWeight(g, x, y, dw, db)),
            ("general backward weight", () => general.Conv2dBackwardWeight(g, gx, gy, gdw, gdb)),
        };
        var process = Process.GetCurrentProcess();
        for (int call = -2; call < calls; call++)
            foreach (var (name, step) in steps)
            {
                process.Refresh();
                var cpu0 = process.TotalProcessorTime;
                var sw = Stopwatch.StartNew();
                step();
                double wall = sw.Elapsed.TotalSeconds;
                process.Refresh();
                if (call < 0) continue; // warm-up
                timings[name].Wall.Add(wall);
                timings[name].Cpu.Add((process.TotalProcessorTime - cpu0).TotalSeconds);
            }
        var medians = new Dictionary<string, (double Wall, double Cpu)>();
        foreach (var (name, (wall, cpu)) in timings)
        {
            wall.Sort(); cpu.Sort();
            double medianWall = wall[wall.Count / 2], medianCpu = cpu[cpu.Count / 2];
            medians[name] = (medianWall, medianCpu);
            Console.WriteLine($"{name,-23} {g}: wall {medianWall * 1e3:F1} ms = {g.Flops / medianWall / 1e9:F1} GFLOP/s, " +
                $"cpu {medianCpu * 1e3:F1} ms = {g.Flops / medianCpu / 1e9 * threads:F1} GFLOP/s at full cores");
        }
        var (f, d, dW) = (medians["forward"], medians["backward data"], medians["backward weight"]);
        Console.WriteLine($"backward (data + weight) / forward: wall {(d.Wall + dW.Wall) / f.Wall:F2}, cpu {(d.Cpu + dW.Cpu) / f.Cpu:F2}");
    }

    static (StridedView X, StridedView W, StridedView B, StridedView Y) Views(CpuBackend backend, in Conv2dGeometry g) =>
        (StridedView.Contiguous(GemmShape.Random(backend, Layout.Count(g.InputShape), 1), g.InputShape),
         StridedView.Contiguous(GemmShape.Random(backend, Layout.Count(g.WeightShape), 2), g.WeightShape),
         StridedView.Contiguous(GemmShape.Random(backend, g.OutChannels, 3), g.OutChannels),
         StridedView.Contiguous(backend.Allocate(Layout.Count(g.OutputShape)), g.OutputShape));
}
