using NativeASD.Engine.Architectures;
using NativeASD.Engine.Architectures.Panns;
using NativeASD.Detection.Backbones;
using Xunit.Abstractions;
using NativeASD.Tests.Engine.Architectures;
using NativeASD.Tests.Engine.Architectures.Panns;

namespace NativeASD.Tests.Detection.Backbones;

/// <summary>Networks built straight from weight files through the weight readers and architecture mappings.</summary>
public class ModelFilesTests(ITestOutputHelper output)
{
    /// <summary>The released honk res8 / res8-narrow (legacy torch.save in ../shared): embedding and logits equal PyTorch's on a fixed input.</summary>
    [SkippableTheory]
    [InlineData("res8", true)]
    [InlineData("res8_narrow", false)]
    public void ReleasedHonkModelsMatchTorch(string name, bool scales)
    {
        string path = SharedData.Require($"weights/{name}.pt");
        var backend = TestBackends.Get("cpu");
        using var loaded = ModelFiles.Load(path, backend);
        Assert.Equal("honk-res8", loaded.Arch);
        Assert.Equal("honk", loaded.Frontend.Name);
        var honk = Assert.IsType<HonkRes>(loaded.Model);
        Assert.Equal(scales, honk.Config.Scales);
        ArchFixtures.CheckTaps(ArchFixtures.Get("shared_" + name), loaded.Model, backend, output);
    }

    [SkippableFact]
    public void YamNetFromTfliteIsDetected()
    {
        string path = SharedData.Require("weights/yamnet_spectra_in.tflite");
        using var loaded = ModelFiles.Load(path, TestBackends.Get("cpu"));
        Assert.Equal("yamnet", loaded.Arch);
        Assert.Equal("yamnet", loaded.Frontend.Name);
        Assert.Equal("scores", loaded.ClassifierTap);
        Assert.Equal(1024, ((YamNet)loaded.Model).EmbeddingSize);
    }

    /// <summary>The full-size checkpoints written by torch.save in the published layout ({'model': state_dict, 'iteration': 0}), read by the torch zip reader.</summary>
    [SkippableTheory]
    [InlineData("resnet22", "panns-resnet22")]
    [InlineData("resnet38", "panns-resnet38")]
    public void FullSizeTorchCheckpointsMatchTorch(string name, string arch)
    {
        string pth = Path.Combine(PannsFullSizeTests.Folder, name + ".pth");
        Skip.IfNot(File.Exists(pth), $"{pth} not present (make_arch_references.py --full {PannsFullSizeTests.Folder} writes it)");
        var backend = TestBackends.Get("cpu");
        using var loaded = ModelFiles.Load(pth, backend);
        Assert.Equal(arch, loaded.Arch);
        Assert.Equal("panns", loaded.Frontend.Name);
        Assert.Equal(PannsResNet.FrontendKeys.Order(), ((PannsResNet)loaded.Model).FrontendTensors.Keys.Order());
        var c = ArchFixtures.ReadManifest(PannsFullSizeTests.Folder).Single(k => k.Name == name);
        ArchFixtures.CheckTaps(c, loaded.Model, backend, output);
    }
}
