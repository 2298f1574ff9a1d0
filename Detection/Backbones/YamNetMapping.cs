using System.Text.Json;
using NativeASD.Engine.Layers;
using NativeASD.Engine.Architectures;
using NativeASD.Weights.Tflite;
using NativeASD.Weights;

namespace NativeASD.Detection.Backbones;

/// <summary>YAMNet hyper-parameters: channel width multiplier (1 = the released model) and classes (521).</summary>
public sealed record YamNetMappingConfig(double Width = 1.0, int Classes = 521);

/// <summary>
/// YAMNet from its TFLite export (weights taken by walking the operators, see <see cref="YamNetTflite"/>) or from a
/// file already in our layout (layer1.conv, layerK.depthwise_conv / pointwise_conv, logits; e.g. a converted safetensors).
/// </summary>
public sealed class YamNetMapping : IArchitectureMapping
{
    public string Arch => "yamnet";

    public bool Recognises(IWeightSource s) =>
        s is TfliteWeightSource t && t.Model.Operators.Count(op => op.Opcode == TfliteBuiltinOperator.DEPTHWISE_CONV_2D) == YamNet.Blocks.Length
        || StrictMatch.Has(s, "layer1.conv.weight") && StrictMatch.Has(s, "layer14.pointwise_conv.weight") && StrictMatch.Has(s, "logits.weight");

    public MappedWeights Map(IWeightSource source, bool allowExtra)
    {
        if (source is TfliteWeightSource tflite)
        {
            var tensors = YamNetTflite.StateDict(tflite.Model);
            int first = tensors[0].Shape[0], classes = tensors[^1].Shape[0];
            var config = new YamNetMappingConfig(first / 32.0, classes);
            var expected = Expected(config);
            for (int i = 0; i < expected.Count; i++)
                if (expected[i].Name != tensors[i].Name || !expected[i].Shape.SequenceEqual(tensors[i].Shape))
                    throw new WeightFormatException(source.Path, $"does not match yamnet: {tensors[i].Name} is [{string.Join(",", tensors[i].Shape)}], expected {expected[i].Name} [{string.Join(",", expected[i].Shape)}]");
            var int8 = YamNetTflite.Int8Activations(tflite.Model);
            return new MappedWeights(Arch, JsonSerializer.Serialize(new { width = config.Width, classes = config.Classes }), "yamnet",
                tensors.Select(t => new MappedTensor(t.Name, t.Shape, WeightDType.F32, t.Read)).ToList(), [],
                int8 is null ? null : new Dictionary<string, string> { [Int8Key] = FormatInt8(int8) });
        }
        var c = new YamNetMappingConfig(StrictMatch.Dim(source, "layer1.conv.weight", 0, 32) / 32.0, StrictMatch.Dim(source, "logits.weight", 0, 521));
        var mapped = StrictMatch.AsIs(source, Arch, c, "yamnet", Expected(c), allowExtra);
        return source.Metadata.TryGetValue(Int8Key, out var json)
            ? mapped with { Metadata = new Dictionary<string, string> { [Int8Key] = FormatInt8(ParseInt8(source.Path, json)) } }
            : mapped;
    }

    /// <summary>Metadata key of the activation quantisation a converted int8 YAMNet carries: {"point": [scale, zero_point], …}.</summary>
    public const string Int8Key = "int8_activations";

    public static string FormatInt8(IReadOnlyDictionary<string, ActivationQuantization> q) =>
        JsonSerializer.Serialize(q.ToDictionary(kv => kv.Key, kv => new double[] { kv.Value.Scale, kv.Value.ZeroPoint }));

    /// <summary>The int8_activations metadata, checked (every value a [scale &gt; 0, integer zero point in int8 range] pair).</summary>
    public static Dictionary<string, ActivationQuantization> ParseInt8(string path, string json)
    {
        Dictionary<string, double[]>? raw;
        try { raw = JsonSerializer.Deserialize<Dictionary<string, double[]>>(json); }
        catch (JsonException e) { throw new WeightFormatException(path, $"{Int8Key} metadata is not valid JSON: {e.Message}"); }
        var result = new Dictionary<string, ActivationQuantization>();
        foreach (var (point, v) in raw ?? [])
        {
            if (v is not { Length: 2 } || !(v[0] > 0 && double.IsFinite(v[0])) || v[1] != Math.Floor(v[1])
                || v[1] < ActivationQuantization.Min || v[1] > ActivationQuantization.Max)
                throw new WeightFormatException(path, $"{Int8Key} metadata: {point} must be [scale > 0, integer zero point in -128..127]");
            result[point] = new((float)v[0], (int)v[1]);
        }
        return result;
    }

    public static List<ExpectedTensor> Expected(YamNetMappingConfig c)
    {
        var yc = new YamNetConfig(c.Width, c.Classes);
        int channels = yc.Channels(32);
        var list = new List<ExpectedTensor> { new("layer1.conv.weight", [channels, 1, 3, 3]), new("layer1.conv.bias", [channels]) };
        for (int i = 0; i < YamNet.Blocks.Length; i++)
        {
            int outChannels = yc.Channels(YamNet.Blocks[i].Width);
            string p = $"layer{i + 2}";
            list.Add(new($"{p}.depthwise_conv.weight", [channels, 1, 3, 3]));
            list.Add(new($"{p}.depthwise_conv.bias", [channels]));
            list.Add(new($"{p}.pointwise_conv.weight", [outChannels, channels, 1, 1]));
            list.Add(new($"{p}.pointwise_conv.bias", [outChannels]));
            channels = outChannels;
        }
        list.Add(new("logits.weight", [c.Classes, channels]));
        list.Add(new("logits.bias", [c.Classes]));
        return list;
    }
}
