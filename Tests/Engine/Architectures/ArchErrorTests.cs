using NativeASD.Engine;
using NativeASD.Engine.Architectures;
using NativeASD.Engine.Architectures.Panns;
using NativeASD.Kernels;

namespace NativeASD.Tests.Engine.Architectures;

/// <summary>Shape and configuration mistakes raise errors naming the model or layer and the shapes.</summary>
public class ArchErrorTests
{
    static IBackend Cpu => TestBackends.Get("cpu");

    static PannsResNet SmallPanns() => new(new PannsConfig([1, 1, 1, 1], Width: 1 / 32.0), Cpu);

    [Fact]
    public void PannsRejectsAWrongMelCountNamingModelAndShape()
    {
        using var model = SmallPanns();
        model.Eval();
        using var x = Tensor.Zeros([1, 1, 64, 40], Cpu);
        var e = Assert.Throws<ArgumentException>(() => model.Forward(x));
        Assert.Contains("PannsResNet", e.Message);
        Assert.Contains(Layout.Format(x.Shape), e.Message);
        Assert.Contains("64", e.Message);
    }

    [Fact]
    public void PannsRejectsTooFewFrames()
    {
        using var model = SmallPanns();
        model.Eval();
        using var x = Tensor.Zeros([1, 1, 16, 64], Cpu);
        var e = Assert.Throws<ArgumentException>(() => model.Forward(x));
        Assert.Contains(Layout.Format(x.Shape), e.Message);
    }

    [Fact]
    public void YamNetRejectsAMissingChannelAxis()
    {
        using var model = new YamNet(new YamNetConfig(Width: 1 / 16.0), Cpu);
        model.Eval();
        using var x = Tensor.Zeros([2, 96, 64], Cpu);
        var e = Assert.Throws<ArgumentException>(() => model.Forward(x));
        Assert.Contains("YamNet", e.Message);
        Assert.Contains(Layout.Format(x.Shape), e.Message);
    }

    [Fact]
    public void UnknownTapListsTheValidOnes()
    {
        using var model = SmallPanns();
        model.Eval();
        using var x = Tensor.Zeros([1, 1, 32, 64], Cpu);
        var e = Assert.Throws<ArgumentException>(() => model.Forward(x, ["layer9"]));
        Assert.Contains("layer9", e.Message);
        Assert.Contains("conv_block_after1", e.Message);
    }

    [Fact]
    public void StateDictMistakesNameTheKeysAndShapes()
    {
        using var model = SmallPanns();
        var tensors = StateDict.Entries(model).Select(e => NamedTensor.Of(e.Name, e.Tensor.ToArray(), e.Tensor.ShapeArray())).ToList();
        var wrongShape = tensors.Select(t => t.Name == "fc1.weight" ? t with { Shape = [t.Shape[1], t.Shape[0] + 1] } : t).ToList();
        var e1 = Assert.Throws<InvalidDataException>(() => model.Load(wrongShape, "bad.pth"));
        Assert.Contains("bad.pth", e1.Message);
        Assert.Contains("fc1.weight", e1.Message);

        var missing = tensors.Where(t => t.Name != "resnet.layer2.0.downsample.1.weight").ToList();
        var e2 = Assert.Throws<InvalidDataException>(() => model.Load(missing, "bad.pth"));
        Assert.Contains("resnet.layer2.0.downsample.1.weight", e2.Message);

        var extra = tensors.Append(NamedTensor.Of("head.weight", [1f], 1)).ToList();
        var e3 = Assert.Throws<InvalidDataException>(() => model.Load(extra, "bad.pth"));
        Assert.Contains("head.weight", e3.Message);

        // The frontend tensors of the published checkpoints and a "model." prefix are accepted.
        var withFrontend = tensors.Select(t => t with { Name = "model." + t.Name })
            .Append(NamedTensor.Of("model.logmel_extractor.melW", new float[513 * 64], 513, 64)).ToList();
        model.Load(withFrontend, "ok.pth", stripPrefix: "model.");
        Assert.True(model.FrontendTensors.ContainsKey("logmel_extractor.melW"));
    }

    [Fact]
    public void PannsKeysAreThoseOfThePublishedCheckpoints()
    {
        using var model = new PannsResNet(PannsConfig.ResNet38 with { Width = 1 / 32.0 }, Cpu);
        var keys = StateDict.Entries(model).Select(e => e.Name).ToHashSet();
        foreach (var k in new[] { "bn0.weight", "bn0.num_batches_tracked", "conv_block1.conv1.weight", "conv_block1.bn2.running_var",
                     "resnet.layer1.2.conv2.weight", "resnet.layer2.0.downsample.1.weight", "resnet.layer2.0.downsample.2.running_mean",
                     "resnet.layer3.5.bn2.bias", "resnet.layer4.2.conv1.weight", "conv_block_after1.conv2.weight", "fc1.bias", "fc_audioset.weight" })
            Assert.Contains(k, keys);
        Assert.DoesNotContain(keys, k => k.Contains("relu") || k.Contains("pool") || k.Contains("dropout"));
        // ResNet38: bn0 (4) + conv_block1 (2 convs + 2·4 BN) + blocks + after1 + fc → 16 stride-1/2 BasicBlocks
        Assert.Equal(16, keys.Count(k => k.EndsWith(".conv1.weight") && k.StartsWith("resnet.")));
    }
}
