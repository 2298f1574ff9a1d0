using System.Diagnostics;
using System.Globalization;
using NativeASD.Engine;
using NativeASD.Engine.Layers;
using NativeASD.Engine.Architectures;
using NativeASD.Engine.Architectures.Panns;
using NativeASD.Kernels.Cpu;
using NativeASD.Engine.Diagnostics;
using NativeASD.Detection.Backbones;

namespace NativeASD.Bench;

/// <summary>
/// Stopwatch timing of one PANNs ResNet38 forward on a 10 s clip at 32 kHz (log-mel [1, 1, 1001, 64]), evaluation
/// mode, seeded random weights or a weight file: median of the timed runs after one warm-up, and the process's peak
/// resident memory once the weights are in and after the forwards, against the issue's bound (2 × the weights + 200 MB).
/// <c>resnet38-quick [threads] [repeats] [weights file]</c>; Bench/torch_resnet38.py times Debian torch on the same shape.
/// </summary>
internal static class ResNet38Quick
{
    public static void Run(string[] args)
    {
        int threads = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2;
        int repeats = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        string? file = args.Length > 2 ? args[2] : null;
        var backend = new CpuBackend(threads);
        using var loaded = file is null ? null : ModelFiles.Load(file, backend, "panns-resnet38");
        using var built = file is null ? new PannsResNet(PannsConfig.ResNet38, backend) : null;
        var model = (PannsResNet)(loaded?.Model ?? built!);
        long parameters = file is null ? RandomWeights.Fill(model, 1) : model.NamedParameters().Sum(p => p.Parameter.Value.Count);
        model.Eval();
        long afterLoad = PeakResidentBytes(), storedWeights = backend.LiveBytes;
        backend.ResetPeakLiveBytes();
        var rng = new SeededRandom(2);
        var input = new float[1001 * 64];
        for (int i = 0; i < input.Length; i++) input[i] = rng.Normal(-20f, 10f);
        using var x = Tensor.FromSpan(input, [1, 1, 1001, 64], backend);
        using (model.Forward(x)) { }
        var times = new List<double>();
        var cpu = new List<double>();
        var sw = new Stopwatch();
        var process = Process.GetCurrentProcess();
        for (int r = 0; r < repeats; r++)
        {
            process.Refresh();
            var cpuStart = process.TotalProcessorTime;
            sw.Restart();
            using (model.Forward(x)) { }
            times.Add(sw.Elapsed.TotalMilliseconds);
            process.Refresh();
            cpu.Add((process.TotalProcessorTime - cpuStart).TotalMilliseconds);
        }
        times.Sort();
        cpu.Sort();
        double median = times[times.Count / 2], cpuMedian = cpu[cpu.Count / 2];
        double peakMb = PeakResidentBytes() / 1048576.0, loadMb = afterLoad / 1048576.0;
        double weightsMb = parameters * 4 / 1048576.0, boundMb = 2 * weightsMb + 200;
        double pooledMb = backend.Pool.RetainedBytes / 1048576.0, storedMb = storedWeights / 1048576.0;
        double peakLiveMb = (backend.PeakLiveBytes - storedWeights) / 1048576.0;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ResNet38 forward [1,1,1001,64] on {threads} threads ({file ?? "random weights"}): median {median:F1} ms of {repeats} (min {times[0]:F1}), process CPU time {cpuMedian:F1} ms"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"memory (MiB): weights {weightsMb:F0}; peak resident {loadMb:F0} once loaded, {peakMb:F0} after the forwards (bound 2 × weights + 200 = {boundMb:F0})"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"tensor storage (MiB): {storedMb:F0} for the weights (pool size classes included), at most {peakLiveMb:F0} more during a forward; the pool keeps {pooledMb:F0} for reuse afterwards"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"threads\":{threads},\"repeats\":{repeats},\"median_ms\":{median:F1},\"min_ms\":{times[0]:F1},\"cpu_ms\":{cpuMedian:F1},\"weights_mb\":{weightsMb:F1},\"peak_after_load_mb\":{loadMb:F1},\"peak_resident_mb\":{peakMb:F1},\"bound_mb\":{boundMb:F1},\"pool_retained_mb\":{pooledMb:F1},\"weights_storage_mb\":{storedMb:F1},\"peak_activation_storage_mb\":{peakLiveMb:F1}}}"));
    }

    /// <summary>The process's peak resident set (VmHWM: anonymous and file-backed pages, so a mapped weight file counts too).</summary>
    static long PeakResidentBytes()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        return Process.GetCurrentProcess().PeakWorkingSet64;
    }
}
