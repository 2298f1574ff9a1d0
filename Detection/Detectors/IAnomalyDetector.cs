using NativeASD.Detection.Features;
namespace NativeASD.Detection.Detectors;

/// <summary>
/// What a detector keeps: named float32 tensors, float64 tensors (statistics that must round-trip exactly) and string
/// metadata; Weights writes it as a safetensors model file (F32 and F64 entries).
/// </summary>
public sealed class DetectorState
{
    public Dictionary<string, (int[] Shape, float[] Data)> Tensors { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, (int[] Shape, double[] Data)> Float64 { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    public (int[] Shape, float[] Data) Tensor(string name) =>
        Tensors.TryGetValue(name, out var t) ? t : throw new InvalidDataException($"detector state has no tensor '{name}'");

    public (int[] Shape, double[] Data) Tensor64(string name) =>
        Float64.TryGetValue(name, out var t) ? t : throw new InvalidDataException($"detector state has no float64 tensor '{name}'");

    public string Meta(string key) =>
        Metadata.TryGetValue(key, out var v) ? v : throw new InvalidDataException($"detector state has no metadata '{key}'");
}

/// <summary>Progress of a long step (epochs, clips): done of total, with a short label.</summary>
public readonly record struct DetectorProgress(string Stage, int Done, int Total, double? Loss = null);

/// <summary>
/// An anomaly detector trained on normal clips only. Higher score = more anomalous. Fit is deterministic for a
/// given seed on the CPU backend.
/// </summary>
public interface IAnomalyDetector
{
    /// <summary>The detector's name in <see cref="DetectorCatalog"/> (stored in model files).</summary>
    string Kind { get; }

    /// <summary>Trains on the features of normal clips; returns a one-line summary (e.g. final loss).</summary>
    string Fit(IReadOnlyList<ClipFeatures> normal, IProgress<DetectorProgress>? progress = null);

    double Score(ClipFeatures clip);

    /// <summary>Everything needed to score again after loading.</summary>
    DetectorState Save();
}
