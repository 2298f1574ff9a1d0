using System.Globalization;
using NativeASD.Detection.Evaluation;
using NativeASD.Detection.Features;
using NativeASD.Detection.Thresholds;

namespace NativeASD.Detection.Detectors;

/// <summary>
/// Scores of the training clips from models that did not see them, for setting a threshold: the clips, in their order
/// (file names sorted), are cut into k contiguous folds; a detector is fitted on k − 1 folds and scores the held-out one,
/// for each fold. Contiguous, not interleaved: clips cut from one long recording are numbered in order, and a held-out
/// clip whose neighbours were trained on would score like a training clip (measured on machine-tools: interleaved folds
/// left 87–98 % false alarms on its test clips).
/// Clips of several machine IDs or sections (by their names: a machine type's model, <c>eval --per-type</c>) are cut per
/// ID: each ID's clips into k contiguous blocks, fold f holding the f-th block of every ID, so each held-out clip is
/// scored by a model that knows its ID, as the final model knows every test clip's; folds in plain name order would hold
/// out whole IDs and measure the scores of unknown machines instead (docs/decisions.md).
/// A trained detector pulls its own training clips together, so their in-sample scores sit below those of unseen normal
/// clips and a threshold taken from them flags most normal clips; out-of-fold scores do not have that bias (each fold
/// model saw (k − 1)/k of the clips, so they are, if anything, slightly higher, erring toward fewer false alarms).
/// </summary>
public static class CrossFitting
{
    /// <summary>k by default: 5 folds keep 80 % of the clips for each fold model at 5 extra fits (fewer folds train the fold models on fewer clips and over-estimate unseen scores: 3 folds gave no false alarm at all on synth; docs/decisions.md).</summary>
    public const int DefaultFolds = 5;

    /// <summary>Fewest clips a fold model trains on (a detector that needs more, e.g. a covariance, refuses the fold: see DetectorRunner).</summary>
    public const int MinimumTrainingClips = 1;

    /// <summary>The folds used for <paramref name="clips"/> clips: <paramref name="folds"/> at most, 0 when there are too few clips to cross-fit.</summary>
    public static int FoldsFor(int clips, int folds)
    {
        int k = Math.Min(folds, clips);
        return k >= 2 && clips - (clips + k - 1) / k >= MinimumTrainingClips ? k : 0;   // the largest fold held out
    }

    /// <summary>The out-of-fold score of every clip, in order, with the folds of <see cref="Assign"/>; <paramref name="create"/> makes a fresh untrained detector.</summary>
    public static double[] OutOfFoldScores(IReadOnlyList<ClipFeatures> clips, int folds, Func<IAnomalyDetector> create,
        IProgress<DetectorProgress>? progress = null) =>
        OutOfFoldScores(clips, Assign(clips, folds), folds, create, progress);

    /// <summary>The out-of-fold score of every clip, clip i held out in fold <paramref name="foldOf"/>[i].</summary>
    public static double[] OutOfFoldScores(IReadOnlyList<ClipFeatures> clips, int[] foldOf, int folds, Func<IAnomalyDetector> create,
        IProgress<DetectorProgress>? progress = null)
    {
        if (folds < 2 || FoldsFor(clips.Count, folds) != folds || foldOf.Length != clips.Count || foldOf.Any(f => f < 0 || f >= folds))
            throw new ArgumentException($"cross-fitting: {folds} folds do not fit {clips.Count} clips");
        var scores = new double[clips.Count];
        for (int f = 0; f < folds; f++)
        {
            var train = clips.Where((_, i) => foldOf[i] != f).ToList();
            if (train.Count == clips.Count) continue;   // nothing held out in this fold (only possible with several IDs)
            if (train.Count == 0) throw new ArgumentException($"cross-fitting: fold {f + 1} holds every clip");
            var detector = create();
            try
            {
                detector.Fit(train, progress is null ? null : new FoldProgress(progress, f + 1, folds));
                for (int i = 0; i < clips.Count; i++) if (foldOf[i] == f) scores[i] = detector.Score(clips[i]);
            }
            finally { (detector as IDisposable)?.Dispose(); }
        }
        return scores;
    }

    /// <summary>Clips [start, end) of fold <paramref name="f"/> of <paramref name="folds"/> contiguous folds over <paramref name="clips"/> clips.</summary>
    public static (int Start, int End) Fold(int clips, int folds, int f) =>
        ((int)((long)f * clips / folds), (int)((long)(f + 1) * clips / folds));

    /// <summary>The fold of each clip: contiguous folds (<see cref="Fold"/>) over the clips of each machine ID or section
    /// (the group its file name gives, <see cref="ClipName"/>), in order; one ID's clips are simply cut into k contiguous folds.</summary>
    public static int[] Assign(IReadOnlyList<ClipFeatures> clips, int folds) =>
        Assign([.. clips.Select(c => ClipName.Parse(c.Source).Group)], folds);

    /// <summary>
    /// The fold of each clip, the clips of each group (in order of appearance) cut into <paramref name="folds"/> contiguous
    /// blocks (<see cref="Fold"/>; a group of fewer clips than folds has one block per clip). The blocks are dealt to the
    /// folds in turn, continuing from one group to the next, so folds stay balanced when many IDs have one or two clips
    /// (a fold model then never loses more clips than it must). One group: block f is fold f.
    /// </summary>
    public static int[] Assign(IReadOnlyList<string> groups, int folds)
    {
        var foldOf = new int[groups.Count];
        int dealt = 0;
        foreach (var group in groups.Select((g, i) => (Group: g, Index: i)).GroupBy(x => x.Group))
        {
            var members = group.Select(x => x.Index).ToList();
            for (int f = 0; f < folds; f++)
            {
                var (start, end) = Fold(members.Count, folds, f);
                if (start == end) continue;
                for (int j = start; j < end; j++) foldOf[members[j]] = dealt % folds;
                dealt++;
            }
        }
        return foldOf;
    }

    /// <summary>
    /// The clips whose out-of-fold scores set the threshold: those of an ID (<see cref="ClipName"/> group) with clips in
    /// other folds, i.e. scored by a fold model that knew their machine, as the final model knows every ID it was trained
    /// on. The held-out clip of an ID with one clip was scored as an unknown machine, which says nothing of how that
    /// model scores its own machines (dcase2020-lite's machine-type models: such clips scored up to 3 times the others and
    /// set thresholds no normal test clip reached; docs/decisions.md). With one ID every clip counts (all, too, when fewer
    /// than 2 would).
    /// </summary>
    public static int[] KnownMachineClips(IReadOnlyList<ClipFeatures> clips, int[] foldOf)
    {
        var groups = clips.Select(c => ClipName.Parse(c.Source).Group).ToList();
        // an ID's clips in more than one fold: each of its fold models holds some of them
        var spread = Enumerable.Range(0, clips.Count).GroupBy(i => groups[i])
            .Where(g => g.Select(i => foldOf[i]).Distinct().Skip(1).Any()).Select(g => g.Key).ToHashSet();
        var known = Enumerable.Range(0, clips.Count).Where(i => spread.Contains(groups[i])).ToArray();
        return known.Length >= 2 ? known : [.. Enumerable.Range(0, clips.Count)];
    }

    /// <summary>Chance, on clips whose folds score alike, that some fold is reported by <see cref="DisagreeingFolds"/> (split over the folds).</summary>
    public const double DisagreementLevel = 0.01;

    /// <summary>
    /// The held-out folds that a threshold does not hold for, or null when they agree: fold f is reported when its number
    /// of out-of-fold scores above <paramref name="threshold"/> is improbably high for the rate the threshold was set for
    /// (1 − <paramref name="percentile"/>): binomial upper tail below <see cref="DisagreementLevel"/> / k. Contiguous folds are
    /// blocks of the clips in name order, so a reported fold means the recordings change along that order (drift, another
    /// session) and the threshold may not hold on other recordings either (machine-tools vmc: 13 of its last 30 clips).
    /// </summary>
    public static string? DisagreeingFolds(IReadOnlyList<double> outOfFold, int[] foldOf, int folds, double threshold, double percentile)
    {
        double rate = 1 - percentile;
        var counts = Enumerable.Range(0, folds).Select(f =>
        {
            var members = Enumerable.Range(0, outOfFold.Count).Where(i => foldOf[i] == f).ToList();
            int above = members.Count(i => outOfFold[i] > threshold);
            return (Fold: f, Members: members, Above: above);
        }).ToList();
        var disagreeing = counts.Where(c => SpecialFunctions.BinomialUpperTail(c.Above, c.Members.Count, rate) < DisagreementLevel / folds).ToList();
        if (disagreeing.Count == 0) return null;
        string Of((int Fold, List<int> Members, int Above) c) => $"{c.Above} of {c.Members.Count}";
        string Where((int Fold, List<int> Members, int Above) c) => c.Members[^1] - c.Members[0] == c.Members.Count - 1
            ? $"clips {c.Members[0] + 1}–{c.Members[^1] + 1} in name order"
            : "a block of each ID's clips in name order";
        return $"the held-out folds disagree: {string.Join("; ", disagreeing.Select(c => $"{Of(c)} clips of fold {c.Fold + 1} ({Where(c)})"))} " +
            $"score above the threshold where {rate.ToString("P0", CultureInfo.InvariantCulture)} are expected (folds: {string.Join(", ", counts.Select(Of))}); " +
            "the recordings change along their order, so the threshold may not hold on other recordings either: check it on new normal clips with 'nasd calibrate'";
    }

    sealed class FoldProgress(IProgress<DetectorProgress> inner, int fold, int folds) : IProgress<DetectorProgress>
    {
        public void Report(DetectorProgress value) => inner.Report(value with { Stage = $"fold {fold}/{folds} {value.Stage}" });
    }
}
