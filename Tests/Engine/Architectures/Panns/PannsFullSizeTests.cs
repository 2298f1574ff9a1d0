using NativeASD.Engine.Architectures.Panns;
using Xunit.Abstractions;

namespace NativeASD.Tests.Engine.Architectures.Panns;

/// <summary>
/// Full-size PANNs ResNet22 and ResNet38 (random weights in the published checkpoints' layout, frontend tensors
/// included) on one 10 s clip at 32 kHz (1001 frames × 64 mel): every tap within relative L2 1e-4 of PyTorch.
/// The files (≈1.2 GB) are not committed; create them with
///     /usr/bin/python3 Tests/Reference/make_arch_references.py --full /tmp/nasd-panns
/// and this test runs; without them it is skipped.
/// </summary>
public class PannsFullSizeTests(ITestOutputHelper output)
{
    public const string Folder = "/tmp/nasd-panns";

    [SkippableTheory]
    [InlineData("resnet22")]
    [InlineData("resnet38")]
    public void FullSizeForwardMatchesTorchAtEveryTap(string name)
    {
        Skip.IfNot(File.Exists(Path.Combine(Folder, "manifest.json")), $"{Folder} not present (make_arch_references.py --full {Folder} writes it)");
        var c = ArchFixtures.ReadManifest(Folder).Single(k => k.Name == name);
        var backend = TestBackends.Get("cpu");
        using var model = new PannsResNet(c.PannsConfig(), backend);
        model.Load(c.StateTensors("weights"), c.PathOf("weights"));
        Assert.Equal(PannsResNet.FrontendKeys.Order(), model.FrontendTensors.Keys.Order());
        model.Eval();
        ArchFixtures.CheckTaps(c, model, backend, output);
    }
}
