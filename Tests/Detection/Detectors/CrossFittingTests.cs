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

    /// <summary><see cref="CrossFitting.DisagreeingFolds"/> over 5 contiguous folds of <paramref name="scores"/>.</summary>
    static string? Disagreeing(double[] scores) =>
        CrossFitting.DisagreeingFolds(scores, CrossFitting.Assign([.. scores.Select(_ => "id_00")], 5), 5, 1, 0.9);

    [Fact]
    public void FoldsThatAgreeWithTheThresholdsRateAreNotReported()
    {
        Assert.Null(Disagreeing(Scores(30, 3, 3, 3, 3, 3)));
        Assert.Null(Disagreeing(Scores(30, 2, 0, 8, 0, 4)));   // machine-tools lathe, mahalanobis: P(≥ 8 of 30) = 0.026
        Assert.Null(Disagreeing(Scores(4, 0, 3, 0, 0, 1)));    // P(≥ 3 of 4) = 0.0037, above 0.01 / 5
    }

    /// <summary>machine-tools vmc with mahalanobis: the last 30 clips (in name order) score above the threshold 13 times.</summary>
    [Fact]
    public void AFoldFarAboveTheRateIsNamedWithItsClipsAndAdvice()
    {
        string message = Disagreeing(Scores(30, 0, 0, 0, 1, 13))!;
        Assert.Contains("13 of 30 clips of fold 5 (clips 121–150 in name order)", message);
        Assert.Contains("where 10 % are expected (folds: 0 of 30, 0 of 30, 0 of 30, 1 of 30, 13 of 30)", message);
        Assert.Contains("nasd calibrate", message);
        Assert.Contains("4 of 4 clips of fold 2", Disagreeing(Scores(4, 0, 4, 0, 0, 1)));
    }

    [Theory]
    [InlineData(10, 3)]
    [InlineData(7, 5)]
    [InlineData(150, 5)]
    [InlineData(2, 2)]
    public void OneIdsClipsAreCutIntoContiguousFolds(int clips, int folds)
    {
        var foldOf = CrossFitting.Assign([.. Enumerable.Repeat("id_00", clips)], folds);
        for (int f = 0; f < folds; f++)
        {
            var (start, end) = CrossFitting.Fold(clips, folds, f);
            Assert.All(Enumerable.Range(start, end - start), i => Assert.Equal(f, foldOf[i]));
        }
    }

    /// <summary>Several IDs: each ID's clips in contiguous blocks, every block in another fold, and small IDs dealt on so
    /// that the folds stay balanced (dcase2020-lite slider: IDs of 1, 2 and 1 clips in 4 folds).</summary>
    [Fact]
    public void SeveralIdsAreCutPerIdAndDealtOverTheFolds()
    {
        Assert.Equal([0, 1, 2, 3], CrossFitting.Assign(["id_02", "id_04", "id_04", "id_06"], 4));
        string[] groups = [.. Enumerable.Repeat("id_00", 10), .. Enumerable.Repeat("id_01", 10)];
        var foldOf = CrossFitting.Assign(groups, 5);
        Assert.Equal([0, 0, 1, 1, 2, 2, 3, 3, 4, 4], foldOf[..10]);
        Assert.Equal([0, 0, 1, 1, 2, 2, 3, 3, 4, 4], foldOf[10..]);
        Assert.All(Enumerable.Range(0, 5), f => Assert.Equal(4, foldOf.Count(x => x == f)));
    }

    /// <summary>A fold model always knows the held-out clip's ID when the ID has other clips; names carry the ID.</summary>
    [Fact]
    public void HeldOutClipsOfIdsWithSeveralClipsAreScoredByModelsThatKnowTheirId()
    {
        string[] names = ["normal_id_00_00000000.wav", "normal_id_00_00000001.wav", "normal_id_00_00000002.wav", "normal_id_02_00000000.wav",
            "normal_id_04_00000000.wav", "normal_id_04_00000001.wav"];
        var clips = names.Select((n, i) => ClipFeatures.Single(n, [i])).ToList();
        var made = new List<Recorder>();
        CrossFitting.OutOfFoldScores(clips, 5, () => { var r = new Recorder(); made.Add(r); return r; });
        var foldOf = CrossFitting.Assign(clips, 5);
        for (int i = 0; i < clips.Count; i++)
        {
            string id = names[i][..12];
            var model = made[foldOf[i]];
            Assert.DoesNotContain(names[i], model.Seen);
            if (names.Count(n => n.StartsWith(id, StringComparison.Ordinal)) > 1)
                Assert.Contains(model.Seen, seen => seen.StartsWith(id, StringComparison.Ordinal));
        }
        Assert.Equal([0, 1, 2, 4, 5], CrossFitting.KnownMachineClips(clips, foldOf));   // not id_02's only clip: scored as an unknown machine
    }

    [Fact]
    public void EveryClipCountsWithOneIdOrWhenFewerThanTwoWould()
    {
        var oneId = Enumerable.Range(0, 6).Select(i => ClipFeatures.Single($"normal_id_00_{i:00000000}.wav", [i])).ToList();
        Assert.Equal(Enumerable.Range(0, 6), CrossFitting.KnownMachineClips(oneId, CrossFitting.Assign(oneId, 5)));
        var singletons = Enumerable.Range(0, 4).Select(i => ClipFeatures.Single($"normal_id_{i:00}_00000000.wav", [i])).ToList();
        Assert.Equal(Enumerable.Range(0, 4), CrossFitting.KnownMachineClips(singletons, CrossFitting.Assign(singletons, 4)));
    }

    [Fact]
    public void AFoldSpreadOverSeveralIdsIsNamedAsABlockOfEachId()
    {
        double[] scores = [.. Enumerable.Range(0, 20).Select(i => i % 10 >= 8 ? 2.0 : 0.5)];   // the last 2 clips of each ID
        string[] groups = [.. Enumerable.Repeat("id_00", 10), .. Enumerable.Repeat("id_01", 10)];
        string message = CrossFitting.DisagreeingFolds(scores, CrossFitting.Assign(groups, 5), 5, 1, 0.9)!;
        Assert.Contains("4 of 4 clips of fold 5 (a block of each ID's clips in name order)", message);
    }
}
