using System.Text.Json;

namespace NativeASD.Tests.Cli;

/// <summary>nasd inspect / convert as a user runs them.</summary>
public class WeightCommandsTests
{
    static string Fixture(string f) => Fixtures.PathOf("weights", f);

    [Fact]
    public void Inspect_json_lists_tensors_metadata_and_parameter_count()
    {
        var r = NasdProcess.Run("inspect", Fixture("nested_zip.pt"), "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.Equal("torch-zip", root.GetProperty("format").GetString());
        Assert.Equal(8, root.GetProperty("tensor_count").GetInt32());
        Assert.Equal("model", root.GetProperty("metadata").GetProperty("torch.state_dict_path").GetString());
        var conv = root.GetProperty("tensors").EnumerateArray().Single(t => t.GetProperty("name").GetString() == "0.weight");
        Assert.Equal([3, 1, 3, 3], conv.GetProperty("shape").EnumerateArray().Select(x => x.GetInt32()));
        Assert.Equal(27 + 3 * 4 + 1 + 8 + 2, root.GetProperty("parameters").GetInt64());
    }

    [Fact]
    public void Convert_then_inspect_shows_the_architecture_metadata()
    {
        string dir = Directory.CreateTempSubdirectory("nasd-cli-").FullName;
        try
        {
            string dest = Path.Combine(dir, "narrow.safetensors");
            var c = NasdProcess.Run("convert", Fixture("panns_resnet38_narrow.pth"), dest, "--arch", "panns-resnet38");
            Assert.True(c.ExitCode == 0, c.Stderr);
            Assert.Contains("panns-resnet38, 246 tensors", c.Stdout);
            var i = NasdProcess.Run("inspect", dest);
            Assert.Equal(0, i.ExitCode);
            Assert.Contains("safetensors, 246 tensors", i.Stdout);
            Assert.Contains("arch = panns-resnet38", i.Stdout);
            Assert.Contains("source_sha256 = ", i.Stdout);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Bad_inputs_are_one_line_errors_with_exit_codes()
    {
        string dir = Directory.CreateTempSubdirectory("nasd-cli-").FullName;
        try
        {
            string bad = Path.Combine(dir, "bad.pt");
            File.WriteAllBytes(bad, File.ReadAllBytes(Fixture("views_zip.pt"))[..700]);
            var r = NasdProcess.Run("inspect", bad);
            Assert.Equal(2, r.ExitCode);
            Assert.StartsWith($"nasd: error: {bad}: ", r.Stderr);

            var u = NasdProcess.Run("convert", Fixture("views_zip.pt"), Path.Combine(dir, "x.safetensors"), "--arch", "vgg");
            Assert.Equal(1, u.ExitCode);
            var m = NasdProcess.Run("convert", Fixture("views_zip.pt"), Path.Combine(dir, "x.safetensors"));
            Assert.Equal(2, m.ExitCode);
            Assert.Contains("cannot tell the architecture", m.Stderr);
            Assert.False(File.Exists(Path.Combine(dir, "x.safetensors")));
        }
        finally { Directory.Delete(dir, true); }
    }
}
