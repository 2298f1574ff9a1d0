using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using NativeASD.Engine.Frontend;
using NWaves.FeatureExtractors;
using NWaves.FeatureExtractors.Options;
using NWaves.Filters.Fda;
using NWaves.Windows;

namespace NativeASD.Bench;

/// <summary>
/// The dcase2020 log-mel (16 kHz, n_fft 1024, hop 512, 128 Slaney mel, power, dB) of a 10 s clip: this frontend
/// (single and double precision, 1 thread), a batch of 100 clips on 2 threads, and NWaves 0.9.6's
/// FilterbankExtractor with the same parameters as the .NET peer.
/// Run: <c>dotnet run -c Release --project Bench -- --filter '*FrontendBenchmarks*'</c>.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(FrontendBenchConfig))]
public class FrontendBenchmarks
{
    const int Rate = 16000, Samples = 10 * Rate, Batch = 100;
    float[] _clip = null!;
    float[][] _clips = null!;
    AudioFrontend _single = null!, _double = null!, _batched = null!;
    FilterbankExtractor _nwaves = null!;

    [GlobalSetup]
    public void Setup()
    {
        var rnd = new Random(1);
        _clips = new float[Batch][];
        for (int c = 0; c < Batch; c++)
        {
            _clips[c] = new float[Samples];
            for (int i = 0; i < Samples; i++) _clips[c][i] = (float)(rnd.NextDouble() * 0.2 - 0.1);
        }
        _clip = _clips[0];
        _single = new AudioFrontend(FrontendPreset.Dcase2020, threads: 1);
        _double = new AudioFrontend(FrontendPreset.Dcase2020, threads: 1, FrontendPrecision.Double);
        _batched = new AudioFrontend(FrontendPreset.Dcase2020, threads: 2);
        _nwaves = new FilterbankExtractor(new FilterbankOptions
        {
            SamplingRate = Rate,
            FrameSize = 1024,
            HopSize = 512,
            FftSize = 1024,
            Window = WindowType.Hann,
            FilterBank = FilterBanks.MelBankSlaney(128, 1024, Rate, 0, Rate / 2),
            SpectrumType = SpectrumType.Power,
            NonLinearity = NonLinearityType.ToDecibel,
        });
    }

    [GlobalCleanup]
    public void Cleanup() { _single.Dispose(); _double.Dispose(); _batched.Dispose(); }

    [Benchmark(Baseline = true)] public float[,] NasdSingle() => _single.Compute(_clip, Rate);
    [Benchmark] public float[,] NasdDouble() => _double.Compute(_clip, Rate);
    [Benchmark] public List<float[]> NWaves() => _nwaves.ComputeFrom(_clip);
    [Benchmark(OperationsPerInvoke = Batch)] public object NasdBatch100TwoThreads() => _batched.ComputeBatch(_clips, Rate);  // object: BDN cannot emit float[][,]
}

/// <summary>The GEMM job settings with a longer build timeout: builds on the shared 2-core machine exceed the default 2 minutes.</summary>
public sealed class FrontendBenchConfig : ManualConfig
{
    public FrontendBenchConfig()
    {
        AddJob(Job.Default.WithWarmupCount(4).WithIterationCount(12).WithLaunchCount(1)
            .WithEnvironmentVariable("DOTNET_TieredCompilation", "0")
            .WithToolchain(BenchToolchain.Instance));
        WithBuildTimeout(TimeSpan.FromMinutes(10));
    }
}
