using System.Globalization;
using System.Text.RegularExpressions;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Toolchains;
using BenchmarkDotNet.Toolchains.CsProj;
using BenchmarkDotNet.Toolchains.DotNetCli;
using NativeASD.Kernels;
using NativeASD.Kernels.Cpu;

namespace NativeASD.Bench;

/// <summary>
/// GEMM C = A·B (row-major, no transposes, alpha 1, beta 0) on the CPU backend, 1 and 2 threads.
/// Flop count: 2·M·N·K per call, shown as the GFLOP/s column. Shapes: squares, and the im2col GEMMs of the PANNs
/// ResNet38 convolutions on a 10 s clip at 32 kHz (64 mel bins × 1001 frames): M = output channels,
/// K = 9 · input channels, N = output pixels.
/// Run: <c>dotnet run -c Release --project Bench -- --filter '*GemmBenchmarks*'</c>.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(GemmConfig))]
public class GemmBenchmarks
{
    public static IEnumerable<string> Shapes =>
    [
        "M=64 N=64 K=64", "M=128 N=128 K=128", "M=256 N=256 K=256", "M=512 N=512 K=512", "M=1024 N=1024 K=1024", "M=2048 N=2048 K=2048",
        "M=64 N=64064 K=9 (conv_block1 conv1)",
        "M=64 N=64064 K=576 (conv_block1 conv2)",
        "M=64 N=16000 K=576 (64 ch, 500x32)",
        "M=128 N=4000 K=1152 (128 ch, 250x16)",
        "M=256 N=1000 K=2304 (256 ch, 125x8)",
        "M=512 N=248 K=4608 (512 ch, 62x4)",
        "M=4096 N=64 K=64 (tall)",
    ];

    [ParamsSource(nameof(Shapes))] public string Shape { get; set; } = "M=512 N=512 K=512";
    [Params(1, 2)] public int Threads { get; set; }

    CpuBackend _backend = null!;
    Storage _a = null!, _b = null!, _c = null!;
    GemmArgs _args;

    [GlobalSetup]
    public void Setup()
    {
        var (m, n, k) = GemmShape.Parse(Shape);
        _backend = new CpuBackend(Threads);
        (_a, _b, _c) = (GemmShape.Random(_backend, (long)m * k, 1), GemmShape.Random(_backend, (long)k * n, 2), _backend.Allocate((long)m * n, zero: true));
        _args = new GemmArgs(m, n, k, 1f, _a, 0, k, false, _b, 0, n, false, 0f, _c, 0, n);
    }

    [Benchmark]
    public void Gemm() => _backend.Gemm(_args);

    [GlobalCleanup]
    public void Cleanup()
    {
        _a.Release(); _b.Release(); _c.Release();
        _backend.Dispose();
    }
}

/// <summary>The naive peer: the textbook triple loop (what CpuGemm was before the packed kernel) at 256³, one thread.</summary>
[MemoryDiagnoser]
[Config(typeof(GemmConfig))]
public unsafe class GemmNaiveBenchmarks
{
    [Params("M=256 N=256 K=256")] public string Shape { get; set; } = "M=256 N=256 K=256";

    CpuBackend _backend = null!;
    Storage _a = null!, _b = null!, _c = null!;
    int _m, _n, _k;

    [GlobalSetup]
    public void Setup()
    {
        (_m, _n, _k) = GemmShape.Parse(Shape);
        _backend = new CpuBackend(1);
        (_a, _b, _c) = (GemmShape.Random(_backend, (long)_m * _k, 1), GemmShape.Random(_backend, (long)_k * _n, 2), _backend.Allocate((long)_m * _n, zero: true));
    }

    [Benchmark]
    public void NaiveTripleLoop()
    {
        float* a = ((CpuStorage)_a).Pointer, b = ((CpuStorage)_b).Pointer, c = ((CpuStorage)_c).Pointer;
        int m = _m, n = _n, k = _k;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float sum = 0;
                for (int p = 0; p < k; p++) sum += a[i * k + p] * b[p * n + j];
                c[i * n + j] = sum;
            }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _a.Release(); _b.Release(); _c.Release();
        _backend.Dispose();
    }
}

internal static partial class GemmShape
{
    [GeneratedRegex(@"M=(\d+) N=(\d+) K=(\d+)")]
    private static partial Regex Pattern();

    public static (int M, int N, int K) Parse(string shape)
    {
        var m = Pattern().Match(shape);
        if (!m.Success) throw new ArgumentException($"bad GEMM shape '{shape}'");
        return (int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture),
            int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture));
    }

    public static double Flops(string shape)
    {
        var (m, n, k) = Parse(shape);
        return 2.0 * m * n * k;
    }

    public static Storage Random(IBackend backend, long length, int seed)
    {
        var rnd = new Random(seed);
        var host = new float[length];
        for (long i = 0; i < length; i++) host[i] = (float)(rnd.NextDouble() - 0.5);
        var s = backend.Allocate(length);
        backend.Upload(host, s, 0);
        return s;
    }
}

/// <summary>
/// Short fixed job (GEMM timings are stable) in a separate process with tiered JIT off, plus the GFLOP/s column.
/// </summary>
public sealed class GemmConfig : ManualConfig
{
    public GemmConfig()
    {
        AddJob(Job.Default.WithWarmupCount(4).WithIterationCount(12).WithLaunchCount(1)
            .WithEnvironmentVariable("DOTNET_TieredCompilation", "0")
            .WithToolchain(BenchToolchain.Instance));
        AddColumn(new GflopsColumn());
    }
}

/// <summary>
/// BenchmarkDotNet's out-of-process toolchain, told where the benchmark project is: by default it looks for
/// "{AssemblyName}.csproj" (NativeASD.Bench.csproj), which does not match Bench/Bench.csproj. In-process runs are no
/// substitute: the in-process host allocates on its own (about 10 bytes per millisecond) and pollutes the Allocated column.
/// </summary>
public static class BenchToolchain
{
    public static readonly IToolchain Instance = new Toolchain("net10.0 (Bench.csproj)",
        new Generator(), new DotNetCliBuilder("net10.0"), new DotNetCliExecutor(null!));

    sealed class Generator() : CsProjGenerator("net10.0", null!, null!, null!, isNetCore: true)
    {
        protected override FileInfo GetProjectFilePath(Type benchmarkTarget, ILogger logger)
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var project = new FileInfo(Path.Combine(dir.FullName, "Bench.csproj"));
                if (project.Exists) return project;
            }
            return base.GetProjectFilePath(benchmarkTarget, logger);
        }
    }
}

/// <summary>2·M·N·K / mean time, from the benchmark's Shape parameter.</summary>
public sealed class GflopsColumn : IColumn
{
    public string Id => "GFLOPs";
    public string ColumnName => "GFLOP/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Billions of float operations per second: 2·M·N·K / mean time";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, summary.Style);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var stats = summary[benchmarkCase]?.ResultStatistics;
        if (stats is null || benchmarkCase.Parameters["Shape"] is not string shape) return "NA";
        return (GemmShape.Flops(shape) / stats.Mean).ToString("F1", CultureInfo.InvariantCulture); // mean is in ns
    }

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;
}
