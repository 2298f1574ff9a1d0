namespace NativeASD.Weights.Tflite;

/// <summary>Entry point for TFLite flatbuffers as a weight source: the constant tensors of every subgraph.</summary>
public static class TfliteFile
{
    /// <summary>True when the first bytes carry the TFLite file identifier "TFL3" at offset 4.</summary>
    public static bool Sniff(ReadOnlySpan<byte> head) => TfliteModel.Sniff(head);

    public static IWeightSource Open(string path) => new TfliteWeightSource(TfliteModel.Load(path));

    /// <summary>The full model (operators, options, activations) for building a network from it.</summary>
    public static TfliteModel Load(string path) => TfliteModel.Load(path);
}

/// <summary>
/// The constant tensors of a <see cref="TfliteModel"/> (main subgraph names as-is, other subgraphs prefixed with their
/// name and "/"); quantised integers are dequantised by <see cref="WeightTensor.ReadFloat32"/>.
/// </summary>
public sealed class TfliteWeightSource : IWeightSource
{
    public TfliteWeightSource(TfliteModel model)
    {
        Model = model;
        var tensors = new List<WeightTensor>();
        for (int g = 0; g < model.Subgraphs.Count; g++)
        {
            var graph = model.Subgraphs[g];
            foreach (var t in graph.Tensors)
            {
                if (!t.HasData || TfliteDecode.ToWeightDType(t.Type) is not { } dtype) continue;
                string name = g == 0 ? t.Name : $"{graph.Name}/{t.Name}";
                tensors.Add(new WeightTensor(name, t.Shape, dtype, t.DataLength, t.ReadFloat32) { Note = Describe(t) });
            }
        }
        Tensors = tensors;
        var metadata = new Dictionary<string, string> { ["tflite.version"] = model.Version.ToString() };
        if (!string.IsNullOrEmpty(model.Description)) metadata["tflite.description"] = model.Description;
        foreach (var (key, value) in model.Metadata)
            if (value.Length <= 256 && value.All(b => b is >= 0x20 and < 0x7f or 0)) // printable entries only
                metadata[$"tflite.metadata.{key}"] = System.Text.Encoding.ASCII.GetString(value).TrimEnd('\0');
        Metadata = metadata;
    }

    public TfliteModel Model { get; }
    public string Path => Model.Path;
    public string Format => "tflite";
    public IReadOnlyList<WeightTensor> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public void Dispose() { }

    static string? Describe(TfliteTensor t) => t.Quantization switch
    {
        null => null,
        { PerChannel: true } q => $"{t.Type.ToString().ToLowerInvariant()} per-channel axis {q.QuantizedDimension} ({q.Scale.Length} scales)",
        var q => $"{t.Type.ToString().ToLowerInvariant()} per-tensor scale {q.Scale[0]:G6} zero point {(q.ZeroPoint.Length > 0 ? q.ZeroPoint[0] : 0)}",
    };
}
