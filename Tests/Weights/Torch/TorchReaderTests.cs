using NativeASD.Weights;

namespace NativeASD.Tests.Weights.Torch;

/// <summary>torch.save files written by PyTorch 1.13 (zip and legacy) read back exactly as torch.load sees them.</summary>
public class TorchReaderTests
{
    public static TheoryData<string> Files() =>
        new(WeightFixtures.Manifest.GetProperty("files").EnumerateObject().Select(p => p.Name));

    [Theory]
    [MemberData(nameof(Files))]
    public void Every_tensor_matches_torch(string file)
    {
        var entry = WeightFixtures.Manifest.GetProperty("files").GetProperty(file);
        using var source = WeightFiles.Open(WeightFixtures.PathOf(file));
        Assert.Equal(entry.GetProperty("format").GetString(), source.Format);
        var expected = entry.GetProperty("tensors").EnumerateObject().ToList();
        Assert.Equal(expected.Select(e => e.Name).OrderBy(n => n, StringComparer.Ordinal), source.Tensors.Select(t => t.Name).OrderBy(n => n, StringComparer.Ordinal));
        foreach (var e in expected)
        {
            var t = source.Tensors.Single(x => x.Name == e.Name);
            Assert.Equal(WeightFixtures.Shape(e.Value.GetProperty("shape")), t.Shape);
            Assert.Equal(e.Value.GetProperty("dtype").GetString(), t.StoredAs.ToString());
            var (want, wantShape) = Fixtures.Npy("weights", e.Value.GetProperty("npy").GetString()!);
            Assert.Equal(t.Count, want.LongLength);
            // f16/bf16 widen to float32 exactly, strided views gather exactly: bit-for-bit equality.
            Assert.Equal(want, t.ReadFloat32());
        }
    }

    [Theory]
    [InlineData("nested_zip.pt")]
    [InlineData("nested_legacy.pt")]
    public void Nested_checkpoint_names_are_relative_to_the_model_dict(string file)
    {
        using var source = WeightFiles.Open(WeightFixtures.PathOf(file));
        Assert.Contains(source.Tensors, t => t.Name == "1.running_mean");
        Assert.Equal("model", source.Metadata["torch.state_dict_path"]);
        Assert.Equal("0", source.Metadata["torch.iteration"]);
    }

    [Fact]
    public void Views_share_one_storage_and_are_flagged_when_strided()
    {
        using var source = WeightFiles.Open(WeightFixtures.PathOf("views_zip.pt"));
        Assert.Null(source.Tensors.Single(t => t.Name == "rows").Note);
        Assert.Contains("strided", source.Tensors.Single(t => t.Name == "transposed").Note);
    }

    [SkippableTheory]
    [InlineData("res8.pt", 30)]
    [InlineData("res8_narrow.pt", 27)]
    public void Honk_legacy_files_match_torch_load(string file, int count)
    {
        string path = SharedData.Require($"weights/{file}");
        using var source = WeightFiles.Open(path);
        Assert.Equal("torch-legacy", source.Format);
        Assert.Equal(count, source.Tensors.Count);
        var expected = WeightFixtures.Manifest.GetProperty("shared").GetProperty(file);
        foreach (var e in expected.EnumerateObject())
        {
            var t = source.Tensors.Single(x => x.Name == e.Name);
            Assert.Equal(WeightFixtures.Shape(e.Value.GetProperty("shape")), t.Shape);
            var v = t.ReadFloat32();
            double sum = v.Sum(x => (double)x);
            Assert.True(Math.Abs(sum - e.Value.GetProperty("sum").GetDouble()) <= 1e-7 * Math.Max(1, Math.Abs(sum)), $"{e.Name}: sum {sum}");
            var first = e.Value.GetProperty("first").EnumerateArray().Select(x => (float)x.GetDouble()).ToArray();
            Assert.Equal(first, v.Take(first.Length).ToArray());
        }
    }
}
