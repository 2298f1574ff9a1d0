using System.Globalization;
using System.Text.Json;
using NativeASD.Engine.Diagnostics;
using NativeASD.Kernels;
using NativeASD.Kernels.Cpu;
using NativeASD.Kernels.Ilgpu;

namespace NativeASD.Cli.Commands;

/// <summary><c>nasd bench gemm|conv|resnet38|peak|parity</c>: quick self-timing of kernels on this machine.</summary>
public static class BenchCommand
{
    public static readonly CommandSpec Spec = new(
        "bench",
        "time kernels on this machine (GEMM and conv2d GFLOP/s, ResNet38 clips/s, FP32 FMA peak)",
        "bench gemm [--size N | --m M --n N --k K] [--threads T] [--device D] [--variant V] [--repeats R] [--json]\n" +
        "       nasd bench conv [--input N,C,H,W] [--out-channels O] [--kernel K] [--stride S] [--padding P] [--threads T] [--device D] [--variant V] [--repeats R] [--json]\n" +
        "       nasd bench resnet38 [--batch B1,B2,...] [--seconds S] [--threads T] [--device D] [--variant V] [--repeats R] [--json]\n" +
        "       nasd bench peak [--threads T] [--json]\n" +
        "       nasd bench parity --device D [--quick] [--only TEXT1,TEXT2,...] [--json]",
        [
            new("--size", "N", "square GEMM N×N×N", "512"),
            new("--m", "M", "rows of A and C (non-square GEMM)"),
            new("--n", "N", "columns of B and C"),
            new("--k", "K", "inner dimension"),
            new("--input", "N,C,H,W", "conv: input shape", "1,64,64,1000"),
            new("--out-channels", "O", "conv: output channels", "64"),
            new("--kernel", "K", "conv: square kernel size", "3"),
            new("--stride", "S", "conv: stride", "1"),
            new("--padding", "P", "conv: padding on every side", "1"),
            new("--repeats", "R", "timed repeats; the median is reported", "15 (resnet38: 5)"),
            new("--variant", "V", "ILGPU devices: force a GEMM/conv kernel variant (128x128k8, 128x128k16, 128x64k8, 64x64k8, 32x32k4, simple); default: chosen by size"),
            new("--batch", "B1,B2,...", "resnet38: clips per batch, one result each", "1,16,64"),
            new("--seconds", "S", "resnet38: clip length in seconds at 32 kHz", "10"),
            new("--only", "TEXT1,...", "parity: only the cases whose name contains one of these texts (e.g. \"gemm 128x128k8,conv 128x128k8\")"),
            new("--quick", null, "parity: ops and layers only (no ResNet, no timings); fast enough for the ILGPU CPU simulator"),
            .. CommandSpec.ComputeOptions,
            CommandSpec.Json,
        ],
        [
            "nasd bench gemm",
            "nasd bench gemm --size 1024 --threads 1",
            "nasd bench gemm --m 64 --n 16000 --k 576 --json",
            "nasd bench conv --threads 1 --json",
            "nasd bench conv --input 1,16,32,100 --out-channels 32 --kernel 1 --padding 0",
            "nasd bench gemm --size 4096 --device cuda --variant 128x128k16 --json",
            "nasd bench resnet38 --device cuda --batch 1,16,64 --json",
            "nasd bench peak --threads 2",
            "nasd bench parity --device cuda",
            "nasd bench parity --device ilgpu-cpu --quick --only \"gemm 32x32k4,conv 32x32k4\"",
        ],
        Run, MinPositionals: 1, MaxPositionals: 1);

    static int Run(ParsedArgs args) => args.Positionals[0] switch
    {
        "gemm" => Gemm(args),
        "conv" => Conv(args),
        "resnet38" => ResNet38(args),
        "peak" => Peak(args),
        "parity" => Parity(args),
        var other => throw new UsageException($"bench: unknown benchmark '{other}'", "choose gemm, conv, resnet38, peak or parity"),
    };

    /// <summary>The backend of --device with --variant applied (ILGPU devices only).</summary>
    static IBackend OpenBackend(ParsedArgs args)
    {
        string? variant = args.String("--variant");
        var backend = Compute.OpenBackend(args);
        if (variant is null) return backend;
        try
        {
            if (backend is not IlgpuBackend ilgpu) throw new ArgumentException("none: the CPU backend has its own kernels");
            ilgpu.GemmVariant = variant;
            return backend;
        }
        catch (ArgumentException e)
        {
            backend.Dispose();
            throw new UsageException($"bench: --variant '{variant}' is not a kernel variant of {Backends.Name(backend.Kind)}: {e.Message}");
        }
    }

    /// <summary>The tiled-kernel variant an M×N GEMM runs on an ILGPU backend; null on the CPU.</summary>
    static string? VariantOf(IBackend backend, int m, int n) => backend is IlgpuBackend g ? g.GemmVariantFor(m, n, 1) : null;

    static int Gemm(ParsedArgs args)
    {
        int size = args.Int("--size", 512, 1, 16384);
        int m = args.Int("--m", size, 1, 65536), n = args.Int("--n", size, 1, 1 << 24), k = args.Int("--k", size, 1, 65536);
        int repeats = args.Int("--repeats", 15, 1, 1000);
        var backend = OpenBackend(args);
        var (time, gflops) = Timing.Gemm(backend, m, n, k, repeats);
        var peer = backend is IlgpuBackend ilgpu ? Timing.CuBlasGemm(ilgpu, m, n, k, repeats) : null;
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
                variant = VariantOf(backend, m, n),
                cublas = peer is null ? null : new
                {
                    status = peer.Status,
                    gflops = peer.Gflops is { } g ? Math.Round(g, 2) : (double?)null,
                    ms = peer.Time is { } t ? Math.Round(t.MedianSeconds * 1e3, 4) : (double?)null,
                    ours_over_cublas = peer.Gflops is { } pg ? Math.Round(gflops / pg, 3) : (double?)null,
                },
            }));
        }
        else
        {
            string variant = VariantOf(backend, m, n) is { } v ? $" [{v}]" : "";
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"gemm {m}x{n}x{k} on {backend.Description}{variant}: {gflops:F1} GFLOP/s (median {time.MedianSeconds * 1e3:F3} ms of {time.Repeats} repeats, min {time.MinSeconds * 1e3:F3}, max {time.MaxSeconds * 1e3:F3})"));
            if (peer is not null)
                Console.Out.WriteLine(peer.Gflops is { } pg
                    ? string.Create(CultureInfo.InvariantCulture, $"cuBLAS {peer.Status}: {pg:F1} GFLOP/s (median {peer.Time!.MedianSeconds * 1e3:F3} ms); ours {gflops / pg:F2}× cuBLAS")
                    : $"cuBLAS: {peer.Status}");
        }
        return ExitCode.Ok;
    }

    /// <summary>conv2d forward GFLOP/s (2·N·O·C/g·kh·kw·Ho·Wo flops) and backward (dx, dW + db) time relative to forward.</summary>
    static int Conv(ParsedArgs args)
    {
        var dims = (args.String("--input") ?? "1,64,64,1000").Split(',');
        if (dims.Length != 4 || !dims.All(d => int.TryParse(d, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v is >= 1 and <= 1 << 20))
            throw new UsageException($"bench conv: --input '{args.String("--input")}' must be four positive integers N,C,H,W");
        int[] s = dims.Select(d => int.Parse(d, CultureInfo.InvariantCulture)).ToArray();
        int o = args.Int("--out-channels", 64, 1, 1 << 16), k = args.Int("--kernel", 3, 1, 64);
        int stride = args.Int("--stride", 1, 1, 64), pad = args.Int("--padding", 1, 0, 64);
        int repeats = args.Int("--repeats", 15, 1, 1000);
        var g = new Conv2dGeometry(s[0], s[1], s[2], s[3], o, k, k, stride, stride, pad, pad, pad, pad);
        try { g.Validate("bench conv"); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        var backend = OpenBackend(args);
        var (forward, data, weight, gflops) = Timing.Conv2d(backend, g, repeats);
        double backwardRatio = (data.MedianSeconds + weight.MedianSeconds) / forward.MedianSeconds;
        if (args.Flag("--json"))
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                op = "conv2d",
                input = s, out_channels = o, kernel = k, stride, padding = pad,
                threads = backend.Threads,
                backend = Backends.Name(backend.Kind),
                device = backend.Description,
                gflops = Math.Round(gflops, 2),
                forward_ms = Math.Round(forward.MedianSeconds * 1e3, 4),
                backward_data_ms = Math.Round(data.MedianSeconds * 1e3, 4),
                backward_weight_ms = Math.Round(weight.MedianSeconds * 1e3, 4),
                backward_over_forward = Math.Round(backwardRatio, 3),
                repeats,
                variant = VariantOf(backend, g.OutChannels / g.Groups, g.Batch * g.OutHeight * g.OutWidth),
            }));
        }
        else
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"conv2d [{string.Join(",", s)}] {s[1]}→{o} k{k} s{stride} p{pad} on {backend.Description}: forward {gflops:F1} GFLOP/s ({forward.MedianSeconds * 1e3:F2} ms), " +
                $"backward dx {data.MedianSeconds * 1e3:F2} ms + dW {weight.MedianSeconds * 1e3:F2} ms = {backwardRatio:F2}× forward (medians of {repeats})"));
        }
        return ExitCode.Ok;
    }

    /// <summary>ResNet38 evaluation forward, frontend included, in clips per second at each --batch.</summary>
    static int ResNet38(ParsedArgs args)
    {
        var batches = (args.String("--batch") ?? "1,16,64").Split(',').Select(b =>
            int.TryParse(b, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v is >= 1 and <= 1024 ? v
                : throw new UsageException($"bench resnet38: --batch '{args.String("--batch")}' must be batch sizes 1..1024 separated by commas")).ToArray();
        double seconds = args.Double("--seconds", 10);
        if (!(seconds is >= 0.35 and <= 60))
            throw new UsageException($"bench resnet38: --seconds {seconds} must be within 0.35..60 (the ResNet's five 2×2 poolings need 32 frames)");
        int repeats = args.Int("--repeats", 5, 1, 1000);
        using var backend = OpenBackend(args);
        bool json = args.Flag("--json");
        var results = new List<ResNet38Result>();
        foreach (var r in ResNet38Timing.Run(backend, batches, seconds, repeats))
        {
            results.Add(r);
            if (!json)
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"resnet38 batch {r.Batch} ({r.ClipSeconds} s clips) on {backend.Description}: {r.ClipsPerSecond:F1} clips/s " +
                    $"(median of {r.Repeats}: {r.TotalSeconds * 1e3:F1} ms a batch, frontend {r.FrontendSeconds * 1e3:F1} ms, forward {r.ForwardSeconds * 1e3:F1} ms)"));
        }
        if (json)
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                op = "resnet38",
                clip_seconds = seconds,
                sample_rate = 32000,
                threads = backend.Threads,
                backend = Backends.Name(backend.Kind),
                device = backend.Description,
                variant = backend is IlgpuBackend g ? g.GemmVariant ?? "by size" : null,
                results = results.Select(r => new
                {
                    batch = r.Batch,
                    clips_per_s = Math.Round(r.ClipsPerSecond, 2),
                    ms = Math.Round(r.TotalSeconds * 1e3, 3),
                    frontend_ms = Math.Round(r.FrontendSeconds * 1e3, 3),
                    forward_ms = Math.Round(r.ForwardSeconds * 1e3, 3),
                    repeats = r.Repeats,
                }),
            }));
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

    /// <summary>Every op and layer on --device against the CPU backend (NMSE per result), then device timings.</summary>
    static int Parity(ParsedArgs args)
    {
        using var device = Compute.OpenBackend(args);
        bool json = args.Flag("--json"), quick = args.Flag("--quick");
        var only = args.String("--only")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (!json) Console.Out.WriteLine($"device: {device.Description}");
        Func<string, bool>? include = only is null ? null : name => only.Any(o => name.Contains(o, StringComparison.Ordinal));
        var results = Engine.Diagnostics.BackendParity.Run(device, includeNetwork: !quick, include: include, report: json ? null : r =>
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{(r.Ok ? "ok  " : "FAIL")} {r.Name,-44} nmse {r.Nmse:E2} (bound {r.Bound:E0}, {r.Count} values)")));
        if (results.Count == 0) throw new UsageException($"bench parity: --only '{args.String("--only")}' matches no case");
        var timings = quick || only is not null ? [] : Engine.Diagnostics.BackendParity.Time(device).ToList();
        int failed = results.Count(r => !r.Ok);
        if (json)
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                op = "parity", device = device.Description, failed,
                results = results.Select(r => new { name = r.Name, nmse = r.Nmse, bound = r.Bound, ok = r.Ok }), timings,
            }));
        else
        {
            foreach (var t in timings) Console.Out.WriteLine($"time {t}");
            Console.Out.WriteLine(failed == 0 ? $"all {results.Count} results within bounds" : $"{failed} of {results.Count} results out of bounds");
        }
        if (failed > 0) throw new InvalidOperationException($"{failed} of {results.Count} results differ from the CPU backend beyond their bounds");
        return ExitCode.Ok;
    }
}
