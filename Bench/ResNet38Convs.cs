using System.Diagnostics;
using System.Globalization;
using NativeASD.Kernels;
using NativeASD.Kernels.Cpu;

namespace NativeASD.Bench;

/// <summary>
/// <c>resnet38-convs [threads] [calls]</c>: where a ResNet38 evaluation forward on a 10 s clip ([1, 1, 1001, 64]) spends
/// its conv time: each distinct conv geometry of the network through <see cref="IBackend.Conv2dForwardFused"/> (the path
/// the eval forward takes: BN folded, ReLU), median wall and process CPU time per call times the number of such convs.
/// </summary>
internal static class ResNet38Convs
{
    public static void Run(string[] args)
    {
        int threads = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2;
        int calls = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        using var backend = new CpuBackend(threads);
        (int C, int H, int W, int O, int K, int Count)[] convs =
        [
            (1, 1001, 64, 64, 3, 1), (64, 1001, 64, 64, 3, 1), (64, 500, 32, 64, 3, 6),
            (64, 250, 16, 128, 3, 1), (128, 250, 16, 128, 3, 7), (64, 250, 16, 128, 1, 1),
            (128, 125, 8, 256, 3, 1), (256, 125, 8, 256, 3, 11), (128, 125, 8, 256, 1, 1),
            (256, 62, 4, 512, 3, 1), (512, 62, 4, 512, 3, 5), (256, 62, 4, 512, 1, 1),
            (512, 31, 2, 2048, 3, 1), (2048, 31, 2, 2048, 3, 1),
        ];
        var inv = CultureInfo.InvariantCulture;
        var process = Process.GetCurrentProcess();
        double totalWall = 0, totalCpu = 0;
        foreach (var (c, h, w, o, k, count) in convs)
        {
            int p = k / 2;
            var g = new Conv2dGeometry(1, c, h, w, o, k, k, 1, 1, p, p, p, p);
            StridedView View(int[] shape) => StridedView.Contiguous(backend.Allocate(Layout.Count(shape), zero: true), shape);
            var (x, weight, scale, y) = (View(g.InputShape), View(g.WeightShape), View([o]), View(g.OutputShape));
            var epilogue = new ConvEpilogue(scale, scale, null, true);
            List<double> wall = [], cpu = [];
            for (int call = -1; call < calls; call++)
            {
                process.Refresh();
                var cpu0 = process.TotalProcessorTime;
                var sw = Stopwatch.StartNew();
                backend.Conv2dForwardFused(g, x, weight, epilogue, y);
                if (call < 0) continue;
                wall.Add(sw.Elapsed.TotalMilliseconds);
                process.Refresh();
                cpu.Add((process.TotalProcessorTime - cpu0).TotalMilliseconds);
            }
            wall.Sort();
            cpu.Sort();
            double ms = wall[calls / 2] * count, cpuMs = cpu[calls / 2] * count;
            totalWall += ms;
            totalCpu += cpuMs;
            Console.WriteLine(string.Create(inv,
                $"{c,4}→{o,-4} {k}×{k} on {h,4}×{w,-2} ×{count,-2}: {ms,7:F1} ms wall, {cpuMs,7:F1} ms CPU, {g.Flops / wall[calls / 2] / 1e6,5:F1} GFLOP/s"));
        }
        Console.WriteLine(string.Create(inv, $"all convs: {totalWall:F1} ms wall, {totalCpu:F1} ms CPU ({threads} threads)"));
    }
}
