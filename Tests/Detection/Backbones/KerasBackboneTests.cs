using System.Text.Json;
using NativeASD.Detection.Backbones;
using NativeASD.Engine;
using NativeASD.Engine.Architectures;
using NativeASD.Engine.Audio;
using NativeASD.Engine.Frontend;
using NativeASD.Weights;
using NativeASD.Weights.Keras;
using Xunit.Abstractions;

namespace NativeASD.Tests.Detection.Backbones;

/// <summary>
/// The ST model zoo's Keras backbones from ../shared/weights (miniresnet_2_stacks_backbone.h5,
/// miniresnetv2_2_stacks_backbone.h5, yamnet_256_f32.h5) and the st-aed frontend, against the float64 numpy
/// evaluation of each file's model_config graph in Tests/Reference/make_keras_backbone_references.py
/// (Tests/Fixtures/keras-backbones): every tap within 1e-4 relative L2.
/// </summary>
public class KerasBackboneTests(ITestOutputHelper output)
{
    static readonly JsonElement Manifest = JsonDocument.Parse(File.ReadAllText(Fixtures.PathOf("keras-backbones", "manifest.json"))).RootElement;

    static (float[] Data, int[] Shape) Fixture(string file) => Fixtures.Npy("keras-backbones", file);

    static double RelativeL2(float[] actual, float[] expected) =>
        Math.Sqrt(actual.Zip(expected, (a, e) => (double)(a - e) * (a - e)).Sum() / expected.Sum(e => (double)e * e));

    public static TheoryData<string> Clips => new(Manifest.GetProperty("clips").EnumerateObject().Select(c => c.Name));

    /// <summary>
    /// st-aed on real clips against the float64 librosa-equivalent reference. The values are dB re the clip maximum
    /// (0 … −80), so the bound is absolute in dB.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(Clips))]
    public void StAedFrontendMatchesTheFloat64Reference(string clip)
    {
        var c = Manifest.GetProperty("clips").GetProperty(clip);
        var audio = AudioFile.Read(SharedData.Require(c.GetProperty("path").GetString()!), targetRate: 16000);
        Assert.Equal(c.GetProperty("samples").GetInt32(), audio.Samples.Length);
        var (expected, shape) = Fixture(c.GetProperty("features").GetString()!);
        foreach (var precision in new[] { FrontendPrecision.Single, FrontendPrecision.Double })
        {
            using var fe = new AudioFrontend(FrontendPreset.StAed, 2, precision);
            var features = fe.Compute(audio);
            Assert.Equal(shape, new[] { features.GetLength(0), features.GetLength(1) });
            var actual = features.Cast<float>().ToArray();
            double worst = actual.Zip(expected, (a, e) => Math.Abs(a - e)).Max();
            output.WriteLine($"{clip} ({precision}): max |Δ| {worst:E2} dB over {actual.Length} values");
            Assert.True(worst <= 1e-4, $"{clip} ({precision}): max |Δ| {worst:E3} dB > 1e-4");
            using var x = TapFeatures.Input(FrontendPreset.StAed, features, clip);
            Assert.Equal([c.GetProperty("patches").GetInt32(), 1, 50, 64], x.ShapeArray());
        }
    }

    public static TheoryData<string, string> MiniResNets => new()
    {
        { "miniresnet", "weights/miniresnet_2_stacks_backbone.h5" },
        { "miniresnetv2", "weights/miniresnetv2_2_stacks_backbone.h5" },
    };

    void CheckTaps(TapModel model, string name, float[] input, int[] inputShape)
    {
        var taps = Manifest.GetProperty("models").GetProperty(name).GetProperty("taps").EnumerateObject().ToList();
        using var x = Tensor.FromSpan(input, inputShape, TestBackends.Get("cpu"));
        using var r = model.Forward(x, [.. taps.Select(t => t.Name)]);
        foreach (var tap in taps)
        {
            var (expected, shape) = Fixture(tap.Value.GetProperty("file").GetString()!);
            Assert.Equal(shape, r[tap.Name].ShapeArray());
            double rel = RelativeL2(r[tap.Name].ToArray(), expected);
            output.WriteLine($"{name} {tap.Name} [{string.Join(",", shape)}] ({tap.Value.GetProperty("layer").GetString()}): relative L2 {rel:E2}");
            Assert.True(rel <= 1e-4, $"{name} tap {tap.Name}: relative L2 {rel:E3} > 1e-4");
        }
    }

    [SkippableTheory]
    [MemberData(nameof(MiniResNets))]
    public void MiniResNetTapsMatchTheKerasGraph(string arch, string file)
    {
        using var loaded = ModelFiles.Load(SharedData.Require(file), TestBackends.Get("cpu"));
        Assert.Equal(arch, loaded.Arch);
        Assert.Equal("st-aed", loaded.Frontend.Name);
        Assert.Null(loaded.ClassifierTap);
        var (input, shape) = Fixture(Manifest.GetProperty("miniresnet_input").GetString()!);
        CheckTaps(loaded.Model, arch, input, [shape[0], 1, shape[1], shape[2]]);
    }

    [SkippableFact]
    public void Yamnet256TapsMatchTheKerasGraph()
    {
        using var loaded = ModelFiles.Load(SharedData.Require("weights/yamnet_256_f32.h5"), TestBackends.Get("cpu"));
        Assert.Equal("yamnet", loaded.Arch);
        Assert.Equal("yamnet", loaded.Frontend.Name);
        var yamnet = Assert.IsType<YamNet>(loaded.Model);
        Assert.Equal(new YamNetConfig(1.0, Classes: 0, Layers: 6, Relu6: false), yamnet.Config);
        Assert.Equal(["layer1", "layer2", "layer3", "layer4", "layer5", "layer6", "embedding"], yamnet.TapNames);
        Assert.Equal(256, yamnet.EmbeddingSize);
        var bytes = File.ReadAllBytes(SharedData.Require("weights/yamnet_test_spectra.bin"));
        var patch = new float[96 * 64];
        Buffer.BlockCopy(bytes, 0, patch, 0, bytes.Length);
        CheckTaps(yamnet, "yamnet256", patch, [1, 1, 96, 64]);
    }

    /// <summary>nasd convert writes our layout; loading it back gives the same network (same taps, bit for bit).</summary>
    [SkippableTheory]
    [InlineData("weights/miniresnetv2_2_stacks_backbone.h5", "conv2_block2")]
    [InlineData("weights/yamnet_256_f32.h5", "embedding")]
    public void ConvertedFilesLoadTheSameNetwork(string file, string tap)
    {
        string source = SharedData.Require(file);
        string converted = Path.Combine(Directory.CreateTempSubdirectory("nasd-keras-").FullName, "converted.safetensors");
        try
        {
            var result = WeightConverter.Convert(source, converted, arch: null, allowExtra: false);
            using var a = ModelFiles.Load(source, TestBackends.Get("cpu"));
            using var b = ModelFiles.Load(converted, TestBackends.Get("cpu"));
            Assert.Equal(a.Arch, b.Arch);
            Assert.Equal(a.Frontend.Name, b.Frontend.Name);
            Assert.Equal(a.Model.TapNames, b.Model.TapNames);
            var rng = new Random(5);
            int frames = a.Frontend.PatchFrames;
            var input = Enumerable.Range(0, 2 * frames * 64).Select(_ => (float)(rng.NextDouble() * 40 - 60)).ToArray();
            using var x = Tensor.FromSpan(input, [2, 1, frames, 64], TestBackends.Get("cpu"));
            using var ra = a.Model.Forward(x, [tap]);
            using var rb = b.Model.Forward(x, [tap]);
            Assert.Equal(ra[tap].ToArray(), rb[tap].ToArray());
            output.WriteLine($"{file} → {result.Arch} {result.ConfigJson}, {result.Tensors} tensors, {result.Parameters:N0} parameters");
        }
        finally { Directory.Delete(Path.GetDirectoryName(converted)!, recursive: true); }
    }

    [Fact]
    public void A_tiny_miniresnet_is_read_from_its_model_config()
    {
        using var loaded = ModelFiles.Load(Fixtures.PathOf("keras-backbones", "miniresnet_tiny.h5"), TestBackends.Get("cpu"));
        var model = Assert.IsType<MiniResNet>(loaded.Model);
        Assert.Equal(new MiniResNetConfig(1, Stacks: 1, Blocks: 2, Width: 4), model.Config);
        Assert.Equal(["conv1", "pool1", "conv2_block1", "conv2_block2", "conv2", "embedding"], model.TapNames);
        using var x = Tensor.Zeros([1, 1, 16, 16], TestBackends.Get("cpu"));
        using var r = model.Forward(x, ["conv2"]);
        Assert.Equal([1, 4, 2, 2], r["conv2"].ShapeArray());
    }

    /// <summary>
    /// A model_config whose graph differs from the zoo's is refused naming the layer: the tiny file with one config value
    /// edited in place (same length, so the HDF5 heap stays valid).
    /// </summary>
    [Theory]
    [InlineData("\"activation\": \"relu\"", "\"activation\": \"tanh\"", "layer conv1_relu has activation \"tanh\", expected \"relu\"")]
    [InlineData("\"padding\": [[3, 3], [3, 3]]", "\"padding\": [[3, 3], [3, 2]]", "layer conv1_pad has padding [[3,3],[3,2]], expected [[3,3],[3,3]]")]
    [InlineData("[[\"conv2_block1_0_bn\", 0, 0, {}], [\"conv2_block1_2_relu\"", "[[\"conv2_block1_1_bn\", 0, 0, {}], [\"conv2_block1_2_relu\"", "layer conv2_block1_add takes [conv2_block1_1_bn, conv2_block1_2_relu], expected [conv2_block1_0_bn, conv2_block1_2_relu]")]
    [InlineData("[[\"conv1_pad\", 0, 0, {}]]", "[[12345678901, 0, 0, {}]]", "layer conv1_conv takes [], expected [conv1_pad]")]
    public void A_file_whose_graph_differs_is_refused_naming_the_layer(string from, string to, string message)
    {
        using var source = EditedTiny(from, to);
        var e = Assert.Throws<WeightFormatException>(() => ArchitectureMappings.Get(source.Path, "miniresnet").Map(source, allowExtra: false));
        output.WriteLine(e.Message);
        Assert.Contains($"does not match miniresnet: {message}", e.Message);
    }

    /// <summary>The tiny Keras file with every occurrence of a stretch of its model_config replaced by another of the same length (so the HDF5 heap stays valid).</summary>
    static KerasH5Source EditedTiny(string from, string to)
    {
        string path = Fixtures.PathOf("keras-backbones", "miniresnet_tiny.h5");
        string text = System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(path));
        Assert.True(text.Contains(from, StringComparison.Ordinal) && from.Length == to.Length, $"fixture has no {from}, or {to} differs in length");
        return KerasH5File.Parse(path, System.Text.Encoding.Latin1.GetBytes(text.Replace(from, to, StringComparison.Ordinal)));
    }

    /// <summary>A config wider than the tensors it comes with is refused before the network is built to its size.</summary>
    [Fact]
    public void A_config_larger_than_the_file_is_refused_before_building()
    {
        using var source = EditedTiny("\"filters\": 4,", "\"filters\": 9,");
        var e = Assert.Throws<WeightFormatException>(() => ArchitectureMappings.Get(source.Path, "miniresnet").Map(source, allowExtra: false));
        output.WriteLine(e.Message);
        Assert.Contains("width 9) needs", e.Message);
    }

    [Fact]
    public void A_malformed_model_config_is_a_format_error_not_a_crash()
    {
        var e = Assert.Throws<WeightFormatException>(() => EditedTiny("\"class_name\": \"Functional\"", "\"class_name\": 123456789012").Dispose());
        Assert.Contains("model_config is not valid Keras JSON", e.Message);
        // An empty output list: the layer list still reads, and the graph is still the tiny MiniResNet.
        using var source = EditedTiny("\"output_layers\": [[\"conv2_block2_out\", 0, 0]]", "\"output_layers\": [[                        ]]");
        Assert.Equal("miniresnet", ArchitectureMappings.Get(source.Path, "miniresnet").Map(source, allowExtra: false).Arch);
    }

    /// <summary>The ILGPU backend (its CPU accelerator here; CUDA on a GPU machine) computes the same taps.</summary>
    [SkippableFact]
    public void The_ilgpu_backend_gives_the_same_taps()
    {
        string file = SharedData.Require("weights/miniresnetv2_2_stacks_backbone.h5");
        var (input, shape) = Fixture(Manifest.GetProperty("miniresnet_input").GetString()!);
        float[] Run(string backend, string tap)
        {
            using var loaded = ModelFiles.Load(file, TestBackends.Get(backend));
            using var x = Tensor.FromSpan(input, [shape[0], 1, shape[1], shape[2]], TestBackends.Get(backend));
            using var r = loaded.Model.Forward(x, [tap]);
            return r[tap].ToArray();
        }
        foreach (var tap in new[] { "pool1", "conv3", "embedding" })
        {
            double rel = RelativeL2(Run("ilgpu-cpu", tap), Run("cpu", tap));
            output.WriteLine($"{tap}: ilgpu-cpu vs cpu relative L2 {rel:E2}");
            Assert.True(rel <= 1e-5, $"{tap}: {rel:E3}");
        }
    }

    [Fact]
    public void A_file_whose_tensors_do_not_fit_is_refused_naming_the_first()
    {
        string bad = Fixtures.PathOf("keras-backbones", "miniresnet_tiny_bad.h5");
        var e = Assert.Throws<WeightFormatException>(() => ModelFiles.Load(bad));
        Assert.Contains("conv2_block1_2_conv/kernel:0 is [3,3,4,5], expected [3,3,4,4]", e.Message);
        Assert.Contains("miniresnet_tiny_bad.h5", e.Message);
        var wrongArch = Assert.Throws<WeightFormatException>(() => ModelFiles.Load(Fixtures.PathOf("keras-backbones", "miniresnet_tiny.h5"), arch: "miniresnetv2"));
        Assert.Contains("does not match miniresnetv2", wrongArch.Message);
        output.WriteLine(e.Message);
        output.WriteLine(wrongArch.Message);
    }
}
