using NativeASD.Detection.Detectors;
using NativeASD.Detection.Features;

namespace NativeASD.Tests.Detection.Detectors;

public sealed class CrossFittingTests
{
    /// <summary>Scores a clip by whether it was among its training clips: 1 if seen (a leak), 0 if not.</summary>
    sealed class Recorder : IAnomalyDetector
    {
        public HashSet<string> Seen { get; } = [];
        public string Kind => "recorder";
        public string Fit(IReadOnlyList<ClipFeatures> normal, IProgress<DetectorProgress>? progress = null)
        {
            foreach (var c in normal) Seen.Add(c.Source);
            return "";
        }
        public double Score(ClipFeatures clip) => Seen.Contains(clip.Source) ? 1 : 0;
        public DetectorState Save() => new();
    }

    [Fact]
    public void EveryClipIsScoredByAModelThatDidNotSeeItInContiguousFolds()
    {
        var clips = Enumerable.Range(0, 10).Select(i => ClipFeatures.Single($"clip{i}.wav", [i])).ToList();
        var made = new List<Recorder>();
        var scores = CrossFitting.OutOfFoldScores(clips, 3, () => { var r = new Recorder(); made.Add(r); return r; });
        Assert.All(scores, s => Assert.Equal(0, s));
        Assert.Equal(3, made.Count);
        // Contiguous: the first fold model trained on clips 3..9 (folds [0,3), [3,6), [6,10)).
        Assert.Equal(Enumerable.Range(3, 7).Select(i => $"clip{i}.wav"), made[0].Seen.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData(1, 5, 0)]     // nothing to hold out
    [InlineData(2, 5, 2)]     // leave one out
    [InlineData(3, 3, 3)]
    [InlineData(40, 5, 5)]
    [InlineData(40, 1, 0)]    // --folds 1: in-sample
    public void FoldsLeaveEachFoldModelAtLeastOneClip(int clips, int folds, int expected) =>
        Assert.Equal(expected, CrossFitting.FoldsFor(clips, folds));

    /// <summary>Out-of-fold scores in which fold f has <c>above[f]</c> of its clips above 1 (the threshold used below).</summary>
    static double[] Scores(int perFold, params int[] above) =>
        [.. above.SelectMany(a => Enumerable.Range(0, perFold).Select(i => i < a ? 2.0 : 0.5))];

    [Fact]
    public void FoldsThatAgreeWithTheThresholdsRateAreNotReported()
    {
        Assert.Null(CrossFitting.DisagreeingFolds(Scores(30, 3, 3, 3, 3, 3), 5, 1, 0.9));
        Assert.Null(CrossFitting.DisagreeingFolds(Scores(30, 2, 0, 8, 0, 4), 5, 1, 0.9));   // machine-tools lathe, mahalanobis: P(≥ 8 of 30) = 0.026
        Assert.Null(CrossFitting.DisagreeingFolds(Scores(4, 0, 3, 0, 0, 1), 5, 1, 0.9));    // P(≥ 3 of 4) = 0.0037, above 0.01 / 5
    }

    /// <summary>machine-tools vmc with mahalanobis: the last 30 clips (in name order) score above the threshold 13 times.</summary>
    [Fact]
    public void AFoldFarAboveTheRateIsNamedWithItsClipsAndAdvice()
    {
        string message = CrossFitting.DisagreeingFolds(Scores(30, 0, 0, 0, 1, 13), 5, 1, 0.9)!;
        Assert.Contains("13 of 30 clips of fold 5 (clips 121–150 in name order)", message);
        Assert.Contains("where 10 % are expected (folds: 0 of 30, 0 of 30, 0 of 30, 1 of 30, 13 of 30)", message);
        Assert.Contains("nasd calibrate", message);
        Assert.Contains("4 of 4 clips of fold 2", CrossFitting.DisagreeingFolds(Scores(4, 0, 4, 0, 0, 1), 5, 1, 0.9));
    }
}
