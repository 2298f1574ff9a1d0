using System.Globalization;

namespace NativeASD.Detection.Thresholds;

/// <summary>
/// How a model's decision threshold was obtained; the model file records it, and <c>score --json</c>, <c>eval</c> and
/// the report show it.
/// </summary>
/// <param name="Source"><see cref="CrossFit"/> (out-of-fold scores of the training clips), <see cref="Calibration"/>
/// (scores of separate normal clips: <c>fit --calibrate</c> or <c>nasd calibrate</c>) or <see cref="InSample"/> (the
/// training clips' own scores: too few clips to cross-fit).</param>
/// <param name="Clips">Scores the gamma distribution was fitted to.</param>
/// <param name="Folds">k of the cross-fitting; 0 otherwise.</param>
/// <param name="Folder">The calibration clips' folder or first file; null otherwise.</param>
/// <param name="CalibratedUtc">When <c>nasd calibrate</c> re-set the threshold (ISO 8601); null when fit set it.</param>
public sealed record ThresholdProvenance(string Source, int Clips, int Folds = 0, string? Folder = null, string? CalibratedUtc = null)
{
    public const string CrossFit = "cross-fit", Calibration = "calibration", InSample = "in-sample";

    /// <summary>What models written before thresholds were calibrated used: their training clips' in-sample scores.</summary>
    public static ThresholdProvenance Legacy(int trainingClips) => new(InSample, trainingClips);

    /// <summary>"5-fold cross-fit on 40 training clips", "calibrated on 60 normal clips (line3/normal)", "in-sample scores of 2 training clips".</summary>
    public string Describe() => Source switch
    {
        CrossFit => string.Create(CultureInfo.InvariantCulture, $"{Folds}-fold cross-fit on {Clips} training clips"),
        Calibration => string.Create(CultureInfo.InvariantCulture, $"calibrated on {Clips} normal clips{(Folder is null ? "" : $" ({Folder})")}"),
        _ => string.Create(CultureInfo.InvariantCulture, $"in-sample scores of {Clips} training clips"),
    };
}
