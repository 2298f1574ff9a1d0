using NativeASD.Detection.Backbones;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Features;
using NativeASD.Kernels;
using NativeASD.Kernels.Cpu;
using Xunit;

namespace NativeASD.Tests.Detection.Features;

/// <summary>
/// A backbone detector's frontend runs on the command's backend: --threads 1 means one thread in the frontend as in
/// the network, and --device puts the frontend's STFT and mel on the device (issue 14: both were ignored).
/// </summary>
public class BackboneExtractorTests
{
    static FitSettings Shipped => new(Backbone: ShippedBackbone.Locate(), Taps: ShippedBackbone.DefaultTaps);

    [Fact]
    public void Training_features_use_the_backends_thread_count_in_the_frontend_and_the_network()
    {
        using var backend = new CpuBackend(1);
        using var extractor = Assert.IsType<BackboneExtractor>(DetectorRunner.ExtractorFor(Shipped, backend));
        Assert.Same(backend, extractor.Backend);
        Assert.Equal(1, extractor.Frontend.Threads);
        Assert.False(extractor.Frontend.OnDevice);
    }

    [Fact]
    public void Scoring_features_use_the_backends_thread_count_in_the_frontend_and_the_network()
    {
        using var backend = new CpuBackend(1);
        var info = ModelInfo();
        using var extractor = Assert.IsType<BackboneExtractor>(DetectorRunner.ExtractorFor("model.safetensors", info, backend));
        Assert.Same(backend, extractor.Backend);
        Assert.Equal(1, extractor.Frontend.Threads);
        Assert.Equal(info.Features, extractor.Configuration);
    }

    [Fact]
    public void The_device_reaches_the_frontend()
    {
        using var device = Backends.Open(DeviceKind.IlgpuCpu);
        using var training = Assert.IsType<BackboneExtractor>(DetectorRunner.ExtractorFor(Shipped, device));
        Assert.True(training.Frontend.OnDevice);
        using var scoring = Assert.IsType<BackboneExtractor>(DetectorRunner.ExtractorFor("model.safetensors", ModelInfo(), device));
        Assert.True(scoring.Frontend.OnDevice);
    }

    [Fact]
    public void Scoring_refuses_a_backbone_with_another_hash_before_loading_it()
    {
        var info = ModelInfo() with { BackboneSha256 = new string('0', 64) };
        using var backend = new CpuBackend(1);
        var e = Assert.Throws<IOException>(() => DetectorRunner.ExtractorFor("model.safetensors", info, backend));
        Assert.Contains("model.safetensors: was trained with backbone", e.Message);
    }

    /// <summary>What a model trained on the shipped backbone's default taps stores about its features.</summary>
    static DetectorModelInfo ModelInfo()
    {
        using var backend = new CpuBackend(1);
        using var fit = new BackboneExtractor(ShippedBackbone.Locate(), ShippedBackbone.DefaultTaps, backend: backend);
        return new DetectorModelInfo("metric", fit.Configuration, fit.WeightsPath, fit.Sha256, string.Join(",", fit.Taps),
            new NativeASD.Detection.Thresholds.GammaThreshold(1, 1, 1, 0.9, "gamma"), 1, "", "0", "");
    }
}
