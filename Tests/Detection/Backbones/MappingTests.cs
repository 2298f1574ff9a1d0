using System.Text.Json;
using NativeASD.Weights;
using NativeASD.Detection.Backbones;
using NativeASD.Weights.Safetensors;
using NativeASD.Engine.IO;

namespace NativeASD.Tests.Detection.Backbones;

public class MappingTests
{
    [Theory]
    [InlineData("panns-resnet22", new[] { 2, 2, 2, 2 })]
    [InlineData("panns-resnet38", new[] { 3, 4, 6, 3 })]
    public void Panns_expected_keys_are_the_torch_model_state_dict(string arch, int[] blocks)
    {
        var torch = WeightFixtures.Manifest.GetProperty("panns_full_keys").GetProperty(arch).EnumerateArray()
            .Select(e => (e[0].GetString()!, WeightFixtures.Shape(e[1]))).ToList();
        var ours = PannsResNetMapping.Expected(new PannsResNetConfig(blocks, [64, 128, 256, 512]));
        Assert.Equal(torch.Select(t => t.Item1), ours.Select(e => e.Name));
        for (int i = 0; i < ours.Count; i++) Assert.True(torch[i].Item2.SequenceEqual(ours[i].Shape), $"{ours[i].Name}: torch [{string.Join(",", torch[i].Item2)}], ours [{string.Join(",", ours[i].Shape)}]");
    }

    [Fact]
    public void Narrow_panns_checkpoint_converts_with_detected_arch_and_inferred_config()
    {
        var m = WeightFixtures.Manifest.GetProperty("panns_narrow");
        using var dir = new WeightFixtures.TempDir();
        string dest = dir.File("narrow.safetensors");
        var r = WeightConverter.Convert(WeightFixtures.PathOf(m.GetProperty("file").GetString()!), dest, arch: null, allowExtra: false);
        Assert.Equal("panns-resnet38", r.Arch);
        Assert.Equal(m.GetProperty("keys").GetArrayLength(), r.Tensors);
        using var f = SafetensorsFile.Open(dest);
        Assert.Equal("panns-resnet38", f.Metadata["arch"]);
        Assert.Equal("panns", f.Metadata["frontend"]);
        Assert.Equal("torch-zip", f.Metadata["source_format"]);
        Assert.Equal(WeightConverter.Sha256(WeightFixtures.PathOf("panns_resnet38_narrow.pth")), f.Metadata["source_sha256"]);
        using var config = JsonDocument.Parse(f.Metadata["arch_config"]);
        Assert.Equal([4, 6, 8, 10], WeightFixtures.Shape(config.RootElement.GetProperty("widths")));
        Assert.Equal(5, config.RootElement.GetProperty("classes").GetInt32());
        Assert.Equal(m.GetProperty("fc_audioset.bias").EnumerateArray().Select(v => (float)v.GetDouble()), f.Tensors.Single(t => t.Name == "fc_audioset.bias").ReadFloat32());
        Assert.Equal(WeightDType.I64, f.Tensors.Single(t => t.Name == "bn0.num_batches_tracked").StoredAs);
        foreach (var e in m.GetProperty("keys").EnumerateArray())
            Assert.Equal(WeightFixtures.Shape(e[1]), f.Entry(e[0].GetString()!).Shape);
    }

    /// <summary>The narrow PANNs checkpoint re-written with one edit, as a safetensors source.</summary>
    static string Variant(WeightFixtures.TempDir dir, Func<List<SafetensorsTensor>, List<SafetensorsTensor>> edit)
    {
        using var src = WeightFiles.Open(WeightFixtures.PathOf("panns_resnet38_narrow.pth"));
        var tensors = src.Tensors.Select(t => SafetensorsTensor.Float32(t.Name, t.Shape, t.ReadFloat32())).ToList();
        string path = dir.File($"variant{Guid.NewGuid():N}.safetensors");
        AtomicFile.Write(path, s => SafetensorsWriter.Write(s, path, edit(tensors)));
        return path;
    }

    [Fact]
    public void Strict_check_names_missing_wrong_shape_and_extra_tensors()
    {
        using var dir = new WeightFixtures.TempDir();
        var mapping = ArchitectureMappings.Get("x", "panns-resnet38");

        string missing = Variant(dir, l => l.Where(t => t.Name != "resnet.layer2.3.bn1.running_var").ToList());
        using (var s = WeightFiles.Open(missing))
            Assert.Contains("missing tensor(s): resnet.layer2.3.bn1.running_var", Assert.Throws<WeightFormatException>(() => mapping.Map(s, false)).Message);

        string wrong = Variant(dir, l => l.Select(t => t.Name == "fc1.bias" ? SafetensorsTensor.Float32("fc1.bias", [13], new float[13]) : t).ToList());
        using (var s = WeightFiles.Open(wrong))
            Assert.Contains("fc1.bias is [13], expected [12]", Assert.Throws<WeightFormatException>(() => mapping.Map(s, false)).Message);

        string extra = Variant(dir, l => [.. l, SafetensorsTensor.Float32("sampler.queue", [2], [1f, 2f])]);
        using (var s = WeightFiles.Open(extra))
        {
            var e = Assert.Throws<WeightFormatException>(() => mapping.Map(s, false));
            Assert.Contains("unexpected tensor(s): sampler.queue", e.Message);
            Assert.Contains("--allow-extra", e.Message);
            Assert.Equal(["sampler.queue"], mapping.Map(s, true).Ignored);
        }

        // ResNet22 keys do not fit a ResNet38 file.
        using (var s = WeightFiles.Open(WeightFixtures.PathOf("panns_resnet38_narrow.pth")))
            Assert.Contains("does not match panns-resnet22", Assert.Throws<WeightFormatException>(() => ArchitectureMappings.Get(s.Path, "panns-resnet22").Map(s, false)).Message);
    }

    [Fact]
    public void Unknown_architectures_are_named()
    {
        Assert.Contains("unknown architecture 'vgg'", Assert.Throws<WeightFormatException>(() => ArchitectureMappings.Get("f", "vgg")).Message);
        using var s = WeightFiles.Open(WeightFixtures.PathOf("views_zip.pt"));
        Assert.Contains("cannot tell the architecture", Assert.Throws<WeightFormatException>(() => ArchitectureMappings.Detect(s)).Message);
    }

    [SkippableTheory]
    [InlineData("res8.pt", 45, true)]
    [InlineData("res8_narrow.pt", 19, false)]
    public void Honk_res8_converts_and_keeps_every_value(string file, int channels, bool scales)
    {
        string path = SharedData.Require($"weights/{file}");
        using var dir = new WeightFixtures.TempDir();
        var r = WeightConverter.Convert(path, dir.File("res8.safetensors"), null, false);
        Assert.Equal("honk-res8", r.Arch);
        using var config = JsonDocument.Parse(r.ConfigJson);
        Assert.Equal(channels, config.RootElement.GetProperty("channels").GetInt32());
        Assert.Equal(scales, config.RootElement.GetProperty("scales").GetBoolean());
        using var src = WeightFiles.Open(path);
        using var dst = WeightFiles.Open(dir.File("res8.safetensors"));
        Assert.Equal("honk", dst.Metadata["frontend"]);
        Assert.Equal(src.Tensors.Count, dst.Tensors.Count);
        foreach (var t in src.Tensors) Assert.Equal(t.ReadFloat32(), dst.Tensors.Single(x => x.Name == t.Name).ReadFloat32());
    }
}
