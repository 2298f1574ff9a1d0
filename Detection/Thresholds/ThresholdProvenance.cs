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
/// <param name="MachineType">Set by <c>eval</c> for a machine ID whose own training clips are too few for its model to be
/// cross-fitted: the ID was scored by the model of its machine type (all its IDs' training clips), whose threshold this
/// is; null otherwise.</param>
/// <param name="Scores">Cross-fit on clips of several machine IDs: the out-of-fold scores fitted when fewer than
/// <paramref name="Clips"/> (the held-out clips of IDs with one clip, scored as unknown machines, are left out:
/// <c>CrossFitting.KnownMachineClips</c>); null when every clip's score was used.</param>
public sealed record ThresholdProvenance(string Source, int Clips, int Folds = 0, string? Folder = null, string? CalibratedUtc = null,
    string? MachineType = null, int? Scores = null)
{
    public const string CrossFit = "cross-fit", Calibration = "calibration", InSample = "in-sample";

    /// <summary>What models written before thresholds were calibrated used: their training clips' in-sample scores.</summary>
    public static ThresholdProvenance Legacy(int trainingClips) => new(InSample, trainingClips);

    /// <summary>"5-fold cross-fit on 40 training clips", "calibrated on 60 normal clips (line3/normal)", "in-sample scores of 2 training
    /// clips", "5-fold cross-fit on 7 training clips of the machine type's model (ToyCar, all IDs: this ID's own clips are too few to cross-fit)".</summary>
    public string Describe() => (Source switch
    {
        CrossFit => string.Create(CultureInfo.InvariantCulture, $"{Folds}-fold cross-fit on {Clips} training clips") +
            (Scores is int scores ? string.Create(CultureInfo.InvariantCulture, $" ({scores} scores: clips of single-clip IDs left out)") : ""),
        Calibration => string.Create(CultureInfo.InvariantCulture, $"calibrated on {Clips} normal clips{(Folder is null ? "" : $" ({Folder})")}"),
        _ => string.Create(CultureInfo.InvariantCulture, $"in-sample scores of {Clips} training clips"),
    }) + (MachineType is null ? "" : $" of the machine type's model ({MachineType}, all IDs: this ID's own clips are too few to cross-fit)");

    /// <summary>How results.csv names it: the source, with "/type" when the machine type's model stood in for the ID's.</summary>
    public string Column => MachineType is null ? Source : $"{Source}/type";
}
