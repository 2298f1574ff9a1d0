using NativeASD.Detection.Features;

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
            int start = (int)((long)f * clips.Count / folds), end = (int)((long)(f + 1) * clips.Count / folds);
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

    sealed class FoldProgress(IProgress<DetectorProgress> inner, int fold, int folds) : IProgress<DetectorProgress>
    {
        public void Report(DetectorProgress value) => inner.Report(value with { Stage = $"fold {fold}/{folds} {value.Stage}" });
    }
}
