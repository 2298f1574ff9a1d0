using System.Text.Json;
using NativeASD.Detection.Detectors;

namespace NativeASD.Tests.Cli.Commands;

/// <summary>The metric head's options from the command line: fit --negatives, eval --outlier-exposure, --head-input and
/// --segment-pool stored in the model (score reproduces fit), and their misuse refused with exit 1.</summary>
public sealed class MetricHeadOptionsCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-metric-options").FullName;
    readonly string _data;

    public MetricHeadOptionsCommandTests()
    {
        _data = Path.Combine(_dir, "data");
        var synth = NasdProcess.Run("synth", "--out", _data, "--types", "fan", "--ids", "2", "--train", "5", "--test", "3", "--seconds", "1");
        Assert.True(synth.ExitCode == 0, synth.Stderr);
    }

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>A folder with machine ID <paramref name="id"/>'s training clips only.</summary>
    string Train(int id)
    {
        string target = Directory.CreateDirectory(Path.Combine(_dir, $"id{id}")).FullName;
        foreach (var f in Directory.GetFiles(Path.Combine(_data, "fan", "train"), $"normal_id_0{id}_*.wav")) File.Copy(f, Path.Combine(target, Path.GetFileName(f)), true);
        return target;
    }

    [Fact]
    public void FitWithNegativesWhitenedAndPooledIsStoredAndScoredAlike()
    {
        string model = Path.Combine(_dir, "m.safetensors"), csv = Path.Combine(_dir, "s.csv");
        var fit = NasdProcess.Run("fit", "--train", Train(0), "--negatives", Train(1), "--out", model, "--detector", "metric", "--backbone", "none", "--epochs", "2",
            "--head-input", "whiten", "--segment-pool", "top", "--negative-weight", "0.5", "--folds", "2", "--no-cache", "--json");
        Assert.True(fit.ExitCode == 0, fit.Stderr);
        using var json = JsonDocument.Parse(fit.Stdout);
        Assert.Contains("5 negative clips", json.RootElement.GetProperty("summary").GetString());
        var (detector, _) = DetectorFile.Load(model);
        var options = ((MetricDetector)detector).Options;
        Assert.Equal((MetricOptions.Whiten, MetricOptions.PoolTop, 0.5f), (options.Input, options.Pool, options.NegativeWeight));
        ((IDisposable)detector).Dispose();
        var score = NasdProcess.Run("score", "--model", model, Path.Combine(_data, "fan", "test"), "--csv", csv, "--no-cache");
        Assert.True(score.ExitCode == 0, score.Stderr);
        Assert.Equal(13, File.ReadAllLines(csv).Length);
    }

    [Fact]
    public void EvalWithOutlierExposureShowsEachIdTheOther()
    {
        string output = Path.Combine(_dir, "out");
        var eval = NasdProcess.Run("eval", "--data", _data, "--out", output, "--detector", "metric", "--backbone", "none", "--epochs", "2", "--outlier-exposure", "--folds", "1", "--no-cache", "--json");
        Assert.True(eval.ExitCode == 0, eval.Stderr);
        foreach (string model in Directory.GetFiles(Path.Combine(output, "models"), "*.safetensors"))
            Assert.Contains("5 negative clips", DetectorFile.Read(model).Info.TrainingSummary);
    }

    [Theory]
    [InlineData("fit", "--detector", "mahalanobis", "--negatives", "NEG")]
    [InlineData("fit", "--head-input", "pca")]
    [InlineData("fit", "--segment-pool", "median")]
    [InlineData("fit", "--detector", "mahalanobis", "--segment-pool", "max")]
    [InlineData("eval", "--detector", "mahalanobis", "--outlier-exposure")]
    public void MisusedOptionsAreUsageErrors(string command, params string[] options)
    {
        string[] input = command == "fit" ? ["--train", Train(0), "--out", Path.Combine(_dir, "x.safetensors")] : ["--data", _data, "--out", Path.Combine(_dir, "x")];
        var r = NasdProcess.Run([command, .. input, "--backbone", "none", "--no-cache", .. options.Select(o => o == "NEG" ? Train(1) : o)]);
        Assert.Equal(1, r.ExitCode);
        Assert.Single(r.Stderr.Trim().Split('\n'));
        Assert.False(File.Exists(Path.Combine(_dir, "x.safetensors")));
    }
}
