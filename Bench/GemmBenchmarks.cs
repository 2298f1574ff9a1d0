using System.Globalization;
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
/// Flop count: 2·M·N·K per call, shown as the GFLOP/s column. Shapes (M×N×K): squares, and the im2col GEMMs of the
/// PANNs ResNet38 convolutions (3×3) on a 10 s clip at 32 kHz (1001 frames × 64 mel bins), M = output channels,
/// N = output pixels, K = 9 · input channels:
/// cb1 = conv_block1 (1 → 64 and 64 → 64 channels on 1001×64), L1–L4 = the 64/128/256/512-channel stages on
/// 500×32, 250×16, 125×8 and 62×4 pixels; tall = a 4096-row, 64-wide product.
/// Run: <c>dotnet run -c Release --project Bench -- --filter '*GemmBenchmarks*'</c>.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(GemmConfig))]
public class GemmBenchmarks
{
    public static IEnumerable<GemmShape> Shapes =>
    [
        new("64x64x64", 64, 64, 64), new("128x128x128", 128, 128, 128), new("256x256x256", 256, 256, 256),
        new("512x512x512", 512, 512, 512), new("1024x1024x1024", 1024, 1024, 1024), new("2048x2048x2048", 2048, 2048, 2048),
        new("cb1 64x64064x9", 64, 64064, 9),
        new("cb1 64x64064x576", 64, 64064, 576),
        new("L1 64x16000x576", 64, 16000, 576),
        new("L2 128x4000x1152", 128, 4000, 1152),
        new("L3 256x1000x2304", 256, 1000, 2304),
        new("L4 512x248x4608", 512, 248, 4608),
        new("tall 4096x64x64", 4096, 64, 64),
    ];

    [ParamsSource(nameof(Shapes))] public GemmShape Shape { get; set; } = new("512x512x512", 512, 512, 512);
    [Params(1, 2)] public int Threads { get; set; }

    CpuBackend _backend = null!;
    Storage _a = null!, _b = null!, _c = null!;
    GemmArgs _args;

    [GlobalSetup]
    public void Setup()
    {
        var (m, n, k) = (Shape.M, Shape.N, Shape.K);
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
    public static IEnumerable<GemmShape> Shapes => [new("256x256x256", 256, 256, 256)];

    [ParamsSource(nameof(Shapes))] public GemmShape Shape { get; set; } = new("256x256x256", 256, 256, 256);

    CpuBackend _backend = null!;
    Storage _a = null!, _b = null!, _c = null!;
    int _m, _n, _k;

    [GlobalSetup]
    public void Setup()
    {
        (_m, _n, _k) = (Shape.M, Shape.N, Shape.K);
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

/// <summary>A benchmark shape: C[M×N] = A[M×K]·B[K×N]; shown by its label, ordered as listed.</summary>
public sealed class GemmShape(string label, int m, int n, int k) : IComparable<GemmShape>, IComparable
{
    public string Label { get; } = label;
    public int M { get; } = m;
    public int N { get; } = n;
    public int K { get; } = k;
    public double Flops => 2.0 * M * N * K;

    public override string ToString() => Label;

    // Squares by size first, then the named shapes in their listed (layer) order.
    int Rank => Label.Contains(' ') ? 1 : 0;
    public int CompareTo(GemmShape? other) => other is null ? 1
        : Rank != other.Rank ? Rank.CompareTo(other.Rank)
        : Rank == 0 ? Flops.CompareTo(other.Flops)
        : Order(Label).CompareTo(Order(other.Label));
    public int CompareTo(object? obj) => CompareTo(obj as GemmShape);
    static int Order(string label) => label.StartsWith("cb1") ? (label.EndsWith("x9") ? 0 : 1) : label.StartsWith('L') ? 1 + label[1] - '0' : 9;

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
        if (stats is null || benchmarkCase.Parameters["Shape"] is not GemmShape shape) return "NA";
        return (shape.Flops / stats.Mean).ToString("F1", CultureInfo.InvariantCulture); // mean is in ns
    }

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;
}
