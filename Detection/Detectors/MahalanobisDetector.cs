using NativeASD.Detection.Features;
namespace NativeASD.Detection.Detectors;

/// <summary>
/// Rippel et al. (2020) on pretrained features: per tap level, the clip vector (segments averaged) is modelled by a
/// Gaussian with Ledoit–Wolf shrunk covariance fitted on normal clips; score = Σ over levels of the Mahalanobis
/// distance √((x−μ)ᵀΣ⁻¹(x−μ)). Needs at least 3 training clips: from 2 clips the centred rows are ±v, the Ledoit–Wolf
/// estimate of the covariance's own variance is exactly 0, so the shrinkage is 0 and the covariance vvᵀ is singular.
/// </summary>
public sealed class MahalanobisDetector : IAnomalyDetector
{
    LedoitWolfGaussian[] _levels = [];
    int[] _levelSizes = [];

    public string Kind => DetectorCatalog.Mahalanobis.Name;

    /// <summary>Fewest training clips a positive-definite Ledoit–Wolf covariance comes from (see the class summary).</summary>
    public const int MinimumClips = 3;

    public string Fit(IReadOnlyList<ClipFeatures> normal, IProgress<DetectorProgress>? progress = null)
    {
        if (normal.Count == 0) throw new ArgumentException("mahalanobis: no training clips");
        _levelSizes = normal[0].Levels;
        foreach (var clip in normal)
        {
            clip.Validate();
            if (!clip.Levels.SequenceEqual(_levelSizes))
                throw new InvalidDataException($"{clip.Source}: tap levels [{string.Join(",", clip.Levels)}] differ from the first clip's [{string.Join(",", _levelSizes)}]");
        }
        if (normal.Count < MinimumClips)
            throw new ArgumentException($"mahalanobis: needs at least {MinimumClips} normal training clips to estimate a covariance " +
                $"(from 2 the Ledoit–Wolf shrinkage is 0 and the covariance singular), got {normal.Count} ({string.Join(", ", normal.Select(c => Path.GetFileName(c.Source)))}); " +
                "record more normal clips, or use --detector knn");
        var pooled = normal.Select(c => c.Pooled()).ToList();
        _levels = new LedoitWolfGaussian[_levelSizes.Length];
        int start = 0;
        for (int l = 0; l < _levelSizes.Length; l++)
        {
            int d = _levelSizes[l];
            var x = new float[pooled.Count * d];
            for (int i = 0; i < pooled.Count; i++) pooled[i].AsSpan(start, d).CopyTo(x.AsSpan(i * d, d));
            try { _levels[l] = LedoitWolfGaussian.Fit(x, pooled.Count, d); }
            catch (ArgumentException e) when (e.Message.Contains("not positive definite", StringComparison.Ordinal))
            {
                throw new ArgumentException($"mahalanobis: {Degenerate(normal, pooled, start, d)}", e);
            }
            progress?.Report(new DetectorProgress("covariance", l + 1, _levelSizes.Length));
            start += d;
        }
        return $"{normal.Count} clips, {_levelSizes.Length} level(s), shrinkage {string.Join(", ", _levels.Select(g => g.Shrinkage.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)))}";
    }

    /// <summary>Names the clips behind a covariance without spread: groups of clips whose features (of one level) are identical.</summary>
    static string Degenerate(IReadOnlyList<ClipFeatures> normal, List<float[]> pooled, int start, int d)
    {
        var groups = Enumerable.Range(0, normal.Count)
            .GroupBy(i => Convert.ToHexString(System.Runtime.InteropServices.MemoryMarshal.AsBytes(pooled[i].AsSpan(start, d))))
            .Select(g => g.Select(i => Path.GetFileName(normal[i].Source)).ToList()).OrderByDescending(g => g.Count).ToList();
        string Names(List<string> g) => string.Join(", ", g.Take(5)) + (g.Count > 5 ? $" and {g.Count - 5} more" : "");
        return groups.Count == 1
            ? $"the {normal.Count} training clips are silent or identical (their features are all the same: {Names(groups[0])}); train on recordings of the running machine"
            : groups.Any(g => g.Count > 1)
                ? $"the training features have no spread: {groups.Count} distinct among {normal.Count} clips; identical (silent or copied) clips: {string.Join("; ", groups.Where(g => g.Count > 1).Select(Names))}; train on more varied recordings"
                : $"{normal.Count} training clips are too few for a covariance of {d} features; train on more clips";
    }

    public double Score(ClipFeatures clip)
    {
        if (_levels.Length == 0) throw new InvalidOperationException("mahalanobis: Score before Fit or Load");
        clip.Validate();
        if (!clip.Levels.SequenceEqual(_levelSizes))
            throw new InvalidDataException($"{clip.Source}: tap levels [{string.Join(",", clip.Levels)}] differ from the model's [{string.Join(",", _levelSizes)}]");
        var x = clip.Pooled();
        double score = 0;
        int start = 0;
        for (int l = 0; l < _levels.Length; l++)
        {
            score += _levels[l].Distance(x.AsSpan(start, _levelSizes[l]));
            start += _levelSizes[l];
        }
        return score;
    }

    public DetectorState Save()
    {
        var state = new DetectorState();
        state.Metadata["levels"] = string.Join(",", _levelSizes);
        for (int l = 0; l < _levels.Length; l++)
        {
            var g = _levels[l];
            state.Float64[$"level{l}.mean"] = ([g.Dimension], g.Mean);
            state.Float64[$"level{l}.cholesky"] = ([g.Dimension, g.Dimension], g.Cholesky);
            state.Metadata[$"level{l}.shrinkage"] = g.Shrinkage.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        }
        return state;
    }

    public static MahalanobisDetector Load(DetectorState state)
    {
        var detector = new MahalanobisDetector
        {
            _levelSizes = state.Meta("levels").Split(',').Select(int.Parse).ToArray(),
        };
        detector._levels = new LedoitWolfGaussian[detector._levelSizes.Length];
        for (int l = 0; l < detector._levels.Length; l++)
        {
            double shrinkage = double.Parse(state.Meta($"level{l}.shrinkage"), System.Globalization.CultureInfo.InvariantCulture);
            var mean = state.Tensor64($"level{l}.mean").Data;
            var chol = state.Tensor64($"level{l}.cholesky").Data;
            if (mean.Length != detector._levelSizes[l])
                throw new InvalidDataException($"mahalanobis: level {l} mean has {mean.Length} entries, expected {detector._levelSizes[l]}");
            detector._levels[l] = new LedoitWolfGaussian(mean, shrinkage, chol);
        }
        return detector;
    }
}
