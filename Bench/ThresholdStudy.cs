using System.Globalization;
using System.Text.Json;
using NativeASD.Detection.Backbones;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Evaluation;
using NativeASD.Detection.Features;
using NativeASD.Detection.Thresholds;
using NativeASD.Kernels.Cpu;

namespace NativeASD.Bench;

/// <summary>
/// <c>threshold-study DATA [detector[@backbone]] [cache] [threads] [folds] [json]</c>: why a threshold gives the
/// false-alarm rate it gives. The detector is a name (on its own default backbone, as <c>--detector NAME</c>), or
/// <c>default</c> (what <c>fit</c> uses without <c>--detector</c>), optionally with <c>@BACKBONE</c> (a shipped name or
/// <c>none</c>). Per machine ID of an <c>eval</c> dataset, as <c>eval</c> fits it: training clips, folds used, the
/// out-of-fold scores and the threshold fit sets from them (<see cref="GammaThreshold.Predictive"/>, beside the plug-in
/// gamma point of <see cref="GammaThreshold.Fit"/>), the final model's in-sample scores,
/// and its scores of the normal and anomalous test clips — quantiles of each, and how many test clips the gamma threshold
/// and the empirical 0.9 point of the out-of-fold scores flag; the held-out folds' counts above the threshold; and, for
/// comparison, the "worst fold" rule (the highest of the folds' own 0.9 points). An ID too few to cross-fit is also
/// studied under its machine type's model, as <c>eval</c> scores it, with the type's clips in folds per ID (as fit cuts
/// them) and in plain name order (as it cut them before). With <c>json</c>, every score and fold is written there for
/// studies of other threshold rules. The test clips are only reported, never used to set anything.
/// </summary>
internal static class ThresholdStudy
{
    public static void Run(string[] args)
    {
        if (args.Length < 1) throw new ArgumentException("threshold-study DATA [detector[@backbone]] [cache] [threads] [folds] [json]");
        string[] named = (args.Length > 1 ? args[1] : "default").Split('@');
        bool detectorNamed = named[0] != "default";
        string detector = detectorNamed ? named[0] : DetectorCatalog.DefaultName;
        string? cache = args.Length > 2 ? args[2] : null;
        int threads = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : Environment.ProcessorCount;
        int folds = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : CrossFitting.DefaultFolds;
        string? jsonPath = args.Length > 5 ? args[5] : null;
        string backbone = named.Length > 1 ? named[1] : DetectorCatalog.BackboneFor(detector, detectorNamed);
        var shipped = ShippedBackbone.Named(backbone);
        if (shipped is null && backbone != "none") throw new ArgumentException($"threshold-study: backbone '{backbone}' is not a shipped one or none");
        var settings = new FitSettings(detector, CacheDirectory: cache, Folds: folds,
            Backbone: shipped is null ? null : ShippedBackbone.Locate(shipped), Taps: shipped?.DefaultTaps, Int8Activations: shipped is not { FloatActivations: true });
        using var backend = new CpuBackend(threads);
        using var extractor = DetectorRunner.ExtractorFor(settings, backend);
        Console.WriteLine($"{args[0]}, {detector} on {backbone}, {folds} folds; quantiles are min / median / 0.9 / max");
        var records = new List<Dictionary<string, object?>>();
        foreach (var machine in DatasetLayout.Discover(args[0]))
        {
            var typeTrain = Features(machine.Train, extractor, cache);
            foreach (string group in machine.Groups)
            {
                var train = typeTrain.Where(c => ClipName.Parse(c.Source).Group == group).ToList();
                var test = machine.Test.Where(c => c.Group == group).ToList();
                var normal = Features(test.Where(c => c.Anomalous == false), extractor, cache);
                var anomalous = Features(test.Where(c => c.Anomalous == true), extractor, cache);
                var own = Study(train, CrossFitting.Assign(train, Math.Max(1, CrossFitting.FoldsFor(train.Count, folds))), normal, anomalous, settings, backend);
                Console.WriteLine($"{machine.MachineType} {group}: {own.Text}");
                var record = new Dictionary<string, object?> { ["type"] = machine.MachineType, ["group"] = group, ["own"] = own.Record };
                if (own.OutOfFold is null && typeTrain.Count > train.Count)
                {
                    // eval's machine-type model: the type's clips cut per ID (as fit does), and in plain name order (as before)
                    int typeFolds = CrossFitting.FoldsFor(typeTrain.Count, folds);
                    int[] contiguous = [.. Enumerable.Range(0, typeTrain.Count).Select(i =>
                        Enumerable.Range(0, typeFolds).First(f => CrossFitting.Fold(typeTrain.Count, typeFolds, f).End > i))];
                    foreach (var (name, foldOf) in new[] { ("type_per_id", CrossFitting.Assign(typeTrain, typeFolds)), ("type_name_order", contiguous) })
                    {
                        var study = Study(typeTrain, foldOf, normal, anomalous, settings, backend);
                        Console.WriteLine($"  {machine.MachineType}'s model ({name}): {study.Text}");
                        record[name] = study.Record;
                    }
                    record["type_groups"] = typeTrain.Select(c => ClipName.Parse(c.Source).Group).ToList();
                }
                records.Add(record);
            }
        }
        if (jsonPath is not null) File.WriteAllText(jsonPath, JsonSerializer.Serialize(records));
    }

    static List<ClipFeatures> Features(IEnumerable<ClipName> clips, FeatureExtractor extractor, string? cache)
    {
        var skipped = new List<string>();
        var features = DetectorRunner.Extract(clips.Select(c => c.File).ToList(), extractor, cache, skipped);
        return skipped.Count == 0 ? features : throw new IOException(skipped[0]);
    }

    sealed record Result(string Text, double[]? OutOfFold, Dictionary<string, object?> Record);

    static Result Study(List<ClipFeatures> train, int[] foldOf, List<ClipFeatures> normal, List<ClipFeatures> anomalous, FitSettings settings, CpuBackend backend)
    {
        string head = $"{train.Count} training clips, {normal.Count} + {anomalous.Count} test clips";
        int folds = CrossFitting.FoldsFor(train.Count, settings.Folds);
        double[]? outOfFold = null;
        string foldNote = folds == 0 ? "too few clips to cross-fit" : $"{folds} folds";
        if (folds > 0)
        {
            try { outOfFold = CrossFitting.OutOfFoldScores(train, foldOf, folds, () => DetectorRunner.Create(settings, backend)); }
            catch (ArgumentException e) { foldNote = $"{folds} folds failed: {e.Message}"; }
        }
        var record = new Dictionary<string, object?> { ["train"] = train.Count, ["folds"] = folds, ["fold_of"] = foldOf, ["oof"] = outOfFold };
        var final = DetectorRunner.Create(settings, backend);
        try
        {
            try { final.Fit(train); }
            catch (ArgumentException e) { return new($"{head}; cannot fit: {e.Message}", outOfFold, record); }
            double[] inSample = [.. train.Select(final.Score)], normalScores = [.. normal.Select(final.Score)];
            double[] anomalousScores = [.. anomalous.Select(final.Score)];
            (record["in_sample"], record["normal"], record["anomalous"]) = (inSample, normalScores, anomalousScores);
            // As fit sets it: the out-of-fold scores of clips whose ID the fold model knew, the predictive gamma point
            double[] fitted = outOfFold is null ? inSample : [.. CrossFitting.KnownMachineClips(train, foldOf).Select(i => outOfFold[i])];
            var gamma = GammaThreshold.Predictive(fitted, settings.Percentile);
            double plugIn = GammaThreshold.Fit(fitted, settings.Percentile).Threshold;
            double empiricalPoint = Quantile(fitted, settings.Percentile);
            double worst = WorstFold(outOfFold, foldOf, folds, settings.Percentile);
            return new(string.Create(CultureInfo.InvariantCulture,
                $"{head}; {foldNote}\n  {(outOfFold is null ? "in-sample" : "out-of-fold")} scores {Quantiles(fitted)}; in-sample {Quantiles(inSample)}\n" +
                $"  gamma shape {gamma.Shape:G4} scale {gamma.Scale:G4} ({gamma.Method}) → threshold {gamma.Threshold:G5} ({fitted.Length} scores); plug-in gamma point {plugIn:G5} (false alarms {Count(normalScores, plugIn)}/{normal.Count}); empirical point {empiricalPoint:G5}\n" +
                $"  test normal {Quantiles(normalScores)}; anomalous {Quantiles(anomalousScores)}\n" +
                $"  false alarms {Count(normalScores, gamma.Threshold)}/{normal.Count} (empirical point {Count(normalScores, empiricalPoint)}), " +
                $"detections {Count(anomalousScores, gamma.Threshold)}/{anomalous.Count}; normal test clips above the out-of-fold maximum {Count(normalScores, fitted.Max())}\n" +
                $"  worst-fold rule (the highest of the held-out folds' own 0.9 points) {worst:G5}: " +
                $"false alarms {Count(normalScores, worst)}/{normal.Count}, detections {Count(anomalousScores, worst)}/{anomalous.Count}\n" +
                $"  held-out folds above the threshold: {FoldCounts(outOfFold, foldOf, folds, gamma.Threshold)}; the test normals' median is the {Rank(fitted, Quantile(normalScores, 0.5)):F3} point " +
                $"and their 0.75 point the {Rank(fitted, Quantile(normalScores, 0.75)):F3} point of the {(outOfFold is null ? "in-sample" : "out-of-fold")} scores"), outOfFold, record);
        }
        finally { (final as IDisposable)?.Dispose(); }
    }

    static int Count(double[] scores, double threshold) => scores.Count(s => s > threshold);

    static double[] Members(double[] outOfFold, int[] foldOf, int f) => [.. outOfFold.Where((_, i) => foldOf[i] == f)];

    /// <summary>"3/30, 0/30, …": clips of each held-out fold above the threshold.</summary>
    static string FoldCounts(double[]? outOfFold, int[] foldOf, int folds, double threshold) => outOfFold is null ? "none"
        : string.Join(", ", Enumerable.Range(0, folds).Select(f => Members(outOfFold, foldOf, f)).Select(m => $"{Count(m, threshold)}/{m.Length}"));

    /// <summary>The highest of the held-out folds' own <paramref name="q"/> points (NaN without folds): a threshold that holds on every held-out block.</summary>
    static double WorstFold(double[]? outOfFold, int[] foldOf, int folds, double q) => outOfFold is null ? double.NaN
        : Enumerable.Range(0, folds).Select(f => Members(outOfFold, foldOf, f)).Where(m => m.Length > 0).Max(m => Quantile(m, q));

    /// <summary>The fraction of <paramref name="scores"/> at or below <paramref name="value"/>.</summary>
    static double Rank(double[] scores, double value) => scores.Length == 0 || double.IsNaN(value) ? double.NaN : (double)scores.Count(s => s <= value) / scores.Length;

    static string Quantiles(double[] scores) => scores.Length == 0 ? "none" : string.Create(CultureInfo.InvariantCulture,
        $"{scores.Min():G4} / {Quantile(scores, 0.5):G4} / {Quantile(scores, 0.9):G4} / {scores.Max():G4}");

    static double Quantile(double[] values, double q) => GammaThreshold.EmpiricalQuantile(values, q);
}
