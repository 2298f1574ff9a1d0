using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using NativeASD.Detection.Features;
using NativeASD.Detection.Thresholds;
using NativeASD.Weights.Safetensors;
using NativeASD.Weights;
using NativeASD.Engine.IO;

namespace NativeASD.Detection.Detectors;

/// <summary>Everything a model file says besides the detector's own tensors.</summary>
/// <param name="Features">The feature extractor configuration (<see cref="FeatureExtractor.Configuration"/>).</param>
/// <param name="BackboneFile">File name of the backbone weights, or null without a backbone.</param>
/// <param name="BackboneSha256">SHA-256 of that file; scoring refuses a backbone whose hash differs.</param>
/// <param name="TrainingSampleRate">The training clips' sample rate when they all share one (scoring notes clips at another rate).</param>
/// <param name="ThresholdSource">How the threshold was obtained; null in models written before thresholds were calibrated
/// (they used in-sample training scores: see <see cref="ThresholdOrigin"/>).</param>
public sealed record DetectorModelInfo(
    string Detector, string Features, string? BackboneFile, string? BackboneSha256, string? Taps,
    GammaThreshold Threshold, int TrainingClips, string TrainingSummary, string EngineVersion, string CreatedUtc,
    int? TrainingSampleRate = null, ThresholdProvenance? ThresholdSource = null)
{
    public ThresholdProvenance ThresholdOrigin => ThresholdSource ?? ThresholdProvenance.Legacy(TrainingClips);
}

/// <summary>
/// A trained detector as one safetensors file: the detector's tensors (F32, and F64 for statistics that must round-trip
/// exactly) plus metadata: format name and version, detector kind, feature configuration, backbone name and SHA-256,
/// tap points, threshold (gamma fit), training summary, engine version; the detector's own metadata under "detector.".
/// Written atomically. Reading checks the format name and version and names the file in every error.
/// </summary>
public static class DetectorFile
{
    public const string FormatName = "nasd-detector";
    public const int FormatVersion = 1;

    // An empirical threshold (one training clip, or all scores equal) has no gamma shape and scale: NaN, written as "NaN".
    static readonly JsonSerializerOptions InfoJson = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public static void Save(string path, IAnomalyDetector detector, DetectorModelInfo info) => Write(path, detector.Save(), info);

    /// <summary>
    /// Writes a detector's state and info (e.g. read by <see cref="Read"/> and given a new threshold) atomically; temp
    /// files that killed runs left in the folder go first.
    /// </summary>
    public static void Write(string path, DetectorState state, DetectorModelInfo info)
    {
        AtomicFile.RemoveStaleTemporaries(Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".");
        var tensors = new List<SafetensorsTensor>();
        foreach (var (name, (shape, data)) in state.Tensors) tensors.Add(SafetensorsTensor.Float32(name, shape, data));
        foreach (var (name, (shape, data)) in state.Float64)
            tensors.Add(new SafetensorsTensor(name, WeightDType.F64, shape, () => MemoryMarshal.AsBytes(data.AsSpan()).ToArray()));
        var meta = new Dictionary<string, string>
        {
            ["format"] = FormatName,
            ["format_version"] = FormatVersion.ToString(CultureInfo.InvariantCulture),
            ["detector"] = info.Detector,
            ["info"] = JsonSerializer.Serialize(info, InfoJson),
        };
        foreach (var (k, v) in state.Metadata) meta["detector." + k] = v;
        AtomicFile.Write(path, s => SafetensorsWriter.Write(s, path, tensors, meta));
    }

    public static (DetectorState State, DetectorModelInfo Info) Read(string path)
    {
        using var file = SafetensorsFile.Open(path);
        var meta = file.Metadata;
        if (!meta.TryGetValue("format", out var format) || format != FormatName)
            throw new WeightFormatException(path, $"not a nasd detector model (format '{format ?? "none"}'); weight files go to --backbone, models to --model");
        if (!meta.TryGetValue("format_version", out var v) || !int.TryParse(v, CultureInfo.InvariantCulture, out int version))
            throw new WeightFormatException(path, "detector model without a format version");
        if (version != FormatVersion)
            throw new WeightFormatException(path, $"detector model format version {version}; this nasd reads version {FormatVersion} (re-fit the model with this version)");
        DetectorModelInfo info;
        try { info = JsonSerializer.Deserialize<DetectorModelInfo>(meta["info"], InfoJson) ?? throw new JsonException("empty"); }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or NotSupportedException)
        {
            throw ModelValidation.Damaged(path, $"metadata: {e.Message}");
        }
        var state = new DetectorState();
        foreach (var (k, value) in meta)
            if (k.StartsWith("detector.", StringComparison.Ordinal)) state.Metadata[k["detector.".Length..]] = value;
        foreach (var e in file.Entries)
        {
            if (e.DType == WeightDType.F64)
                state.Float64[e.Name] = (e.Shape, MemoryMarshal.Cast<byte, double>(file.GetBytes(e)).ToArray());
            else if (e.DType == WeightDType.F32)
                state.Tensors[e.Name] = (e.Shape, MemoryMarshal.Cast<byte, float>(file.GetBytes(e)).ToArray());
            else throw new WeightFormatException(path, $"tensor {e.Name} has type {e.DType}; detector models hold F32 and F64 only");
        }
        ModelValidation.Check(path, state, info);
        return (state, info);
    }

    /// <summary>Reads a model file and rebuilds its detector.</summary>
    public static (IAnomalyDetector Detector, DetectorModelInfo Info) Load(string path, Kernels.IBackend? backend = null)
    {
        var (state, info) = Read(path);
        try
        {
            var kind = DetectorCatalog.Find(info.Detector) ?? throw new WeightFormatException(path, $"unknown detector '{info.Detector}'");
            var detector = kind.Load(state, backend);
            return (detector, info);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or JsonException or KeyNotFoundException or ArgumentException or OverflowException)
        {
            throw ModelValidation.Damaged(path, e.Message, e);
        }
    }
}
