using System.Text.Json;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Evaluation;
using NativeASD.Detection.Features;
using NativeASD.Detection.Synth;

namespace NativeASD.Tests.Detection.Synth;

public sealed class SynthDcase2023Tests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-synth2023").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void ClipsHaveSectionsDomainsAndTheTargetRunsAtAnotherSpeed()
    {
        var spec = new SynthDatasetSpec(["fan", "valve"], Ids: 2, Train: 9, Test: 3, Layout: SynthLayout.Dcase2023, TargetTrain: 2);
        var clips = spec.Clips();
        Assert.Equal(2 * 2 * (9 + 2 + 2 * 3 * 2), clips.Count);
        foreach (var clip in clips)
        {
            var name = ClipName.Parse(clip.FileName);
            Assert.Equal($"section_{clip.Id:00}", name.Group);
            Assert.Equal(clip.Domain, name.Domain);
            Assert.Equal(clip.Split, name.Split);
            Assert.Equal(clip.IsAnomalous, name.Anomalous);
            Assert.Equal(clip.Domain == "target" ? 2 : 0, clip.Condition);
            Assert.Equal(clip.Domain == "target" ? "speed_1.25_hall_1" : "speed_1.00_hall_0", name.Attributes);
            Assert.Equal(clip.Domain == "target" ? 1 : 0, clip.Factory);
        }
        var fanSection0 = clips.Where(c => c.MachineType == "fan" && c.Id == 0).ToList();
        Assert.Equal(9, fanSection0.Count(c => c.Domain == "source" && c.Split == "train"));
        Assert.Equal(2, fanSection0.Count(c => c.Domain == "target" && c.Split == "train"));
        Assert.Equal(3, fanSection0.Count(c => c.Domain == "target" && c.Split == "test" && c.IsAnomalous));
        Assert.Equal(clips.Count, clips.Select(c => c.FileName + c.MachineType).Distinct().Count());
        Assert.Throws<ArgumentException>(() => SynthDataset.Write(_dir, spec with { TargetCondition = 0 }, new SynthOptions(Seconds: 0.2)));
    }

    [Fact]
    public void TheTargetDomainIsShiftedForADetectorTrainedOnTheSource()
    {
        var spec = new SynthDatasetSpec(["pump"], Ids: 1, Train: 8, Test: 4, Layout: SynthLayout.Dcase2023, TargetTrain: 2);
        var files = SynthDataset.Write(_dir, spec, new SynthOptions(Seed: 3, Seconds: 2), threads: 2);
        var machines = DatasetLayout.Discover(_dir);
        Assert.Equal(2022, DcaseLayouts.Resolve(null, machines));
        var m = Assert.Single(machines);
        Assert.Equal(10, m.Train.Count);
        Assert.Equal(16, m.Test.Count);
        using var extractor = new LogMelStatisticsExtractor();
        var detector = new MahalanobisDetector();
        detector.Fit(m.Train.Where(c => c.Domain == "source").Select(c => extractor.Extract(c.File)).ToList());
        double Mean(string domain) => m.Test.Where(c => c.Domain == domain && c.Anomalous == false).Average(c => detector.Score(extractor.Extract(c.File)));
        // Normal target clips look anomalous to a source-only model: that is the shift the domain-aware detectors must handle.
        Assert.True(Mean("target") > 1.5 * Mean("source"), $"target {Mean("target")} vs source {Mean("source")}");
    }

    [Fact]
    public void SynthCommandWritesTheLayoutAndEvalScoresIt()
    {
        string data = Path.Combine(_dir, "d"), output = Path.Combine(_dir, "o");
        var synth = NasdProcess.Run("synth", "--out", data, "--layout", "dcase2023", "--types", "valve", "--train", "6", "--target-train", "2", "--test", "2", "--seconds", "1", "--json");
        Assert.True(synth.ExitCode == 0, synth.Stderr);
        using (var json = JsonDocument.Parse(synth.Stdout))
        {
            Assert.Equal("dcase2023", json.RootElement.GetProperty("layout").GetString());
            Assert.Equal(6 + 2 + 2 * 2 * 2, json.RootElement.GetProperty("clips").GetInt32());
        }
        Assert.Single(Directory.GetFiles(Path.Combine(data, "valve", "train"), "section_00_target_train_normal_0001_speed_1.25_hall_1.wav"));
        var eval = NasdProcess.Run("eval", "--data", data, "--out", output, "--detector", "ae", "--epochs", "1", "--year", "2023", "--no-cache", "--json");
        Assert.True(eval.ExitCode == 0, eval.Stderr);
        using var result = JsonDocument.Parse(eval.Stdout);
        Assert.Equal(2023, result.RootElement.GetProperty("year").GetInt32());
        Assert.InRange(result.RootElement.GetProperty("official_score").GetDouble(), 0, 1);
        Assert.Equal(0, result.RootElement.GetProperty("official").GetProperty("missing").GetArrayLength());
        Assert.Equal(1, NasdProcess.Run("synth", "--out", Path.Combine(_dir, "x"), "--target-train", "2").ExitCode);   // dcase2023 only
    }
}
