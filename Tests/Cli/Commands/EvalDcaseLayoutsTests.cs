using System.Text.Json;
using NativeASD.Detection.Evaluation;

namespace NativeASD.Tests.Cli.Commands;

/// <summary>nasd eval on the real DCASE 2023 clips (dcase2023-lite): sections, the year's files, official score in results.csv, JSON and report.</summary>
public sealed class EvalDcaseLayoutsTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-eval2023").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>dcase2023-lite has 2 normal training clips per section, fewer than smahalanobis' covariance needs: without
    /// --detector, eval takes the few-clips layout default (knn) instead of failing.</summary>
    [SkippableFact]
    public void EvalWithoutDetectorOnDcase2023LiteRunsTheFewClipsDefault()
    {
        string data = SharedData.Require("data/dcase2023-lite");
        var eval = NasdProcess.Run("eval", "--data", data, "--out", Path.Combine(_dir, "default"), "--no-cache", "--json");
        Assert.True(eval.ExitCode == 0, eval.Stderr);
        using var json = JsonDocument.Parse(eval.Stdout);
        Assert.InRange(json.RootElement.GetProperty("official_score").GetDouble(), 0, 1);
    }

    [SkippableFact]
    public void EvalOnDcase2023LiteWritesOfficialScore()
    {
        string data = SharedData.Require("data/dcase2023-lite");
        string output = Path.Combine(_dir, "out");
        var eval = NasdProcess.Run("eval", "--data", data, "--out", output, "--detector", "ae", "--epochs", "1", "--no-cache", "--report", "--json");
        Assert.True(eval.ExitCode == 0, eval.Stderr);
        using var json = JsonDocument.Parse(eval.Stdout);
        Assert.Equal(2022, json.RootElement.GetProperty("year").GetInt32());
        double official = json.RootElement.GetProperty("official_score").GetDouble();
        Assert.InRange(official, 0, 1);
        foreach (string type in new[] { "ToyCar", "ToyTrain", "bearing", "fan", "gearbox", "slider", "valve" })
        {
            Assert.True(File.Exists(Path.Combine(output, $"anomaly_score_{type}_section_00_test.csv")), type);
            Assert.True(File.Exists(Path.Combine(output, $"decision_result_{type}_section_00_test.csv")), type);
        }
        // The official score is recomputed from the submission files and the names alone.
        var groups = Directory.GetFiles(output, "anomaly_score_*_section_00_test.csv").Select(path =>
        {
            var clips = DcaseEvaluation.ReadSubmissionCsv(path).Select(r => new ScoredClip(r.File, r.Value, false, ClipName.Parse(r.File).Anomalous)).ToList();
            string type = Path.GetFileName(path)["anomaly_score_".Length..^"_section_00_test.csv".Length];
            return new GroupResult(type, "section_00", 2, clips.Count, double.NaN, double.NaN, 0, NativeASD.Detection.Thresholds.ThresholdProvenance.Legacy(2), path, "", "", false, clips);
        }).ToList();
        Assert.Equal(OfficialScore.Compute(groups, 2022)!.Score, official, 12);
        string results = File.ReadAllText(Path.Combine(output, "results.csv"));
        Assert.Contains("fan,section_00_source,", results);
        Assert.Contains("fan,section_00_target,", results);
        Assert.Contains($"all,official_score,{official:F6}", results.Replace("\r", ""));
        Assert.Contains("Official score", File.ReadAllText(Path.Combine(output, "report.html")));
    }

    [Fact]
    public void A2021DatasetGetsPerDomainFilesAndBadYearsAreRefused()
    {
        string data = Path.Combine(_dir, "d2021");
        var rng = new Random(3);
        void Clip(string split, string name)
        {
            string dir = Directory.CreateDirectory(Path.Combine(data, "fan", split)).FullName;
            var samples = Enumerable.Range(0, 8000).Select(_ => (float)(rng.NextDouble() - 0.5) * 0.2f).ToArray();
            NativeASD.Engine.Audio.WavWriter.Write(Path.Combine(dir, name), samples, 16000);
        }
        for (int i = 0; i < 4; i++) Clip("train", $"section_00_source_train_normal_{i:0000}.wav");
        for (int i = 0; i < 2; i++) Clip("train", $"section_00_target_train_normal_{i + 4:0000}.wav");
        foreach (string d in new[] { "source", "target" })
            for (int i = 0; i < 2; i++)
            {
                Clip("test", $"section_00_{d}_test_normal_{i:0000}.wav");
                Clip("test", $"section_00_{d}_test_anomaly_{i:0000}.wav");
            }
        string output = Path.Combine(_dir, "o2021");
        var eval = NasdProcess.Run("eval", "--data", data, "--out", output, "--detector", "mahalanobis", "--no-cache", "--json");
        Assert.True(eval.ExitCode == 0, eval.Stderr);
        using var json = JsonDocument.Parse(eval.Stdout);
        Assert.Equal(2021, json.RootElement.GetProperty("year").GetInt32());
        foreach (string d in new[] { "source", "target" })
        {
            Assert.Equal(4, File.ReadAllLines(Path.Combine(output, $"anomaly_score_fan_section_00_{d}_test.csv")).Length);
            Assert.Equal(4, File.ReadAllLines(Path.Combine(output, $"decision_result_fan_section_00_{d}_test.csv")).Length);
        }
        var bad = NasdProcess.Run("eval", "--data", data, "--out", output, "--year", "2019");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("--year", bad.Stderr);
        string flat = Directory.CreateDirectory(Path.Combine(_dir, "typo", "fan")).FullName;
        File.Copy(Path.Combine(data, "fan", "train", "section_00_source_train_normal_0000.wav"), Path.Combine(flat, "section_00_source_tran_normal_0000.wav"));
        var typo = NasdProcess.Run("eval", "--data", Path.Combine(_dir, "typo"), "--out", output);
        Assert.Equal(2, typo.ExitCode);
        Assert.Contains("malformed DCASE 2021–2024 clip name", typo.Stderr);
        Assert.Single(typo.Stderr.Trim().Split('\n'));
    }
}
