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
}
