using System.Globalization;
using NativeASD.Detection.Evaluation;
using NativeASD.Detection.Features;

namespace NativeASD.Detection.Detectors;

/// <summary>Settings of the domain-aware detectors (knn, smahalanobis).</summary>
/// <param name="K">knn: neighbours averaged per domain (clamped to the domain's training clips).</param>
/// <param name="PoolDomains">Treat all training clips as one domain: the same detector without domain awareness.</param>
public sealed record DomainOptions(int K = 1, bool PoolDomains = false);

/// <summary>
/// The domain of a training clip, from its file name: <c>source</c> or <c>target</c> for DCASE 2021–2024 names, and
/// <c>source</c> for every other clip (so without domains these detectors are their plain versions). Detectors fitted
/// with <see cref="DomainOptions.PoolDomains"/> put every clip in one domain, <c>all</c>.
/// </summary>
public static class TrainingDomains
{
    public static List<(string Domain, List<ClipFeatures> Clips)> Split(IReadOnlyList<ClipFeatures> clips, bool pool) =>
        clips.GroupBy(c => pool ? "all" : ClipName.Parse(c.Source).Domain ?? "source")
            .OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => (g.Key, g.ToList())).ToList();
}

/// <summary>
/// k-nearest-neighbour distance with the domains kept apart, as the DCASE 2023 baseline's "selective" scoring: the clip
/// vectors (segments averaged) are standardised with the training clips' mean and deviation; per domain, the score is the
/// mean Euclidean distance to the k nearest training clips of that domain, and a clip's score is the minimum over the
/// domains. A target domain with a handful of clips thus gets its own neighbours instead of being outvoted by the source.
/// </summary>
public sealed class KnnDetector(DomainOptions options) : IAnomalyDetector
{
    float[] _mean = [], _std = [];
    (string Domain, float[] Vectors, int Count)[] _domains = [];

    public DomainOptions Options { get; } = options.K >= 1 ? options : throw new ArgumentException($"knn: k must be ≥ 1, got {options.K}");
    public string Kind => DetectorCatalog.Knn.Name;

    public string Fit(IReadOnlyList<ClipFeatures> normal, IProgress<DetectorProgress>? progress = null)
    {
        if (normal.Count == 0) throw new ArgumentException("knn: no training clips");
        foreach (var clip in normal) clip.Validate();
        int d = normal[0].Dimension;
        var bad = normal.FirstOrDefault(c => c.Dimension != d);
        if (bad is not null) throw new InvalidDataException($"{bad.Source}: {bad.Dimension} features, the first clip has {d}");
        var pooled = normal.ToDictionary(c => c, c => c.Pooled());
        (_mean, _std) = FeatureStandardisation.Fit(pooled.Values.SelectMany(v => v).ToArray(), d, s => s > 1e-8 ? (float)s : 1f);   // constant features unscaled
        _domains = TrainingDomains.Split(normal, Options.PoolDomains).Select(g =>
        {
            var vectors = new float[g.Clips.Count * d];
            for (int i = 0; i < g.Clips.Count; i++) Standardise(pooled[g.Clips[i]]).CopyTo(vectors, i * d);
            return (g.Domain, vectors, g.Clips.Count);
        }).ToArray();
        progress?.Report(new DetectorProgress("neighbours", 1, 1));
        return $"{normal.Count} clips, k {Options.K}, domains {string.Join(", ", _domains.Select(x => $"{x.Domain} {x.Count}"))}";
    }

    public double Score(ClipFeatures clip)
    {
        if (_domains.Length == 0) throw new InvalidOperationException("knn: Score before Fit or Load");
        clip.Validate();
        if (clip.Dimension != _mean.Length) throw new InvalidDataException($"{clip.Source}: {clip.Dimension} features, the model {_mean.Length}");
        var x = Standardise(clip.Pooled());
        double best = double.PositiveInfinity;
        foreach (var (_, vectors, count) in _domains) best = Math.Min(best, MeanOfNearest(x, vectors, count, Math.Min(Options.K, count)));
        return best;
    }

    static double MeanOfNearest(float[] x, float[] vectors, int count, int k)
    {
        int d = x.Length;
        var distances = new double[count];
        for (int i = 0; i < count; i++)
        {
            double sum = 0;
            for (int j = 0; j < d; j++) { double t = x[j] - vectors[i * d + j]; sum += t * t; }
            distances[i] = Math.Sqrt(sum);
        }
        Array.Sort(distances);
        return distances.Take(k).Average();
    }

    float[] Standardise(float[] v)
    {
        var r = (float[])v.Clone();
        FeatureStandardisation.Apply(r, _mean, _std);
        return r;
    }

    public DetectorState Save()
    {
        var state = new DetectorState();
        state.Metadata["k"] = Options.K.ToString(CultureInfo.InvariantCulture);
        state.Metadata["pool_domains"] = Options.PoolDomains ? "1" : "0";
        state.Metadata["domains"] = string.Join(",", _domains.Select(x => x.Domain));
        state.Tensors["mean"] = ([_mean.Length], _mean);
        state.Tensors["std"] = ([_std.Length], _std);
        foreach (var (domain, vectors, count) in _domains) state.Tensors[$"domain.{domain}"] = ([count, _mean.Length], vectors);
        return state;
    }

    public static KnnDetector Load(DetectorState state)
    {
        var detector = new KnnDetector(new DomainOptions(int.Parse(state.Meta("k"), CultureInfo.InvariantCulture), state.Meta("pool_domains") == "1"));
        detector._mean = state.Tensor("mean").Data;
        detector._std = state.Tensor("std").Data;
        if (detector._std.Length != detector._mean.Length) throw new InvalidDataException($"knn: mean has {detector._mean.Length} entries, std {detector._std.Length}");
        detector._domains = state.Meta("domains").Split(',').Select(domain =>
        {
            var (shape, data) = state.Tensor($"domain.{domain}");
            if (shape.Length != 2 || shape[1] != detector._mean.Length || shape[0] < 1)
                throw new InvalidDataException($"knn: domain {domain} has shape [{string.Join(",", shape)}], expected [n, {detector._mean.Length}]");
            return (domain, data, shape[0]);
        }).ToArray();
        return detector;
    }
}

/// <summary>
/// Mahalanobis distance with per-domain statistics, scored selectively (the DCASE 2023 baseline's idea): each training
/// domain (source, target) gets its own mean; the covariance (Ledoit–Wolf, per tap level) is estimated once from all
/// training clips after removing their domain's mean, because a handful of target clips can place a mean but not a
/// covariance; a clip's score is the minimum over the domains of Σ over levels √((x − μ_domain)ᵀ Σ⁻¹ (x − μ_domain)).
/// With <see cref="DomainOptions.PoolDomains"/> there is one domain and it equals the plain mahalanobis detector.
/// </summary>
public sealed class SelectiveMahalanobisDetector(DomainOptions options) : IAnomalyDetector
{
    /// <summary>Normal training clips the shared covariance needs (as <see cref="MahalanobisDetector"/>'s).</summary>
    public const int MinClips = MahalanobisDetector.MinimumClips;

    int[] _levelSizes = [];
    LedoitWolfGaussian[] _levels = [];                      // fitted on domain-centred vectors (mean ≈ 0)
    (string Domain, float[] Mean)[] _domains = [];

    public DomainOptions Options { get; } = options;
    public string Kind => DetectorCatalog.SelectiveMahalanobis.Name;

    public string Fit(IReadOnlyList<ClipFeatures> normal, IProgress<DetectorProgress>? progress = null)
    {
        // Two clips give a rank-one covariance that Ledoit–Wolf leaves unshrunk (singular); three are the least that work.
        if (normal.Count < MinClips) throw new ArgumentException($"smahalanobis: needs at least {MinClips} normal training clips to estimate a covariance, got {normal.Count} (use --detector knn)");
        _levelSizes = normal[0].Levels;
        foreach (var clip in normal)
        {
            clip.Validate();
            if (!clip.Levels.SequenceEqual(_levelSizes))
                throw new InvalidDataException($"{clip.Source}: tap levels [{string.Join(",", clip.Levels)}] differ from the first clip's [{string.Join(",", _levelSizes)}]");
        }
        int d = normal[0].Dimension;
        var groups = TrainingDomains.Split(normal, Options.PoolDomains);
        _domains = groups.Select(g => (g.Domain, MeanOf(g.Clips.Select(c => c.Pooled()).ToList(), d))).ToArray();
        var centred = new List<float[]>();
        foreach (var (g, (_, mean)) in groups.Zip(_domains))
            foreach (var clip in g.Clips) centred.Add(Minus(clip.Pooled(), mean));
        _levels = new LedoitWolfGaussian[_levelSizes.Length];
        int start = 0;
        for (int l = 0; l < _levelSizes.Length; l++)
        {
            int size = _levelSizes[l];
            var x = new float[centred.Count * size];
            for (int i = 0; i < centred.Count; i++) centred[i].AsSpan(start, size).CopyTo(x.AsSpan(i * size, size));
            _levels[l] = LedoitWolfGaussian.Fit(x, centred.Count, size);
            progress?.Report(new DetectorProgress("covariance", l + 1, _levelSizes.Length));
            start += size;
        }
        return $"{normal.Count} clips, domains {string.Join(", ", groups.Select(g => $"{g.Domain} {g.Clips.Count}"))}";
    }

    public double Score(ClipFeatures clip)
    {
        if (_levels.Length == 0) throw new InvalidOperationException("smahalanobis: Score before Fit or Load");
        clip.Validate();
        if (!clip.Levels.SequenceEqual(_levelSizes))
            throw new InvalidDataException($"{clip.Source}: tap levels [{string.Join(",", clip.Levels)}] differ from the model's [{string.Join(",", _levelSizes)}]");
        var x = clip.Pooled();
        double best = double.PositiveInfinity;
        foreach (var (_, mean) in _domains)
        {
            var centred = Minus(x, mean);
            double score = 0;
            int start = 0;
            for (int l = 0; l < _levels.Length; l++)
            {
                score += _levels[l].Distance(centred.AsSpan(start, _levelSizes[l]));
                start += _levelSizes[l];
            }
            best = Math.Min(best, score);
        }
        return best;
    }

    static float[] MeanOf(List<float[]> vectors, int d)
    {
        var sum = new double[d];
        foreach (var v in vectors) for (int j = 0; j < d; j++) sum[j] += v[j];
        return [.. sum.Select(s => (float)(s / vectors.Count))];
    }

    static float[] Minus(float[] a, float[] b)
    {
        var r = new float[a.Length];
        for (int j = 0; j < a.Length; j++) r[j] = a[j] - b[j];
        return r;
    }

    public DetectorState Save()
    {
        var state = new DetectorState();
        state.Metadata["pool_domains"] = Options.PoolDomains ? "1" : "0";
        state.Metadata["levels"] = string.Join(",", _levelSizes);
        state.Metadata["domains"] = string.Join(",", _domains.Select(x => x.Domain));
        foreach (var (domain, mean) in _domains) state.Tensors[$"domain.{domain}.mean"] = ([mean.Length], mean);
        for (int l = 0; l < _levels.Length; l++)
        {
            var g = _levels[l];
            state.Float64[$"level{l}.mean"] = ([g.Dimension], g.Mean);
            state.Float64[$"level{l}.cholesky"] = ([g.Dimension, g.Dimension], g.Cholesky);
            state.Metadata[$"level{l}.shrinkage"] = g.Shrinkage.ToString("R", CultureInfo.InvariantCulture);
        }
        return state;
    }

    public static SelectiveMahalanobisDetector Load(DetectorState state)
    {
        var detector = new SelectiveMahalanobisDetector(new DomainOptions(PoolDomains: state.Meta("pool_domains") == "1"))
        {
            _levelSizes = state.Meta("levels").Split(',').Select(t => int.Parse(t, CultureInfo.InvariantCulture)).ToArray(),
        };
        int d = detector._levelSizes.Sum();
        detector._domains = state.Meta("domains").Split(',').Select(domain =>
        {
            var mean = state.Tensor($"domain.{domain}.mean").Data;
            return mean.Length == d ? (domain, mean) : throw new InvalidDataException($"smahalanobis: domain {domain} mean has {mean.Length} entries, expected {d}");
        }).ToArray();
        detector._levels = new LedoitWolfGaussian[detector._levelSizes.Length];
        for (int l = 0; l < detector._levels.Length; l++)
        {
            double shrinkage = double.Parse(state.Meta($"level{l}.shrinkage"), CultureInfo.InvariantCulture);
            var mean = state.Tensor64($"level{l}.mean").Data;
            if (mean.Length != detector._levelSizes[l])
                throw new InvalidDataException($"smahalanobis: level {l} mean has {mean.Length} entries, expected {detector._levelSizes[l]}");
            detector._levels[l] = new LedoitWolfGaussian(mean, shrinkage, state.Tensor64($"level{l}.cholesky").Data);
        }
        return detector;
    }
}
