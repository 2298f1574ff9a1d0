using System.Text.Json;

namespace NativeASD.Tests.Cli.Commands;

/// <summary>
/// The ST model zoo's Keras backbones through nasd: embed --tap list names the taps per stack and block, embed and fit
/// take them from a Keras file, tag refuses a backbone without a classifier, and a file whose tensors do not fit exits 2
/// naming the tensor.
/// </summary>
public sealed class KerasBackboneCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-keras-cli-").FullName;
    static string Tiny => Fixtures.PathOf("keras-backbones", "miniresnet_tiny.h5");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Embed_lists_the_taps_of_a_keras_miniresnet()
    {
        var r = NasdProcess.Run("embed", "--backbone", Tiny, "--tap", "list", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal("miniresnet", doc.RootElement.GetProperty("arch").GetString());
        Assert.Equal(["conv1", "pool1", "conv2_block1", "conv2_block2", "conv2", "embedding"],
            doc.RootElement.GetProperty("taps").EnumerateArray().Select(t => t.GetString()));
    }

    [Fact]
    public void A_misfitting_keras_file_exits_2_naming_the_tensor()
    {
        var r = NasdProcess.Run("embed", "--backbone", Fixtures.PathOf("keras-backbones", "miniresnet_tiny_bad.h5"), "--tap", "list");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("conv2_block1_2_conv/kernel:0 is [3,3,4,5]", r.Stderr);
    }

    [SkippableFact]
    public void Fit_embed_and_tag_take_the_zoo_files()
    {
        string weights = SharedData.Require("weights/miniresnetv2_2_stacks_backbone.h5");
        string train = SharedData.Require("data/sensiml-fan/train");
        string clip = Directory.GetFiles(SharedData.Require("data/sensiml-fan/test"), "normal_*.wav").Order().First();

        var embed = NasdProcess.Run("embed", "--backbone", weights, "--tap", "conv2,embedding", clip, Path.Combine(_dir, "e.npy"), "--json");
        Assert.True(embed.ExitCode == 0, embed.Stderr);
        using (var doc = JsonDocument.Parse(embed.Stdout))
        {
            Assert.Equal("st-aed", doc.RootElement.GetProperty("frontend").GetString());
            Assert.Equal([64 + 128], doc.RootElement.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
        }

        string model = Path.Combine(_dir, "fan.safetensors");
        var fit = NasdProcess.Run("fit", "--train", train, "--out", model, "--detector", "mahalanobis", "--backbone", weights, "--tap", "conv3", "--no-cache", "--json");
        Assert.True(fit.ExitCode == 0, fit.Stderr);
        var score = NasdProcess.Run("score", "--model", model, clip, "--json");
        Assert.True(score.ExitCode == 0, score.Stderr);

        var tag = NasdProcess.Run("tag", "--backbone", weights, clip);
        Assert.Equal(1, tag.ExitCode);
        Assert.Contains("backbone without a classifier", tag.Stderr);
    }
}
