using System.Globalization;
using NativeASD.Detection.Backbones;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Evaluation;
using NativeASD.Detection.Features;
using NativeASD.Detection.Thresholds;
using NativeASD.Kernels.Cpu;

namespace NativeASD.Bench;

/// <summary>
/// <c>threshold-study DATA [detector] [cache] [threads] [folds]</c>: why a threshold gives the false-alarm rate it gives.
/// Per machine ID of an <c>eval</c> dataset, as <c>eval</c> fits it: training clips, folds used, the out-of-fold scores
/// and the gamma fitted to them (shape, scale, threshold at 0.9), the final model's in-sample scores, and its scores of the
/// normal and anomalous test clips — quantiles of each, and how many test clips the gamma threshold and the empirical 0.9
/// point of the out-of-fold scores flag; the held-out folds' counts above the threshold; and, for comparison, the
/// "worst fold" rule (the highest of the folds' own 0.9 points). Each ID's own model only: <c>eval</c>'s machine-type model
/// for IDs with too few clips is not studied here. The test clips are only reported, never used to set anything.
/// </summary>
internal static class ThresholdStudy
{
    public static void Run(string[] args)
    {
        if (args.Length < 1) throw new ArgumentException("threshold-study DATA [detector] [cache] [threads] [folds]");
        string detector = args.Length > 1 ? args[1] : DetectorCatalog.DefaultName;
        string? cache = args.Length > 2 ? args[2] : null;
        int threads = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : Environment.ProcessorCount;
        int folds = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : CrossFitting.DefaultFolds;
        bool shipped = DetectorCatalog.Get(detector).ShippedBackboneByDefault;
        var settings = new FitSettings(detector, CacheDirectory: cache, Folds: folds,
            Backbone: shipped ? ShippedBackbone.Locate() : null, Taps: shipped ? ShippedBackbone.DefaultTaps : null);
        using var backend = new CpuBackend(threads);
        using var extractor = DetectorRunner.ExtractorFor(settings, backend);
        Console.WriteLine($"{args[0]}, {detector}, {folds} folds; quantiles are min / median / 0.9 / max");
        foreach (var machine in DatasetLayout.Discover(args[0]))
            foreach (string group in machine.Groups)
            {
                var train = Features(machine.Train.Where(c => c.Group == group), extractor, cache);
                var test = machine.Test.Where(c => c.Group == group).ToList();
                var normal = Features(test.Where(c => c.Anomalous == false), extractor, cache);
                var anomalous = Features(test.Where(c => c.Anomalous == true), extractor, cache);
                Console.WriteLine($"{machine.MachineType} {group}: {Study(train, normal, anomalous, settings, backend)}");
            }
    }

    static List<ClipFeatures> Features(IEnumerable<ClipName> clips, FeatureExtractor extractor, string? cache)
    {
        var skipped = new List<string>();
        var features = DetectorRunner.Extract(clips.Select(c => c.File).ToList(), extractor, cache, skipped);
        return skipped.Count == 0 ? features : throw new IOException(skipped[0]);
    }

    static string Study(List<ClipFeatures> train, List<ClipFeatures> normal, List<ClipFeatures> anomalous, FitSettings settings, CpuBackend backend)
    {
        string head = $"{train.Count} training clips, {normal.Count} + {anomalous.Count} test clips";
        int folds = CrossFitting.FoldsFor(train.Count, settings.Folds);
        double[]? outOfFold = null;
        string foldNote = folds == 0 ? "too few clips to cross-fit" : $"{folds} folds";
        if (folds > 0)
        {
            try { outOfFold = CrossFitting.OutOfFoldScores(train, folds, () => DetectorRunner.Create(settings, backend)); }
            catch (ArgumentException e) { foldNote = $"{folds} folds failed: {e.Message}"; }
        }
        var final = DetectorRunner.Create(settings, backend);
        try
        {
            try { final.Fit(train); }
            catch (ArgumentException e) { return $"{head}; cannot fit: {e.Message}"; }
            double[] inSample = [.. train.Select(final.Score)], normalScores = [.. normal.Select(final.Score)];
            double[] anomalousScores = [.. anomalous.Select(final.Score)];
            double[] fitted = outOfFold ?? inSample;
            var gamma = GammaThreshold.Fit(fitted, settings.Percentile);
            double empiricalPoint = Quantile(fitted, settings.Percentile);
            return string.Create(CultureInfo.InvariantCulture,
                $"{head}; {foldNote}\n  {(outOfFold is null ? "in-sample" : "out-of-fold")} scores {Quantiles(fitted)}; in-sample {Quantiles(inSample)}\n" +
                $"  gamma shape {gamma.Shape:G4} scale {gamma.Scale:G4} ({gamma.Method}) → threshold {gamma.Threshold:G5}; empirical 0.9 point {empiricalPoint:G5}\n" +
                $"  test normal {Quantiles(normalScores)}; anomalous {Quantiles(anomalousScores)}\n" +
                $"  false alarms {Count(normalScores, gamma.Threshold)}/{normal.Count} (empirical point {Count(normalScores, empiricalPoint)}), " +
                $"detections {Count(anomalousScores, gamma.Threshold)}/{anomalous.Count}; normal test clips above the out-of-fold maximum {Count(normalScores, fitted.Max())}\n" +
                $"  worst-fold rule (the highest of the held-out folds' own 0.9 points) {WorstFold(outOfFold, folds, settings.Percentile):G5}: " +
                $"false alarms {Count(normalScores, WorstFold(outOfFold, folds, settings.Percentile))}/{normal.Count}, detections {Count(anomalousScores, WorstFold(outOfFold, folds, settings.Percentile))}/{anomalous.Count}\n" +
                $"  held-out folds above the threshold: {FoldCounts(outOfFold, folds, gamma.Threshold)}; the test normals' median is the {Rank(fitted, Quantile(normalScores, 0.5)):F3} point " +
                $"and their 0.75 point the {Rank(fitted, Quantile(normalScores, 0.75)):F3} point of the {(outOfFold is null ? "in-sample" : "out-of-fold")} scores");
        }
        finally { (final as IDisposable)?.Dispose(); }
    }

    static int Count(double[] scores, double threshold) => scores.Count(s => s > threshold);

    /// <summary>"3/30, 0/30, …": clips of each held-out fold (contiguous, as <see cref="CrossFitting"/> cuts them) above the threshold.</summary>
    static string FoldCounts(double[]? outOfFold, int folds, double threshold)
    {
        if (outOfFold is null) return "none";
        return string.Join(", ", Enumerable.Range(0, folds).Select(f =>
        {
            var (start, end) = CrossFitting.Fold(outOfFold.Length, folds, f);
            return $"{Count(outOfFold[start..end], threshold)}/{end - start}";
        }));
    }

    /// <summary>The highest of the held-out folds' own <paramref name="q"/> points (NaN without folds): a threshold that holds on every held-out block.</summary>
    static double WorstFold(double[]? outOfFold, int folds, double q) => outOfFold is null ? double.NaN : Enumerable.Range(0, folds).Max(f =>
    {
        var (start, end) = CrossFitting.Fold(outOfFold.Length, folds, f);
        return Quantile(outOfFold[start..end], q);
    });

    /// <summary>The fraction of <paramref name="scores"/> at or below <paramref name="value"/>.</summary>
    static double Rank(double[] scores, double value) => scores.Length == 0 || double.IsNaN(value) ? double.NaN : (double)scores.Count(s => s <= value) / scores.Length;

    static string Quantiles(double[] scores) => scores.Length == 0 ? "none" : string.Create(CultureInfo.InvariantCulture,
        $"{scores.Min():G4} / {Quantile(scores, 0.5):G4} / {Quantile(scores, 0.9):G4} / {scores.Max():G4}");

    static double Quantile(double[] values, double q)
    {
        var sorted = values.Order().ToArray();
        double position = q * (sorted.Length - 1);
        int lo = (int)position, hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (position - lo);
    }
}
