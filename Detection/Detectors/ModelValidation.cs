using System.Globalization;
using NativeASD.Weights;

namespace NativeASD.Detection.Detectors;

/// <summary>
/// What a model file must satisfy before anything is scored with it: every tensor finite; standard deviations and Cholesky
/// diagonals positive, variances not negative; a finite threshold at a percentile in (0, 1); sane counts. A file that fails is
/// damaged (bit rot, a hand edit, a hostile file): a <see cref="WeightFormatException"/> "PATH: damaged model: …" naming
/// the tensor or field, never a model that scores NaN or calls every clip normal.
/// </summary>
public static class ModelValidation
{
    public static void Check(string path, DetectorState state, DetectorModelInfo info)
    {
        foreach (var (name, (shape, data)) in state.Tensors)
        {
            int bad = Array.FindIndex(data, v => !float.IsFinite(v));
            if (bad >= 0) throw Damaged(path, $"tensor {name} [{string.Join(",", shape)}] holds {data[bad]} at index {bad}");
            // Standardisation deviations are clamped positive when fitted; a BatchNorm variance can decay to 0 but not below.
            int low = name.EndsWith(".std", StringComparison.Ordinal) ? Array.FindIndex(data, v => !(v > 0))
                : name.EndsWith("running_var", StringComparison.Ordinal) ? Array.FindIndex(data, v => v < 0) : -1;
            if (low >= 0) throw Damaged(path, $"tensor {name} holds {data[low]} at index {low}; a standard deviation or variance cannot be");
        }
        foreach (var (name, (shape, data)) in state.Float64)
        {
            int bad = Array.FindIndex(data, v => !double.IsFinite(v));
            if (bad >= 0) throw Damaged(path, $"tensor {name} [{string.Join(",", shape)}] holds {data[bad]} at index {bad}");
            if (name.EndsWith(".cholesky", StringComparison.Ordinal) && shape.Length == 2 && shape[0] == shape[1])
                for (int i = 0; i < shape[0]; i++)
                    if (!(data[(long)i * shape[0] + i] > 0))
                        throw Damaged(path, $"tensor {name} has {data[(long)i * shape[0] + i]} on its diagonal at {i}; a covariance factor must be positive there");
        }
        try { Features.FeatureConfiguration.Parse(info.Features ?? ""); }
        catch (InvalidDataException e) { throw Damaged(path, e.Message); }
        var t = info.Threshold ?? throw Damaged(path, "no threshold");
        if (!double.IsFinite(t.Threshold)) throw Damaged(path, $"threshold is {t.Threshold}");
        if (!(t.Percentile > 0 && t.Percentile < 1)) throw Damaged(path, $"threshold percentile {t.Percentile} is outside (0, 1)");
        if (t.Method is not (Thresholds.GammaThreshold.MleMethod or Thresholds.GammaThreshold.PredictiveMethod or Thresholds.GammaThreshold.EmpiricalMethod)) throw Damaged(path, $"unknown threshold method '{t.Method}'");
        if (info.TrainingClips < 1) throw Damaged(path, $"{info.TrainingClips} training clips");
        if (info.ThresholdSource is { } s && (s.Clips < 1 || s.Folds < 0 || s.Scores is < 1 || s.Scores > s.Clips || s.Source is not (Thresholds.ThresholdProvenance.CrossFit or Thresholds.ThresholdProvenance.Calibration or Thresholds.ThresholdProvenance.InSample)))
            throw Damaged(path, $"threshold source '{s.Source}' ({s.Clips} clips, {s.Folds} folds{(s.Scores is int n ? $", {n} scores" : "")})");
        if (info.TrainingSampleRate is int rate && (rate < 1 || rate > 10_000_000))
            throw Damaged(path, string.Create(CultureInfo.InvariantCulture, $"training sample rate {rate} Hz"));
    }

    public static WeightFormatException Damaged(string path, string problem, Exception? inner = null) => new(path, $"damaged model: {problem}", inner);
}
