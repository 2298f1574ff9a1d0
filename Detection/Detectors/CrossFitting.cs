using System.Globalization;
using NativeASD.Detection.Features;
using NativeASD.Detection.Thresholds;

namespace NativeASD.Detection.Detectors;

/// <summary>
/// Scores of the training clips from models that did not see them, for setting a threshold: the clips, in their order
/// (file names sorted), are cut into k contiguous folds; a detector is fitted on k − 1 folds and scores the held-out one,
/// for each fold. Contiguous, not interleaved: clips cut from one long recording are numbered in order, and a held-out
/// clip whose neighbours were trained on would score like a training clip (measured on machine-tools: interleaved folds
/// left 87–98 % false alarms on its test clips).
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

    /// <summary>The out-of-fold score of every clip, in order; <paramref name="create"/> makes a fresh untrained detector.</summary>
    public static double[] OutOfFoldScores(IReadOnlyList<ClipFeatures> clips, int folds, Func<IAnomalyDetector> create,
        IProgress<DetectorProgress>? progress = null)
    {
        if (folds < 2 || FoldsFor(clips.Count, folds) != folds)
            throw new ArgumentException($"cross-fitting: {folds} folds do not fit {clips.Count} clips");
        var scores = new double[clips.Count];
        for (int f = 0; f < folds; f++)
        {
            var (start, end) = Fold(clips.Count, folds, f);
            var train = clips.Where((_, i) => i < start || i >= end).ToList();
            var detector = create();
            try
            {
                detector.Fit(train, progress is null ? null : new FoldProgress(progress, f + 1, folds));
                for (int i = start; i < end; i++) scores[i] = detector.Score(clips[i]);
            }
            finally { (detector as IDisposable)?.Dispose(); }
        }
        return scores;
    }

    /// <summary>Clips [start, end) of fold <paramref name="f"/> of <paramref name="folds"/> contiguous folds over <paramref name="clips"/> clips.</summary>
    public static (int Start, int End) Fold(int clips, int folds, int f) =>
        ((int)((long)f * clips / folds), (int)((long)(f + 1) * clips / folds));

    /// <summary>Chance, on clips whose folds score alike, that some fold is reported by <see cref="DisagreeingFolds"/> (split over the folds).</summary>
    public const double DisagreementLevel = 0.01;

    /// <summary>
    /// The held-out folds that a threshold does not hold for, or null when they agree: fold f is reported when its number
    /// of out-of-fold scores above <paramref name="threshold"/> is improbably high for the rate the threshold was set for
    /// (1 − <paramref name="percentile"/>): binomial upper tail below <see cref="DisagreementLevel"/> / k. Contiguous folds are
    /// blocks of the clips in name order, so a reported fold means the recordings change along that order (drift, another
    /// session) and the threshold may not hold on other recordings either (machine-tools vmc: 13 of its last 30 clips).
    /// </summary>
    public static string? DisagreeingFolds(IReadOnlyList<double> outOfFold, int folds, double threshold, double percentile)
    {
        double rate = 1 - percentile;
        var counts = Enumerable.Range(0, folds).Select(f =>
        {
            var (start, end) = Fold(outOfFold.Count, folds, f);
            int above = 0;
            for (int i = start; i < end; i++) if (outOfFold[i] > threshold) above++;
            return (Fold: f, Start: start, End: end, Above: above);
        }).ToList();
        var disagreeing = counts.Where(c => SpecialFunctions.BinomialUpperTail(c.Above, c.End - c.Start, rate) < DisagreementLevel / folds).ToList();
        if (disagreeing.Count == 0) return null;
        string Of((int Fold, int Start, int End, int Above) c) => $"{c.Above} of {c.End - c.Start}";
        return $"the held-out folds disagree: {string.Join("; ", disagreeing.Select(c => $"{Of(c)} clips of fold {c.Fold + 1} (clips {c.Start + 1}–{c.End} in name order)"))} " +
            $"score above the threshold where {rate.ToString("P0", CultureInfo.InvariantCulture)} are expected (folds: {string.Join(", ", counts.Select(Of))}); " +
            "the recordings change along their order, so the threshold may not hold on other recordings either: check it on new normal clips with 'nasd calibrate'";
    }

    sealed class FoldProgress(IProgress<DetectorProgress> inner, int fold, int folds) : IProgress<DetectorProgress>
    {
        public void Report(DetectorProgress value) => inner.Report(value with { Stage = $"fold {fold}/{folds} {value.Stage}" });
    }
}
