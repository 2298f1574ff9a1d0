using System.Text.Json;

namespace NativeASD.Tests.Cli.Commands;

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

    /// <summary>ad01 from Keras HDF5 and from its TFLite export: converted with the architecture detected, inspected, and used as an ae detector.</summary>
    [SkippableFact]
    public void Ad01_converts_inspects_and_scores_a_clip_as_an_ae_detector()
    {
        string h5 = SharedData.Require("weights/ad01.h5"), tflite = SharedData.Require("weights/ad01_fp32.tflite");
        string clip = SharedData.Require("data/dcase2020-lite/ToyCar/normal_id_01_00000000.wav");
        string dir = Directory.CreateTempSubdirectory("nasd-cli-").FullName;
        try
        {
            foreach (string source in (string[])[h5, tflite])
            {
                string dest = Path.Combine(dir, Path.GetFileName(source) + ".safetensors");
                var c = NasdProcess.Run("convert", source, dest);
                Assert.True(c.ExitCode == 0, c.Stderr);
                Assert.Contains("dcase-ae, 65 tensors", c.Stdout);
                var i = NasdProcess.Run("inspect", dest);
                Assert.Equal(0, i.ExitCode);
                Assert.Contains("arch = dcase-ae", i.Stdout);
            }
            string model = Path.Combine(dir, "toycar.safetensors");
            var fit = NasdProcess.Run("fit", "--train", clip, "--out", model, "--detector", "ae", "--init", Path.Combine(dir, "ad01.h5.safetensors"), "--epochs", "0", "--no-cache");
            Assert.True(fit.ExitCode == 0, fit.Stderr);
            Assert.Contains("from ad01.h5.safetensors", fit.Stdout);
            var score = NasdProcess.Run("score", "--model", model, clip, "--no-cache", "--json");
            Assert.True(score.ExitCode == 0, score.Stderr);

            var wrong = NasdProcess.Run("fit", "--train", clip, "--out", model, "--detector", "metric", "--init", h5);
            Assert.Equal(1, wrong.ExitCode);
            Assert.Contains("--init applies to --detector ae", wrong.Stderr);
            var tag = NasdProcess.Run("tag", "--backbone", h5, clip);
            Assert.Equal(2, tag.ExitCode);
            Assert.Contains("no taps", tag.Stderr);
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
