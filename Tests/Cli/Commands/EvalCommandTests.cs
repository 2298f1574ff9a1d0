using System.Globalization;
using System.Text.Json;
using NativeASD.Detection.Evaluation;
using NativeASD.Tests.Detection.Evaluation;

namespace NativeASD.Tests.Cli.Commands;

/// <summary>nasd synth → nasd eval → report.html, as a user runs them; and nasd eval on the real dcase2020-lite clips.</summary>
public sealed class EvalCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-evalcli").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void SynthThenEvalWithReportEndToEnd()
    {
        string data = Path.Combine(_dir, "data"), output = Path.Combine(_dir, "out");
        var synth = NasdProcess.Run("synth", "--out", data, "--types", "pump,slider", "--ids", "1", "--train", "6", "--test", "4", "--seconds", "1.5");
        Assert.True(synth.ExitCode == 0, synth.Stderr);
        Assert.Equal(6, Directory.GetFiles(Path.Combine(data, "pump", "train"), "normal_id_00_*.wav").Length);
        Assert.Equal(4, Directory.GetFiles(Path.Combine(data, "slider", "test"), "anomaly_id_00_*.wav").Length);

        var eval = NasdProcess.Run("eval", "--data", data, "--out", output, "--detector", "mahalanobis", "--no-cache", "--report", "--json");
        Assert.True(eval.ExitCode == 0, eval.Stderr);
        using var json = JsonDocument.Parse(eval.Stdout);
        var groups = json.RootElement.GetProperty("groups");
        Assert.Equal(2, groups.GetArrayLength());
        DcaseEvaluationTests.CheckSubmission(output, 2);
        // The JSON's AUCs are the detector API's own: RocMetrics on the scores the CSV holds.
        foreach (var g in groups.EnumerateArray())
        {
            var scores = NativeASD.Detection.Evaluation.DcaseEvaluation.ReadSubmissionCsv(g.GetProperty("scores_csv").GetString()!);
            double auc = RocMetrics.Auc([.. scores.Select(s => s.Value)], [.. scores.Select(s => ClipName.Parse(s.File).Anomalous == true)]);
            Assert.Equal(auc, g.GetProperty("auc").GetDouble(), 12);
        }
        string report = json.RootElement.GetProperty("report").GetString()!;
        string html = File.ReadAllText(report);
        Assert.Equal(4, CountOf(html, "src=\"data:image/png;base64,"));   // ROC + histogram per ID
        Assert.DoesNotContain("http://", html);
        Assert.DoesNotContain("https://", html);

        var again = NasdProcess.Run("eval", "--data", data, "--out", output, "--detector", "mahalanobis", "--no-cache");
        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.Contains("2 IDs (2 resumed from an earlier run)", again.Stdout);
        Assert.Contains("all           average", again.Stdout);
    }

    [Fact]
    public void OtherFeaturesAreNotResumed()
    {
        string data = Path.Combine(_dir, "data"), output = Path.Combine(_dir, "out");
        Assert.Equal(0, NasdProcess.Run("synth", "--out", data, "--types", "fan", "--ids", "1", "--train", "4", "--test", "2", "--seconds", "1").ExitCode);
        string[] Eval(params string[] features) =>
            ["eval", "--data", data, "--out", output, "--detector", "mahalanobis", "--no-cache", .. features];
        Assert.Equal(0, NasdProcess.Run(Eval("--backbone", "none")).ExitCode);
        var shipped = NasdProcess.Run(Eval("--backbone", "shipped", "--tap", "layer4"));
        Assert.True(shipped.ExitCode == 0, shipped.Stderr);
        Assert.Contains("(0 resumed", shipped.Stdout);
        Assert.Contains("(0 resumed", NasdProcess.Run(Eval("--backbone", "shipped", "--tap", "layer3")).Stdout);
        Assert.Contains("1 IDs (1 resumed from an earlier run)", NasdProcess.Run(Eval("--backbone", "shipped", "--tap", "layer3")).Stdout);
    }

    [SkippableFact]
    public void ReportRendersInHeadlessChromium()
    {
        HeadlessChromium.Require();
        string data = Path.Combine(_dir, "data"), output = Path.Combine(_dir, "out");
        Assert.Equal(0, NasdProcess.Run("synth", "--out", data, "--types", "fan", "--ids", "1", "--train", "5", "--test", "3", "--seconds", "1").ExitCode);
        Assert.Equal(0, NasdProcess.Run("eval", "--data", data, "--out", output, "--detector", "mahalanobis", "--no-cache", "--report").ExitCode);
        string shot = Path.Combine(_dir, "shot.png");
        HeadlessChromium.Run(new Uri(Path.Combine(output, "report.html")).AbsoluteUri, Path.Combine(_dir, "profile"), "--window-size=1000,1400", $"--screenshot={shot}");
        Assert.True(File.Exists(shot), "chromium wrote no screenshot");
        // Non-blank: the screenshot decodes and has many distinct colours (text, table, plots), not one background.
        using var bitmap = SkiaSharp.SKBitmap.Decode(shot);
        Assert.Equal(1000, bitmap.Width);
        var colours = new HashSet<uint>();
        for (int y = 0; y < bitmap.Height; y += 3)
            for (int x = 0; x < bitmap.Width; x += 3) colours.Add((uint)bitmap.GetPixel(x, y));
        Assert.True(colours.Count > 50, $"screenshot looks blank: {colours.Count} colours");
    }

    [SkippableFact]
    public void EvalOnDcase2020LitePerType()
    {
        string data = SharedData.Require("data/dcase2020-lite");
        string output = Path.Combine(_dir, "out");
        var eval = NasdProcess.Run("eval", "--data", data, "--out", output, "--detector", "mahalanobis", "--per-type", "--no-cache", "--json");
        Assert.True(eval.ExitCode == 0, eval.Stderr);
        using var json = JsonDocument.Parse(eval.Stdout);
        var types = json.RootElement.GetProperty("types").EnumerateArray().Select(t => t.GetProperty("machine_type").GetString()).ToList();
        Assert.Equal(["ToyCar", "ToyConveyor", "fan", "pump", "slider", "valve"], types);
        int ids = json.RootElement.GetProperty("groups").GetArrayLength();
        DcaseEvaluationTests.CheckSubmission(output, ids);
        Assert.True(File.Exists(Path.Combine(output, "anomaly_score_fan_id_00.csv")) || Directory.GetFiles(output, "anomaly_score_fan_id_*.csv").Length > 0);
        Assert.Equal(6, Directory.GetFiles(Path.Combine(output, "models"), "model_*.safetensors").Length);
    }

    /// <summary>Per ID, mahalanobis used to stop at ToyCar id_01 (1 training clip); such IDs are now scored by their machine
    /// type's model, which the JSON's threshold_source and a warning name.</summary>
    [SkippableFact]
    public void EvalOnDcase2020LitePerIdScoresFewClipIdsWithTheirTypesModel()
    {
        string data = SharedData.Require("data/dcase2020-lite");
        string output = Path.Combine(_dir, "out");
        var eval = NasdProcess.Run("eval", "--data", data, "--out", output, "--detector", "mahalanobis", "--no-cache", "--json");
        Assert.True(eval.ExitCode == 0, eval.Stderr);
        Assert.Contains("nasd: warning: ToyCar id_01: scored with the machine type's model", eval.Stderr);
        using var json = JsonDocument.Parse(eval.Stdout);
        var groups = json.RootElement.GetProperty("groups").EnumerateArray().ToList();
        var toyCar01 = groups.Single(g => g.GetProperty("machine_type").GetString() == "ToyCar" && g.GetProperty("id").GetString() == "id_01");
        Assert.Equal(1, toyCar01.GetProperty("train_clips").GetInt32());
        var source = toyCar01.GetProperty("threshold_source");
        Assert.Equal("ToyCar", source.GetProperty("machine_type").GetString());
        Assert.Equal("cross-fit", source.GetProperty("source").GetString());
        Assert.EndsWith("model_ToyCar.safetensors", toyCar01.GetProperty("model").GetString());
        Assert.All(groups, g => Assert.True(g.GetProperty("threshold_source").GetProperty("machine_type").ValueKind == JsonValueKind.Null
            || g.GetProperty("train_clips").GetInt32() < 4, g.ToString()));   // 4 clips give mahalanobis folds of 3
        DcaseEvaluationTests.CheckSubmission(output, groups.Count);
    }

    [SkippableFact]
    public void EvalOnDcase2023LiteWritesSectionFiles()
    {
        string data = SharedData.Require("data/dcase2023-lite");
        string output = Path.Combine(_dir, "out");
        // Two training clips per type: too few for the default whitening's covariance, so the head standardises here.
        var settings = new NativeASD.Detection.Evaluation.EvalSettings(
            new NativeASD.Detection.Detectors.FitSettings("metric", Metric: new NativeASD.Detection.Detectors.MetricOptions(Epochs: 2,
                Input: NativeASD.Detection.Detectors.MetricOptions.Standardise, Pool: NativeASD.Detection.Detectors.MetricOptions.PoolMean)), PerType: true);
        var result = NativeASD.Detection.Evaluation.DcaseEvaluation.Run(data, output, settings, threads => new NativeASD.Kernels.Cpu.CpuBackend(threads), 2);
        Assert.All(result.Groups, g => Assert.StartsWith("section_", g.Group));
        Assert.True(File.Exists(Path.Combine(output, "anomaly_score_ToyCar_section_00_test.csv")));
        DcaseEvaluationTests.CheckSubmission(output, result.Groups.Count);
    }

    [Fact]
    public void BackboneWithoutTapAndBadDataAreClearErrors()
    {
        var r = NasdProcess.Run("eval", "--data", _dir, "--backbone", "resnet.safetensors");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("eval: --backbone needs --tap", r.Stderr);
        // Only the metric detector defaults to the shipped backbone; the others use log-mel features unless told.
        r = NasdProcess.Run("eval", "--data", _dir, "--detector", "mahalanobis", "--tap", "layer3");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("eval: --tap needs --backbone", r.Stderr);
        r = NasdProcess.Run("eval", "--data", _dir, "--tap", "layer3", "--backbone", "none");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("eval: --tap needs --backbone", r.Stderr);
        r = NasdProcess.Run("eval", "--data", Path.Combine(_dir, "missing"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("missing: no such folder", r.Stderr);
        r = NasdProcess.Run("eval", "--data", _dir);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("no machine folders", r.Stderr);
        r = NasdProcess.Run("synth", "--out", _dir, "--types", "drill");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("unknown machine type 'drill'", r.Stderr);
    }

    [SkippableFact]
    public void EvalWithYamnetBackboneFeatures()
    {
        string yamnet = SharedData.Require("weights/yamnet_spectra_in.tflite");
        string data = Path.Combine(_dir, "data");
        Assert.Equal(0, NasdProcess.Run("synth", "--out", data, "--types", "pump", "--ids", "1", "--train", "3", "--test", "2", "--seconds", "2").ExitCode);
        var r = NasdProcess.Run("eval", "--data", data, "--out", Path.Combine(_dir, "out"), "--detector", "mahalanobis",
            "--backbone", yamnet, "--tap", "layer14", "--no-cache", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.True(File.Exists(Path.Combine(_dir, "out", "anomaly_score_pump_id_00.csv")));
        Assert.Equal(4, File.ReadAllLines(Path.Combine(_dir, "out", "anomaly_score_pump_id_00.csv")).Length);
    }

    [Fact]
    public void SynthIsDeterministicByteForByte()
    {
        string a = Path.Combine(_dir, "a"), b = Path.Combine(_dir, "b");
        Assert.Equal(0, NasdProcess.Run("synth", "--out", a, "--types", "valve", "--ids", "2", "--train", "2", "--test", "2", "--seconds", "1", "--seed", "9").ExitCode);
        Assert.Equal(0, NasdProcess.Run("synth", "--out", b, "--types", "valve", "--ids", "2", "--train", "2", "--test", "2", "--seconds", "1", "--seed", "9", "--threads", "1").ExitCode);
        var files = Directory.GetFiles(a, "*.wav", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(a, f)).Order().ToList();
        Assert.Equal(12, files.Count);   // 2 IDs × (2 train + 2 normal + 2 anomalous test)
        Assert.Contains(Path.Combine("valve", "test", "anomaly_id_01_00000001.wav"), files);
        foreach (var f in files) Assert.Equal(File.ReadAllBytes(Path.Combine(a, f)), File.ReadAllBytes(Path.Combine(b, f)));
    }

    static int CountOf(string text, string what)
    {
        int count = 0;
        for (int i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + 1, StringComparison.Ordinal)) count++;
        return count;
    }
}

