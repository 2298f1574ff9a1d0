using NativeASD.Detection.Pretraining;
using NativeASD.Kernels;

namespace NativeASD.Tests.Support;

/// <summary>
/// A PANNs-layout ResNet22 at width 1/32 (channels 2…16, 16 kHz), seeded and untrained, written once per test run as
/// a backbone file: small enough that ILGPU's CPU simulator runs whole commands on it in seconds.
/// </summary>
static class TinyBackbone
{
    static readonly Lazy<string> LazyPath = new(() =>
    {
        string dir = Directory.CreateTempSubdirectory("nasd-tiny-backbone-").FullName;
        string path = System.IO.Path.Combine(dir, "tiny-resnet.safetensors");
        var options = PretrainOptions.ForArch("resnet-small") with { Width = 1 / 32.0, Epochs = 1, BatchSize = 2 };
        using var trainer = new Pretrainer(new SynthPretrainCorpus(2, ids: 1, conditions: 1), options, Backends.DefaultCpu);
        trainer.WriteModel(path);
        return path;
    });

    public static string Path => LazyPath.Value;

    /// <summary>Taps of two resolutions: a feature map [N, C, T, F] and the pooled embedding [N, C].</summary>
    public static readonly string[] Taps = ["layer2", "embedding"];
}
