using NativeASD.Detection.Detectors;
using NativeASD.Detection.Thresholds;
using NativeASD.Engine.Audio;

namespace NativeASD.Tests.Detection.Detectors;

/// <summary>A threshold that cannot be cross-fitted comes from in-sample scores, and the warning says why and what to do.</summary>
public sealed class DetectorRunnerThresholdTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-runner-threshold").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>1 s noise clips in name order; those from <paramref name="changeAt"/> on carry a 1 kHz hum (the recording changed).</summary>
    List<string> Clips(int count, int changeAt = int.MaxValue, string id = "00")
    {
        var rng = new Random(4 + int.Parse(id));
        return Enumerable.Range(0, count).Select(i =>
        {
            string path = Path.Combine(_dir, $"normal_id_{id}_{i:00000000}.wav");
            WavWriter.Write(path, Enumerable.Range(0, 16000)
                .Select(t => (float)((rng.NextDouble() - 0.5) * 0.1 + (i >= changeAt ? 0.2 * Math.Sin(2 * Math.PI * 1000 * t / 16000) : 0))).ToArray(), 16000);
            return path;
        }).ToList();
    }

    (ThresholdProvenance Source, List<string> Warnings) Fit(IReadOnlyList<string> clips, FitSettings settings)
    {
        var warnings = new List<string>();
        var (info, _) = DetectorRunner.Fit(clips, Path.Combine(_dir, "model.safetensors"), settings, warn: warnings.Add);
        return (info.ThresholdOrigin, warnings);
    }

    [Fact]
    public void OneClipWarnsAndAdvisesCalibration()
    {
        var (source, warnings) = Fit(Clips(1), new FitSettings("knn"));
        Assert.Equal(ThresholdProvenance.InSample, source.Source);
        var warning = Assert.Single(warnings);
        Assert.Contains("1 training clip is too few to cross-fit", warning);
        Assert.Contains("nasd calibrate --model", warning);
    }

    [Fact]
    public void FoldModelsThatCannotBeFittedWarnAndAdviseCalibration()
    {
        var (source, warnings) = Fit(Clips(3), new FitSettings("mahalanobis"));   // 3 folds: each fold model gets 2 clips, too few for a covariance
        Assert.Equal(ThresholdProvenance.InSample, source.Source);
        var warning = Assert.Single(warnings);
        Assert.Contains("3-fold cross-fitting failed", warning);
        Assert.Contains("at least 3", warning);
        Assert.Contains("nasd calibrate --model", warning);
    }

    /// <summary>The last fold of clips (a changed recording) scores above the threshold: fit warns with the fold and advice;
    /// the same clips without the change do not warn.</summary>
    [Fact]
    public void AHeldOutFoldThatTheThresholdDoesNotHoldForIsReported()
    {
        var (source, warnings) = Fit(Clips(20, changeAt: 16), new FitSettings("mahalanobis"));
        Assert.Equal(ThresholdProvenance.CrossFit, source.Source);
        var warning = Assert.Single(warnings);
        Assert.Contains("4 of 4 clips of fold 5 (clips 17–20 in name order)", warning);
        Assert.Contains("nasd calibrate", warning);
        Assert.Empty(Fit(Clips(20), new FitSettings("mahalanobis")).Warnings);
    }

    [Fact]
    public void InSampleScoresAskedForWithOneFoldDoNotWarn()
    {
        var (source, warnings) = Fit(Clips(4), new FitSettings("mahalanobis", Folds: 1));
        Assert.Equal(ThresholdProvenance.InSample, source.Source);
        Assert.Empty(warnings);
    }

    /// <summary>Clips of several IDs (a machine type's model): the held-out clip of a single-clip ID is scored as an unknown
    /// machine and left out of the threshold, and the record says how many scores were fitted.</summary>
    [Fact]
    public void ASingleClipIdsOutOfFoldScoreIsLeftOutAndCounted()
    {
        var (source, _) = Fit([.. Clips(4, id: "00"), .. Clips(1, id: "02"), .. Clips(3, id: "04")], new FitSettings("knn"));
        Assert.Equal(ThresholdProvenance.CrossFit, source.Source);
        Assert.Equal(8, source.Clips);
        Assert.Equal(7, source.Scores);
        Assert.Null(Fit(Clips(8), new FitSettings("knn")).Source.Scores);
    }
}
