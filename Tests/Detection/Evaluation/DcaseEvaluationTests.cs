using System.Globalization;
using System.Text.RegularExpressions;
using NativeASD.Detection.Evaluation;
using NativeASD.Detection.Synth;
using NativeASD.Kernels;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Thresholds;

namespace NativeASD.Tests.Detection.Evaluation;

/// <summary>DcaseEvaluation on a small generated dataset: submission CSV format, results.csv against RocMetrics, resume, cancellation.</summary>
public sealed class DcaseEvaluationTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-eval").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    string Data()
    {
        string root = Path.Combine(_dir, "data");
        SynthDataset.Write(root, new SynthDatasetSpec(["fan", "valve"], Ids: 2, Train: 6, Test: 4), new SynthOptions(Seed: 5, Seconds: 1.5));
        return root;
    }

    static EvalResult Run(string data, string output, EvalSettings? settings = null, IProgress<NativeASD.Detection.Detectors.DetectorProgress>? progress = null,
        CancellationToken cancel = default) =>
        DcaseEvaluation.Run(data, output, settings ?? new EvalSettings(new FitSettings("mahalanobis")), _ => null, 2, progress, cancel);

    /// <summary>Checks every submission CSV of a result against the DCASE format and results.csv against RocMetrics on the CSV's scores.</summary>
    internal static void CheckSubmission(string output, int expectedIds)
    {
        var rows = File.ReadAllLines(Path.Combine(output, "results.csv"));
        Assert.Equal("machine_type,id,auc,pauc,train_clips,test_clips,threshold,false_alarm_rate,detection_rate,precision,recall,f1,threshold_source", rows[0]);
        // Rows per ID/section; DCASE 2021–2024 runs add per-domain rows (section_XX_source/_target) and all,official_score.
        var perId = rows.Skip(1).Select(r => r.Split(',')).Where(f => f[1] != "average" && f[1] != "official_score" && !f[1].EndsWith("_source") && !f[1].EndsWith("_target")).ToList();
        Assert.Equal(expectedIds, perId.Count);
        foreach (var f in perId)
        {
            var (scoreName, decisionName) = DcaseEvaluation.CsvNames(f[0], f[1]);
            string[] scoreLines = File.ReadAllLines(Path.Combine(output, scoreName)), decisionLines = File.ReadAllLines(Path.Combine(output, decisionName));
            Assert.Equal(int.Parse(f[5], CultureInfo.InvariantCulture), scoreLines.Length);
            Assert.All(scoreLines, l => Assert.Matches(@"^[^,/\\]+\.wav,-?[0-9.]+(E[-+]?\d+)?$", l));    // no header, file name only
            Assert.All(decisionLines, l => Assert.Matches(@"^[^,/\\]+\.wav,[01]$", l));
            Assert.Equal(scoreLines.Select(l => l.Split(',')[0]), decisionLines.Select(l => l.Split(',')[0]));
            Assert.All(scoreLines, l => Assert.Equal(f[1], ClipName.Parse(l.Split(',')[0]).Group));
            var normalDecisions = decisionLines.Where(l => ClipName.Parse(l.Split(',')[0]).Anomalous == false).Select(l => l.EndsWith(",1") ? 1.0 : 0).ToList();
            Assert.Equal(normalDecisions.Average(), double.Parse(f[7], CultureInfo.InvariantCulture), 6);   // false-alarm rate from the decision file

            var scores = DcaseEvaluation.ReadSubmissionCsv(Path.Combine(output, scoreName));
            double[] s = [.. scores.Select(r => r.Value)];
            bool[] y = [.. scores.Select(r => ClipName.Parse(r.File).Anomalous == true)];
            if (f[2].Length == 0)
            {
                Assert.True(y.All(a => a) || y.All(a => !a), $"{f[0]} {f[1]}: AUC left empty although both classes are present");
                continue;
            }
            Assert.Equal(RocMetrics.Auc(s, y), double.Parse(f[2], CultureInfo.InvariantCulture), 6);
            Assert.Equal(RocMetrics.PartialAuc(s, y, 0.1), double.Parse(f[3], CultureInfo.InvariantCulture), 6);
        }
        Assert.Empty(Directory.GetFiles(output, "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public void WritesDcaseSubmissionFilesAndResultsMatchingRocMetrics()
    {
        string output = Path.Combine(_dir, "out");
        var result = Run(Data(), output);
        Assert.Equal(4, result.Groups.Count);
        Assert.All(result.Groups, g => Assert.Equal(8, g.TestClips));
        CheckSubmission(output, 4);
        Assert.Equal(2, result.Types.Count);
        Assert.Equal((result.Types[0].Auc + result.Types[1].Auc) / 2, result.MeanAuc, 12);
        Assert.True(File.Exists(Path.Combine(output, "models", "model_fan_id_00.safetensors")));
    }

    [Fact]
    public void ReRunWithTheSameSettingsSkipsFinishedIdsAndOtherSettingsRedoThem()
    {
        string data = Data(), output = Path.Combine(_dir, "out");
        var first = Run(data, output);
        var csv = Path.Combine(output, "anomaly_score_valve_id_01.csv");
        var bytes = File.ReadAllBytes(csv);
        var again = Run(data, output);
        Assert.All(again.Groups, g => Assert.True(g.Resumed));
        Assert.Equal(first.Groups.Select(g => g.Auc), again.Groups.Select(g => g.Auc));
        Assert.Equal(bytes, File.ReadAllBytes(csv));
        var changed = Run(data, output, new EvalSettings(new FitSettings("mahalanobis", Percentile: 0.8)));
        Assert.All(changed.Groups, g => Assert.False(g.Resumed));
    }

    [Fact]
    public void CancellingLeavesOnlyCompleteFilesAndTheNextRunResumes()
    {
        string data = Data(), output = Path.Combine(_dir, "out");
        using var cancel = new CancellationTokenSource();
        // Cancel while the third ID is being fitted: two IDs are finished, the third must leave nothing behind.
        var progress = new Callback(p => { if (p.Stage.StartsWith("valve_id_00 fit", StringComparison.Ordinal)) cancel.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => Run(data, output, progress: progress, cancel: cancel.Token));
        Assert.Empty(Directory.GetFiles(output, "*.tmp", SearchOption.AllDirectories));
        Assert.False(File.Exists(Path.Combine(output, "results.csv")));
        var written = Directory.GetFiles(output, "*.csv").Select(Path.GetFileName).Order().ToList();
        Assert.Equal(["anomaly_score_fan_id_00.csv", "anomaly_score_fan_id_01.csv", "decision_result_fan_id_00.csv", "decision_result_fan_id_01.csv"], written);
        Assert.Equal(["fan_id_00.done.json", "fan_id_01.done.json"], Directory.GetFiles(Path.Combine(output, "models"), "*.done.json").Select(Path.GetFileName).Order());

        var resumed = Run(data, output);
        Assert.Equal([true, true, false, false], resumed.Groups.Select(g => g.Resumed));
        CheckSubmission(output, 4);
    }

    [Fact]
    public void StaleTemporariesOfAKilledRunAreRemoved()
    {
        string output = Directory.CreateDirectory(Path.Combine(_dir, "out", "models")).Parent!.FullName;
        string stale = Path.Combine(output, $".results.csv.4242.{Guid.NewGuid():N}.tmp"), mine = Path.Combine(output, ".notes.tmp");
        File.WriteAllText(stale, "half");
        File.WriteAllText(mine, "user file");
        Run(Data(), output);
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(mine));
    }

    [Fact]
    public void SubmissionNamesFollowDcase2020And2021()
    {
        Assert.Equal(("anomaly_score_fan_id_02.csv", "decision_result_fan_id_02.csv"), DcaseEvaluation.CsvNames("fan", "id_02"));
        Assert.Equal(("anomaly_score_gearbox_section_01_test.csv", "decision_result_gearbox_section_01_test.csv"), DcaseEvaluation.CsvNames("gearbox", "section_01"));
    }

    [Fact]
    public void PerTypeModeFitsOneModelPerTypeAndStillReportsPerId()
    {
        string output = Path.Combine(_dir, "out");
        var result = Run(Data(), output, new EvalSettings(new FitSettings("mahalanobis"), PerType: true, Jobs: 2));
        Assert.Equal(4, result.Groups.Count);
        Assert.Equal(["model_fan.safetensors", "model_valve.safetensors"], Directory.GetFiles(Path.Combine(output, "models"), "*.safetensors").Select(Path.GetFileName).Order());
        Assert.All(result.Groups, g => Assert.Equal(6, g.TrainClips));
        CheckSubmission(output, 4);
    }

    /// <summary>Leaves <paramref name="keep"/> of an ID's training clips (the first ones by name).</summary>
    static void KeepTrainingClips(string data, string type, string id, int keep)
    {
        foreach (string f in Directory.GetFiles(Path.Combine(data, type, "train"), $"normal_{id}_*.wav").Order(StringComparer.Ordinal).Skip(keep)) File.Delete(f);
    }

    /// <summary>An ID with 1 training clip (no covariance, no cross-fitting) and one with 2 (mahalanobis needs 3) are scored by
    /// their machine type's model, cross-fitted on all its IDs' clips; the provenance, results.csv and a warning say so, the
    /// other IDs keep their own models, and a resumed run keeps the record.</summary>
    [Fact]
    public void IdsWithTooFewClipsAreScoredByTheirMachineTypesModel()
    {
        string data = Data(), output = Path.Combine(_dir, "out");
        KeepTrainingClips(data, "fan", "id_00", 1);
        KeepTrainingClips(data, "valve", "id_01", 2);
        var result = Run(data, output);
        GroupResult Group(string type, string id) => result.Groups.Single(g => g.MachineType == type && g.Group == id);
        foreach (var (type, id, own, typeClips) in new[] { ("fan", "id_00", 1, 7), ("valve", "id_01", 2, 8) })
        {
            var g = Group(type, id);
            Assert.Equal(type, g.ThresholdSource.MachineType);
            Assert.Equal(ThresholdProvenance.CrossFit, g.ThresholdSource.Source);
            Assert.Equal(typeClips, g.ThresholdSource.Clips);
            Assert.Equal(5, g.ThresholdSource.Folds);
            Assert.Equal(own, g.TrainClips);
            Assert.EndsWith($"model_{type}.safetensors", g.Model);
            Assert.False(File.Exists(Path.Combine(output, "models", $"model_{type}_{id}.safetensors")));
            Assert.Contains(result.Warnings, w => w.StartsWith($"{type} {id}: scored with the machine type's model ({typeClips} training clips", StringComparison.Ordinal));
            Assert.Contains($"{type},{id},", File.ReadAllLines(result.ResultsCsv).Single(l => l.StartsWith($"{type},{id},", StringComparison.Ordinal)));
            Assert.EndsWith(",cross-fit/type", File.ReadAllLines(result.ResultsCsv).Single(l => l.StartsWith($"{type},{id},", StringComparison.Ordinal)));
        }
        Assert.Contains(result.Warnings, w => w.Contains("at least 3", StringComparison.Ordinal));   // valve id_01's own fit: 2 clips
        foreach (var g in new[] { Group("fan", "id_01"), Group("valve", "id_00") })
        {
            Assert.Null(g.ThresholdSource.MachineType);
            Assert.Equal(6, g.TrainClips);
            Assert.EndsWith($"model_{g.MachineType}_{g.Group}.safetensors", g.Model);
        }
        CheckSubmission(output, 4);

        var again = Run(data, output);
        Assert.All(again.Groups, g => Assert.True(g.Resumed));
        Assert.Equal("fan", again.Groups.Single(g => g.MachineType == "fan" && g.Group == "id_00").ThresholdSource.MachineType);
    }

    /// <summary>When the machine type's clips are too few as well, the ID's own failure is what eval reports.</summary>
    [Fact]
    public void AnIdThatNeitherItsOwnNorItsTypesModelCanFitIsNamed()
    {
        string data = Data(), output = Path.Combine(_dir, "out");
        KeepTrainingClips(data, "fan", "id_00", 1);
        KeepTrainingClips(data, "fan", "id_01", 1);
        var e = Assert.Throws<IOException>(() => Run(data, output));
        Assert.Contains("fan id_00 (1 training clips)", e.Message);
        Assert.Contains("at least 3", e.Message);
    }

    /// <summary>With --folds 1 the in-sample threshold was asked for: an ID that can be fitted keeps its own model.</summary>
    [Fact]
    public void InSampleThresholdsAskedForKeepTheIdsOwnModel()
    {
        string data = Data(), output = Path.Combine(_dir, "out");
        KeepTrainingClips(data, "fan", "id_00", 3);
        var result = Run(data, output, new EvalSettings(new FitSettings("mahalanobis", Folds: 1)));
        Assert.All(result.Groups, g => Assert.Null(g.ThresholdSource.MachineType));
        Assert.All(result.Groups, g => Assert.Equal(ThresholdProvenance.InSample, g.ThresholdSource.Source));
        Assert.Equal(3, result.Groups.Single(g => g.MachineType == "fan" && g.Group == "id_00").TrainClips);
    }

    sealed class Callback(Action<NativeASD.Detection.Detectors.DetectorProgress> action) : IProgress<NativeASD.Detection.Detectors.DetectorProgress>
    {
        public void Report(NativeASD.Detection.Detectors.DetectorProgress value) => action(value);
    }
}
