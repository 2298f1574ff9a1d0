using System.Globalization;
using NativeASD.Detection.Features;
using NativeASD.Detection.Thresholds;
using NativeASD.Kernels;

namespace NativeASD.Detection.Detectors;

/// <summary>
/// Re-sets a model's decision threshold from normal clips it was not trained on (e.g. recorded after deployment):
/// the clips are scored, a gamma distribution is fitted to the scores and its <c>percentile</c> point becomes the
/// threshold; the model file is written again (atomically) with the threshold and where it came from. What
/// <c>nasd calibrate</c> and <c>nasd serve</c>'s calibrate endpoint do.
/// </summary>
public static class ModelCalibration
{
    /// <summary>The model's metadata before and after, and the clips used.</summary>
    public sealed record Result(DetectorModelInfo Before, DetectorModelInfo After, int Clips);

    /// <param name="folder">names the clips' origin in the model's threshold provenance.</param>
    /// <exception cref="ArgumentException">clips the model's features cannot take, or scores that cannot be fitted.</exception>
    public static Result Calibrate(string model, IReadOnlyList<string> files, double percentile, string output, IBackend backend, string folder,
        string? backboneOverride = null, string? cacheDirectory = null, IProgress<DetectorProgress>? progress = null, Action<string>? warn = null)
    {
        var (state, info) = DetectorFile.Read(model);
        var (detector, _) = DetectorFile.Load(model, backend);
        GammaThreshold threshold;
        List<ClipFeatures> clips;
        try
        {
            using var extractor = DetectorRunner.ExtractorFor(model, info, backend, backboneOverride);
            clips = DetectorRunner.CalibrationFeatures(files, extractor, cacheDirectory, progress, warn);
            threshold = DetectorRunner.ThresholdOf(clips, [.. clips.Select(detector.Score)], percentile);
        }
        finally { (detector as IDisposable)?.Dispose(); }
        var source = new ThresholdProvenance(ThresholdProvenance.Calibration, clips.Count, Folder: folder,
            CalibratedUtc: DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture));
        var calibrated = info with { Threshold = threshold, ThresholdSource = source };
        DetectorFile.Write(output, state, calibrated);
        return new Result(info, calibrated, clips.Count);
    }
}
