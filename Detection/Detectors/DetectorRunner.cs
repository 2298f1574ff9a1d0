using System.Reflection;
using NativeASD.Engine.Audio;
using NativeASD.Detection.Features;
using NativeASD.Detection.Evaluation;
using NativeASD.Detection.Thresholds;
using NativeASD.Engine.Architectures;
using NativeASD.Detection.Backbones;
using NativeASD.Kernels;
using NativeASD.Weights;

namespace NativeASD.Detection.Detectors;

/// <summary>What to train: detector kind and settings, features, threshold percentile, cache.</summary>
/// <param name="Init">ae only: a pretrained dcase-ae weight file (e.g. a converted ad01) the network starts from.</param>
/// <param name="Int8Activations">A backbone from an int8 file emulates int8 activations (false: float).</param>
/// <param name="Folds">k of the cross-fitting that sets the threshold (<see cref="CrossFitting"/>); 1 = the training clips' in-sample scores.</param>
/// <param name="Calibration">Normal clips (files or folders) whose scores set the threshold instead of cross-fitting.</param>
/// <param name="Domains">knn and smahalanobis: neighbours and whether the training domains are pooled.</param>
/// <param name="Negatives">metric only: clips (files or folders) of other machines the head learns to push from its centre.</param>
/// <param name="Batch">clips of one length per network call when extracting features (<see cref="FeaturePipeline"/>).</param>
public sealed record FitSettings(
    string Detector = DetectorCatalog.DefaultName, ulong Seed = 0, double Percentile = 0.9, string? CacheDirectory = null,
    ChannelMix Channel = default, MetricOptions? Metric = null, AutoencoderOptions? Autoencoder = null, VaeOptions? Vae = null,
    string? Backbone = null, IReadOnlyList<string>? Taps = null, string? Init = null, bool Int8Activations = true,
    int Folds = CrossFitting.DefaultFolds, IReadOnlyList<string>? Calibration = null, DomainOptions? Domains = null,
    IReadOnlyList<string>? Negatives = null, int Batch = 1);

/// <summary>One scored clip.</summary>
public sealed record ClipScore(string File, double Score, bool Anomalous);

/// <summary>
/// Fit and score end to end: clip files → features (cached) → detector → model file with threshold; and model file →
/// scores and decisions. Used by <c>nasd fit</c>, <c>nasd score</c> and <c>nasd eval</c>.
/// </summary>
public static class DetectorRunner
{
    public static string EngineVersion => typeof(DetectorRunner).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";

    /// <summary>The .wav files of each input (a file, or a folder's *.wav, sorted), de-duplicated in order.</summary>
    public static IReadOnlyList<string> CollectWavs(IEnumerable<string> inputs)
    {
        var files = new List<string>();
        foreach (string input in inputs)
        {
            if (Directory.Exists(input))
            {
                var found = Directory.GetFiles(input).Where(f => f.EndsWith(".wav", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal).ToList();
                if (found.Count == 0) throw new IOException($"{input}: folder has no .wav files");
                files.AddRange(found);
            }
            else if (File.Exists(input)) files.Add(input);
            else throw new FileNotFoundException($"{input}: no such file or folder", input);
        }
        return files.Distinct().ToList();
    }

    /// <summary>
    /// Features of each file; unreadable clips are skipped and reported in <paramref name="skipped"/> (file: reason). The
    /// cache never costs a clip: when it cannot be written, <paramref name="warn"/> hears it once and the run goes on uncached.
    /// </summary>
    public static List<ClipFeatures> Extract(IReadOnlyList<string> files, FeatureExtractor extractor, string? cacheDirectory,
        List<string> skipped, IProgress<DetectorProgress>? progress = null, Action<string>? warn = null, int batch = 1)
    {
        var cache = cacheDirectory is null ? null : new FeatureCache(cacheDirectory);
        var slots = FeaturePipeline.Run(files, extractor, cache, batch, done => progress?.Report(new DetectorProgress("features", done, files.Count)));
        var result = new List<ClipFeatures>();
        for (int i = 0; i < files.Count; i++)
        {
            if (slots[i].Features is ClipFeatures f) result.Add(f);
            else if (slots[i].Problem is Exception e)
                skipped.Add(e.Message.StartsWith(files[i], StringComparison.Ordinal) ? e.Message : $"{files[i]}: {e.Message}");
        }
        if (cache?.WriteFailure is string failure) warn?.Invoke($"feature cache not written ({failure}); went on without it");
        return result;
    }

    /// <summary>A detector ready to train (see <see cref="DetectorCatalog.Create"/>).</summary>
    public static IAnomalyDetector Create(FitSettings s, IBackend? backend) => DetectorCatalog.Create(s, backend);

    /// <summary><paramref name="detector"/>, set to also see <paramref name="negatives"/> when training (metric only; empty: none).</summary>
    static IAnomalyDetector WithNegatives(IAnomalyDetector detector, IReadOnlyList<ClipFeatures> negatives)
    {
        if (detector is MetricDetector metric) metric.Negatives = negatives;
        return detector;
    }

    /// <summary>Features of <see cref="FitSettings.Negatives"/>: every clip must be read, none may be named anomalous
    /// (they stand for other machines running normally); empty when none are given.</summary>
    static List<ClipFeatures> NegativeFeatures(FitSettings settings, FeatureExtractor extractor, IProgress<DetectorProgress>? progress, Action<string>? warn)
    {
        if (settings.Negatives is not { } inputs) return [];
        if (settings.Detector != DetectorCatalog.Metric.Name) throw new ArgumentException($"--negatives applies to --detector {DetectorCatalog.Metric.Name}, not {settings.Detector}");
        var files = CollectWavs(inputs);
        var anomalous = files.FirstOrDefault(f => ClipName.Parse(f).Anomalous == true);
        if (anomalous is not null) throw new IOException($"{anomalous}: named as an anomalous clip; negatives are other machines' normal clips");
        var skipped = new List<string>();
        var clips = Extract(files, extractor, settings.CacheDirectory, skipped, progress, warn, settings.Batch);
        if (skipped.Count > 0) throw new IOException($"{skipped.Count} of {files.Count} negative clips could not be read; first: {skipped[0]}");
        return clips;
    }

    /// <summary>Trains on normal clips and writes the model file atomically. Files labelled anomalous by name are refused.</summary>
    /// <remarks>The threshold comes from scores the final model was not trained on: out-of-fold scores of the training
    /// clips (<see cref="CrossFitting"/>), or the scores of <see cref="FitSettings.Calibration"/> clips; see <see cref="ThresholdProvenance"/>.</remarks>
    public static (DetectorModelInfo Info, List<string> Skipped) Fit(IReadOnlyList<string> trainFiles, string modelPath, FitSettings settings,
        IBackend? backend = null, IProgress<DetectorProgress>? progress = null, Action<string>? warn = null)
    {
        var anomalous = trainFiles.FirstOrDefault(f => ClipName.Parse(f).Anomalous == true);
        if (anomalous is not null) throw new IOException($"{anomalous}: named as an anomalous clip; training uses normal clips only");
        if (trainFiles.Count == 0) throw new IOException("no training clips");
        using var extractor = ExtractorFor(settings, backend);
        var backbone = extractor as BackboneExtractor;
        var detector = Create(settings, backend);   // before the features: a bad --init file fails at once
        try
        {
            var negatives = NegativeFeatures(settings, extractor, progress, warn);
            WithNegatives(detector, negatives);
            var skipped = new List<string>();
            var features = Extract(trainFiles, extractor, settings.CacheDirectory, skipped, progress, warn, settings.Batch);
            if (features.Count == 0)
                throw new IOException($"none of the {trainFiles.Count} training clips could be read; first problem: {skipped.FirstOrDefault()}");
            string summary = detector.Fit(features, progress);
            var (threshold, source) = SetThreshold(features, negatives, detector, extractor, settings, backend, progress, warn);
            var info = new DetectorModelInfo(detector.Kind, extractor.Configuration, backbone is null ? null : Path.GetFullPath(backbone.WeightsPath),
                backbone?.Sha256, backbone is null ? null : string.Join(",", backbone.Taps), threshold, features.Count, summary,
                EngineVersion, DateTime.UtcNow.ToString("O"), CommonRate(features.Select(f => f.Source)), source);
            DetectorFile.Save(modelPath, detector, info);
            return (info, skipped);
        }
        finally { (detector as IDisposable)?.Dispose(); }
    }

    /// <summary>The fitted detector's threshold: from calibration clips when given, else from out-of-fold scores, else (too few clips) in-sample.</summary>
    static (GammaThreshold, ThresholdProvenance) SetThreshold(List<ClipFeatures> features, List<ClipFeatures> negatives, IAnomalyDetector detector, FeatureExtractor extractor,
        FitSettings settings, IBackend? backend, IProgress<DetectorProgress>? progress, Action<string>? warn)
    {
        if (settings.Calibration is { } inputs)
        {
            var clips = CalibrationFeatures(CollectWavs(inputs), extractor, settings.CacheDirectory, progress, warn, settings.Batch);
            return (ThresholdOf(clips, clips.Select(detector.Score).ToArray(), settings.Percentile),
                new ThresholdProvenance(ThresholdProvenance.Calibration, clips.Count, Folder: inputs[0]));
        }
        int folds = CrossFitting.FoldsFor(features.Count, settings.Folds);
        string? crossFitFailure = folds == 0 && settings.Folds >= 2 ? $"{features.Count} training clip is too few to cross-fit" : null;
        double[]? outOfFold = null;
        int[] foldOf = folds > 0 ? CrossFitting.Assign(features, folds) : [];
        if (folds > 0)
        {
            // A fold model cannot be fitted on its share (e.g. a covariance from 2 clips): the training scores are all there is.
            try { outOfFold = CrossFitting.OutOfFoldScores(features, foldOf, folds, () => WithNegatives(Create(settings, backend), negatives), progress); }
            catch (ArgumentException e) { crossFitFailure = $"{folds}-fold cross-fitting failed: {e.Message}"; }
        }
        if (outOfFold is null)
        {
            if (crossFitFailure is not null)
                warn?.Invoke($"threshold from the training clips' own scores, which sit below unseen normal clips' (it will flag most of them): {crossFitFailure}; " +
                    "set it from normal clips the model has not seen with 'nasd calibrate --model MODEL NORMAL…' or 'fit --calibrate DIR'");
            return (ThresholdOf(features, features.Select(detector.Score).ToArray(), settings.Percentile),
                new ThresholdProvenance(ThresholdProvenance.InSample, features.Count));
        }
        int[] known = CrossFitting.KnownMachineClips(features, foldOf);
        double[] scores = [.. known.Select(i => outOfFold[i])];
        var threshold = ThresholdOf([.. known.Select(i => features[i])], scores, settings.Percentile);
        if (CrossFitting.DisagreeingFolds(scores, [.. known.Select(i => foldOf[i])], folds, threshold.Threshold, settings.Percentile) is string disagreement)
            warn?.Invoke(disagreement);
        return (threshold, new ThresholdProvenance(ThresholdProvenance.CrossFit, features.Count, folds, Scores: known.Length < features.Count ? known.Length : null));
    }

    /// <summary>Features of normal clips that set a threshold: every clip must be read (a threshold is not set from a silently smaller set).</summary>
    public static List<ClipFeatures> CalibrationFeatures(IReadOnlyList<string> files, FeatureExtractor extractor, string? cacheDirectory,
        IProgress<DetectorProgress>? progress, Action<string>? warn, int batch = 1)
    {
        var anomalous = files.FirstOrDefault(f => ClipName.Parse(f).Anomalous == true);
        if (anomalous is not null) throw new IOException($"{anomalous}: named as an anomalous clip; a threshold is calibrated on normal clips only");
        var skipped = new List<string>();
        var clips = Extract(files, extractor, cacheDirectory, skipped, progress, warn, batch);
        if (skipped.Count > 0) throw new IOException($"{skipped.Count} of {files.Count} calibration clips could not be read; first: {skipped[0]}");
        return clips;
    }

    /// <summary>The threshold of <paramref name="scores"/> (<see cref="GammaThreshold.Predictive"/>); a non-finite score (a diverged or damaged model) is named.</summary>
    public static GammaThreshold ThresholdOf(IReadOnlyList<ClipFeatures> clips, double[] scores, double percentile)
    {
        int bad = Array.FindIndex(scores, s => !double.IsFinite(s));
        if (bad >= 0)
            throw new InvalidDataException($"{clips[bad].Source}: scored {scores[bad]} by the model; training diverged or the model is damaged (lower --lr)");
        return GammaThreshold.Predictive(scores, percentile);
    }

    /// <summary>
    /// The features to train with: the detector's log-mel features, or the backbone's taps. Both run on
    /// <paramref name="backend"/> (its threads; the backbone's frontend also on its device).
    /// </summary>
    public static FeatureExtractor ExtractorFor(FitSettings settings, IBackend? backend) => settings.Backbone is null
        ? FeatureExtractors.OnBackend(DetectorCatalog.Get(settings.Detector).LogMelFeatures(settings.Channel, backend?.Threads ?? 0), backend)
        : new BackboneExtractor(settings.Backbone, settings.Taps ?? throw new ArgumentException("a backbone needs --tap"), settings.Channel, backend,
            int8Activations: settings.Int8Activations);

    /// <summary>Scores files with a model file; unreadable clips are reported in skipped and not scored.</summary>
    /// <param name="backbone">Backbone weights to use instead of the path stored in the model (it must have the stored SHA-256).</param>
    public static (List<ClipScore> Scores, DetectorModelInfo Info, List<string> Skipped) Score(string modelPath, IReadOnlyList<string> files,
        string? cacheDirectory = null, IBackend? backend = null, IProgress<DetectorProgress>? progress = null, string? backbone = null,
        Action<string>? warn = null, int batch = 1)
    {
        var (detector, info) = DetectorFile.Load(modelPath, backend);
        try
        {
            using var extractor = ExtractorFor(modelPath, info, backend, backbone);
            var skipped = new List<string>();
            var features = Extract(files, extractor, cacheDirectory, skipped, progress, warn, batch);
            var scores = features.Select(f => { double s = detector.Score(f); return new ClipScore(f.Source, s, s > info.Threshold.Threshold); }).ToList();
            if (scores.FirstOrDefault(s => !double.IsFinite(s.Score)) is ClipScore bad)
                throw new InvalidDataException($"{modelPath}: scored {bad.File} as {bad.Score}; the model is damaged (re-fit it)");
            return (scores, info, skipped);
        }
        finally { (detector as IDisposable)?.Dispose(); }
    }

    /// <summary>The sample rate all the files share, or null when they differ or one cannot be read.</summary>
    static int? CommonRate(IEnumerable<string> files)
    {
        var rates = new HashSet<int>();
        foreach (var f in files)
        {
            try { rates.Add(AudioFile.Probe(f).SampleRate); }
            catch (Exception e) when (e is IOException or ArgumentException) { return null; }
        }
        return rates.Count == 1 ? rates.First() : null;
    }

    /// <summary>
    /// One line per sample rate among <paramref name="files"/> that differs from the training clips' rate: such clips are
    /// resampled to the frontend's rate like the training clips were, but a different recording chain can shift scores.
    /// </summary>
    public static List<string> RateNotes(DetectorModelInfo info, IEnumerable<string> files)
    {
        if (info.TrainingSampleRate is not int trained) return [];
        var byRate = new Dictionary<int, List<string>>();
        foreach (var f in files)
        {
            int rate;
            try { rate = AudioFile.Probe(f).SampleRate; }
            catch (Exception e) when (e is IOException or ArgumentException) { continue; }
            if (rate == trained) continue;
            if (!byRate.TryGetValue(rate, out var list)) byRate[rate] = list = [];
            list.Add(f);
        }
        return byRate.Select(kv => $"{kv.Value.Count} clip(s) at {kv.Key} Hz (e.g. {kv.Value[0]}), the model was trained on {trained} Hz: resampled for its frontend").ToList();
    }

    /// <summary>The model's feature extractor; a backbone must be the very file the model was trained with (by SHA-256).</summary>
    public static FeatureExtractor ExtractorFor(string modelPath, DetectorModelInfo info, IBackend? backend, string? backboneOverride = null)
    {
        if (info.BackboneSha256 is null) return FeatureExtractors.FromConfiguration(info.Features, backend?.Threads ?? 0, backend);
        string path = backboneOverride ?? info.BackboneFile ?? throw new WeightFormatException(modelPath, "model names a backbone hash but no backbone file");
        if (!File.Exists(path))
            throw new FileNotFoundException($"{modelPath}: needs backbone {path} (SHA-256 {info.BackboneSha256}), which does not exist; pass its current location with --backbone", path);
        var features = FeatureConfiguration.Parse(info.Features);
        // Features as at training: int8 activation emulation when the configuration says so, float otherwise.
        return BackboneExtractor.Expecting(path, info.BackboneSha256,
            sha => new IOException($"{modelPath}: was trained with backbone {info.BackboneFile} (SHA-256 {info.BackboneSha256}); {path} has SHA-256 {sha}"),
            (info.Taps ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries), features.Mix, backend, features.Int8Activations);
    }
}
