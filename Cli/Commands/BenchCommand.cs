using System.Globalization;
using System.Text.Json;
using NativeASD.Engine.Diagnostics;
using NativeASD.Kernels;
using NativeASD.Kernels.Cpu;

namespace NativeASD.Cli.Commands;

/// <summary><c>nasd bench gemm|peak</c>: quick self-timing of kernels on this machine.</summary>
public static class BenchCommand
{
    public static readonly CommandSpec Spec = new(
        "bench",
        "time kernels on this machine (GEMM GFLOP/s, FP32 FMA peak)",
        "bench gemm [--size N | --m M --n N --k K] [--threads T] [--device D] [--repeats R] [--json]\n       nasd bench peak [--threads T] [--json]",
        [
            new("--size", "N", "square GEMM N×N×N", "512"),
            new("--m", "M", "rows of A and C (non-square GEMM)"),
            new("--n", "N", "columns of B and C"),
            new("--k", "K", "inner dimension"),
            new("--repeats", "R", "timed repeats; the median is reported", "15"),
            .. CommandSpec.ComputeOptions,
            CommandSpec.Json,
        ],
        [
            "nasd bench gemm",
            "nasd bench gemm --size 1024 --threads 1",
            "nasd bench gemm --m 64 --n 16000 --k 576 --json",
            "nasd bench peak --threads 2",
        ],
        Run, MinPositionals: 1, MaxPositionals: 1);

    static int Run(ParsedArgs args) => args.Positionals[0] switch
    {
        "gemm" => Gemm(args),
        "peak" => Peak(args),
        var other => throw new UsageException($"bench: unknown benchmark '{other}'", "choose gemm or peak"),
    };

    static int Gemm(ParsedArgs args)
    {
        int size = args.Int("--size", 512, 1, 16384);
        int m = args.Int("--m", size, 1, 65536), n = args.Int("--n", size, 1, 1 << 24), k = args.Int("--k", size, 1, 65536);
        int repeats = args.Int("--repeats", 15, 1, 1000);
        var backend = Compute.OpenBackend(args);
        var (time, gflops) = Timing.Gemm(backend, m, n, k, repeats);
        if (args.Flag("--json"))
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                op = "gemm",
                m, n, k,
                size = m == n && n == k ? (int?)m : null,
                threads = backend.Threads,
                backend = Backends.Name(backend.Kind),
                device = backend.Description,
                gflops = Math.Round(gflops, 2),
                ms = Math.Round(time.MedianSeconds * 1e3, 4),
                min_ms = Math.Round(time.MinSeconds * 1e3, 4),
                max_ms = Math.Round(time.MaxSeconds * 1e3, 4),
                repeats = time.Repeats,
            }));
        }
        else
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"gemm {m}x{n}x{k} on {backend.Description}: {gflops:F1} GFLOP/s (median {time.MedianSeconds * 1e3:F3} ms of {time.Repeats} repeats, min {time.MinSeconds * 1e3:F3}, max {time.MaxSeconds * 1e3:F3})"));
        }
        return ExitCode.Ok;
    }

    static int Peak(ParsedArgs args)
    {
        int threads = args.Int("--threads", Environment.ProcessorCount, 1, 1024);
        double gflops = PeakFlops.Measure(threads);
        if (args.Flag("--json"))
            Console.Out.WriteLine(JsonSerializer.Serialize(new { op = "peak", threads, simd = SimdSupport.Detect().ToString(), gflops = Math.Round(gflops, 2) }));
        else
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"FP32 FMA peak on {threads} thread{(threads == 1 ? "" : "s")} ({SimdSupport.Detect()}): {gflops:F1} GFLOP/s"));
        return ExitCode.Ok;
    }
}
