using System.Text.Json;
using NativeASD.Engine.Audio;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Synth;

namespace NativeASD.Tests.Cli.Commands;

/// <summary>
/// Thresholds a user can act on, end to end: fit's cross-fitted threshold and its provenance, fit --calibrate,
/// nasd calibrate, and models, inputs and caches that must fail (or not fail) loudly with the right exit code.
/// </summary>
public sealed class DecisionsCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-decisions").FullName;
    readonly string _train, _calibration, _model;

    public DecisionsCommandTests()
    {
        _train = Clips("train", 9, 0);
        _calibration = Clips("calibration", 6, 100);
        _model = Path.Combine(_dir, "m.safetensors");
        var fit = NasdProcess.Run("fit", "--train", _train, "--out", _model, "--detector", "mahalanobis", "--no-cache");
        Assert.True(fit.ExitCode == 0, fit.Stderr);
    }

    public void Dispose() => Directory.Delete(_dir, true);

    string Clips(string split, int count, int first)
    {
        string folder = Directory.CreateDirectory(Path.Combine(_dir, split)).FullName;
        var generator = new MachineSoundGenerator(new SynthOptions(Seed: 4, Seconds: 1));
        for (int i = first; i < first + count; i++)
        {
            var clip = new SynthClip("fan", 0, "train", i, AnomalyKind.None);
            WavWriter.Write(Path.Combine(folder, clip.FileName), generator.Generate(clip), 16000);
        }
        return folder;
    }

    static JsonElement Json(NasdProcess.Result r)
    {
        Assert.True(r.ExitCode == 0, r.Stderr);
        return JsonDocument.Parse(r.Stdout).RootElement;
    }

    [Fact]
    public void FitCrossFitsTheThresholdAndScoreJsonSaysSo()
    {
        var score = Json(NasdProcess.Run("score", "--model", _model, _calibration, "--no-cache", "--json"));
        var source = score.GetProperty("threshold_source");
        Assert.Equal("cross-fit", source.GetProperty("source").GetString());
        Assert.Equal(5, source.GetProperty("folds").GetInt32());
        Assert.Equal(9, source.GetProperty("clips").GetInt32());
        Assert.Equal("5-fold cross-fit on 9 training clips", source.GetProperty("description").GetString());

        // The threshold is the 90 % point of a gamma fit to the out-of-fold scores, which the training clips' own scores undercut.
        var (_, info) = DetectorFile.Read(_model);
        var inSample = NasdProcess.Run("fit", "--train", _train, "--out", Path.Combine(_dir, "in.safetensors"), "--detector", "mahalanobis", "--no-cache", "--folds", "1", "--json");
        Assert.Equal("in-sample", Json(inSample).GetProperty("threshold_source").GetProperty("source").GetString());
        Assert.True(info.Threshold.Threshold > Json(inSample).GetProperty("threshold").GetDouble());
    }

    [Fact]
    public void CalibrationClipsSetTheThresholdAtFitOrLater()
    {
        string calibrated = Path.Combine(_dir, "c.safetensors");
        var fit = Json(NasdProcess.Run("fit", "--train", _train, "--out", calibrated, "--detector", "mahalanobis", "--no-cache", "--calibrate", _calibration, "--json"));
        Assert.Equal("calibration", fit.GetProperty("threshold_source").GetProperty("source").GetString());
        Assert.Equal(6, fit.GetProperty("threshold_source").GetProperty("clips").GetInt32());

        var cal = Json(NasdProcess.Run("calibrate", "--model", _model, _calibration, "--percentile", "0.9", "--no-cache", "--json"));
        Assert.Equal(fit.GetProperty("threshold").GetDouble(), cal.GetProperty("threshold").GetDouble(), 12);
        var (_, info) = DetectorFile.Read(_model);
        Assert.Equal("calibration", info.ThresholdOrigin.Source);
        Assert.NotNull(info.ThresholdOrigin.CalibratedUtc);
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));

        // Anomalous-named clips are refused, and the model is left as it was.
        string anomalous = Path.Combine(_dir, "anomaly_id_00_00000001.wav");
        File.Copy(Directory.GetFiles(_calibration)[0], anomalous);
        var refused = NasdProcess.Run("calibrate", "--model", _model, anomalous, "--no-cache");
        Assert.Equal(2, refused.ExitCode);
        Assert.Equal(info.Threshold, DetectorFile.Read(_model).Info.Threshold);
    }

    /// <summary>A model file that fails validation: exit 2, one line "damaged model: …" naming the file and what is wrong.</summary>
    void AssertDamaged(Func<DetectorState, DetectorModelInfo, DetectorModelInfo> damage, string expected)
    {
        var (state, info) = DetectorFile.Read(_model);
        string bad = Path.Combine(_dir, $"bad{Guid.NewGuid():N}.safetensors");
        DetectorFile.Write(bad, state, damage(state, info));
        foreach (var args in new[] { new[] { "score", "--model", bad, _calibration, "--no-cache" }, ["monitor", "--model", bad, "--input", Directory.GetFiles(_calibration)[0], "--window", "1s"] })
        {
            var r = NasdProcess.Run(args);
            Assert.Equal(2, r.ExitCode);
            Assert.StartsWith($"nasd: error: {bad}: damaged model: ", r.Stderr);
            Assert.Contains(expected, r.Stderr);
            Assert.Single(r.Stderr.Trim().Split('\n'));
            Assert.Equal("", r.Stdout);
        }
    }

    [Fact]
    public void DamagedModelsAreRefusedNamingTheTensorOrField()
    {
        AssertDamaged((s, i) => { s.Float64["level0.mean"].Data[3] = double.NaN; return i; }, "tensor level0.mean");
        AssertDamaged((s, i) => { var (shape, c) = s.Float64["level0.cholesky"]; c[shape[0] + 1] = 0; return i; }, "tensor level0.cholesky");
        AssertDamaged((s, i) => i with { Threshold = i.Threshold with { Threshold = double.NaN } }, "threshold is NaN");
        AssertDamaged((s, i) => i with { Features = "logmel-stats:nosuchpreset:ch0" }, "unknown frontend preset 'nosuchpreset'");
        AssertDamaged((s, i) => i with { Features = "stacked:dcase2020:100000000:ch0" }, "stacks 100000000 frames");
        AssertDamaged((s, i) => { s.Metadata["levels"] = "-5"; return i; }, "damaged model");
    }

    [Fact]
    public void DamagedMetricModelsAreRefusedBeforeAllocating()
    {
        string metric = Path.Combine(_dir, "metric.safetensors");
        var fit = NasdProcess.Run("fit", "--train", _train, "--out", metric, "--detector", "metric", "--backbone", "none", "--epochs", "1", "--head-input", "standardise", "--no-cache");
        Assert.True(fit.ExitCode == 0, fit.Stderr);
        foreach (var (options, expected) in new[] { ("\"Width\":-4", "invalid options"), ("\"Width\":65536", "imply"), ("\"Depth\":64", "imply") })
            AssertScoreRefuses(metric, s => s.Metadata["options"] = System.Text.RegularExpressions.Regex.Replace(s.Metadata["options"], options.Split(':')[0] + @":-?\d+", options), expected);
        AssertScoreRefuses(metric, s => s.Tensors["standardise.std"].Data[0] = 0, "tensor standardise.std holds 0 at index 0");

        // A whitened head (the metric head's default input): its covariance factor is checked like Mahalanobis's.
        string whitened = Path.Combine(_dir, "whitened.safetensors");
        fit = NasdProcess.Run("fit", "--train", _train, "--out", whitened, "--detector", "metric", "--backbone", "none", "--epochs", "1", "--no-cache");
        Assert.True(fit.ExitCode == 0, fit.Stderr);
        AssertScoreRefuses(whitened, s => s.Float64["whiten.cholesky"].Data[0] = 0, "tensor whiten.cholesky has 0 on its diagonal at 0");
    }

    /// <summary>A copy of <paramref name="model"/> damaged by <paramref name="damage"/> makes `score` exit 2 with <paramref name="expected"/> in its "damaged model" line.</summary>
    void AssertScoreRefuses(string model, Action<DetectorState> damage, string expected)
    {
        var (state, info) = DetectorFile.Read(model);
        damage(state);
        string bad = Path.Combine(_dir, $"bad{Guid.NewGuid():N}.safetensors");
        DetectorFile.Write(bad, state, info);
        var r = NasdProcess.Run("score", "--model", bad, _calibration, "--no-cache");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("damaged model: ", r.Stderr);
        Assert.Contains(expected, r.Stderr);
    }

    [Fact]
    public void UsageAndInputMistakesExitWithOneOrTwo()
    {
        (string[] Args, int Code, string Message)[] cases =
        [
            (["score", "--model", "--csv", "x.csv", _calibration], 1, "option --model needs a value (MODEL), got option '--csv'"),
            (["fit", "--train", _train, "--out", "--json"], 1, "option --out needs a value"),
            (["fit", "--train", _train, "--out", Path.Combine(_dir, "x.safetensors"), "--lr", "0", "--no-cache"], 1, "--lr must be above 0"),
            (["fit", "--train", _train, "--out", Path.Combine(_dir, "x.safetensors"), "--lr", "1e30", "--epochs", "3", "--detector", "metric", "--backbone", "none", "--no-cache"], 2, "training diverged at epoch"),
            (["fit", "--train", _train, "--out", Path.Combine(_dir, "x.safetensors"), "--tap", "bogus", "--no-cache"], 2, "has no tap 'bogus'"),
        ];
        foreach (var (args, code, message) in cases)
        {
            var r = NasdProcess.Run(args);
            Assert.True(r.ExitCode == code, $"{string.Join(' ', args)}: exit {r.ExitCode}, {r.Stderr}");
            Assert.Contains(message, r.Stderr);
            Assert.Single(r.Stderr.Trim().Split('\n'));
        }

        string silent = Directory.CreateDirectory(Path.Combine(_dir, "silent")).FullName;
        for (int i = 0; i < 3; i++) WavWriter.Write(Path.Combine(silent, $"normal_id_00_{i:D8}.wav"), new float[16000], 16000);
        var s = NasdProcess.Run("fit", "--train", silent, "--out", Path.Combine(_dir, "s.safetensors"), "--detector", "mahalanobis", "--no-cache");
        Assert.Equal(2, s.ExitCode);
        Assert.Contains("silent or identical", s.Stderr);
        Assert.Contains("normal_id_00_00000002.wav", s.Stderr);
    }

    [Fact]
    public void AnUnwritableCacheIsOneWarningAndNoClipIsLost()
    {
        string blocked = Path.Combine(_dir, "not-a-folder");
        File.WriteAllText(blocked, "x");
        var fit = NasdProcess.Run("fit", "--train", _train, "--out", Path.Combine(_dir, "w.safetensors"), "--detector", "mahalanobis", "--cache", Path.Combine(blocked, "cache"), "--json");
        Assert.True(fit.ExitCode == 0, fit.Stderr);
        Assert.Equal(9, JsonDocument.Parse(fit.Stdout).RootElement.GetProperty("clips").GetInt32());
        var warnings = fit.Stderr.Trim().Split('\n');
        Assert.Single(warnings);
        Assert.StartsWith("nasd: warning: feature cache not written", warnings[0]);
        var score = NasdProcess.Run("score", "--model", _model, _calibration, "--cache", Path.Combine(blocked, "cache"));
        Assert.True(score.ExitCode == 0, score.Stderr);
        Assert.Equal(7, score.Stdout.Trim().Split('\n').Length);
    }

    [Fact]
    public void TheNextFitRemovesTemporariesThatAKilledFitLeft()
    {
        string leftover = Path.Combine(_dir, $".m.safetensors.{int.MaxValue - 7}.{Guid.NewGuid():N}.tmp");
        File.WriteAllBytes(leftover, new byte[1000]);
        var fit = NasdProcess.Run("fit", "--train", _train, "--out", _model, "--detector", "mahalanobis", "--no-cache");
        Assert.True(fit.ExitCode == 0, fit.Stderr);
        Assert.False(File.Exists(leftover));
    }
}
