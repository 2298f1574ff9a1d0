using System.Text.Json;
using NativeASD.Engine.Layers;
using NativeASD.Engine.Architectures;
using NativeASD.Weights.Keras;
using NativeASD.Weights.Tflite;
using NativeASD.Weights;

namespace NativeASD.Detection.Backbones;

/// <summary>
/// YAMNet hyper-parameters: channel width multiplier (1 = the released model), classes (521; 0 = no classifier),
/// layers kept (14 = all) and whether activations clip at 6 (see <see cref="YamNetConfig"/>).
/// </summary>
public sealed record YamNetMappingConfig(double Width = 1.0, int Classes = 521, int Layers = 14, bool Relu6 = true);

/// <summary>
/// YAMNet from its TFLite export (weights taken by walking the operators, see <see cref="YamNetTflite"/>), from a float
/// Keras model of its first layers (the ST model zoo's yamnet_256_f32.h5: layer1 … layer6 with Google's AudioSet
/// weights, a global average pooling head), or from a file already in our layout (layer1.conv, layerK.depthwise_conv /
/// pointwise_conv, logits; e.g. a converted safetensors).
/// </summary>
public sealed class YamNetMapping : IArchitectureMapping
{
    public string Arch => "yamnet";

    public bool Recognises(IWeightSource s) => s switch
    {
        TfliteWeightSource t => t.Model.Operators.Count(op => op.Opcode == TfliteBuiltinOperator.DEPTHWISE_CONV_2D) == YamNet.Blocks.Length,
        KerasH5Source k => KerasGraph.Find(k, "layer1/conv") is not null && KerasGraph.Find(k, "layer2/depthwise_conv") is not null,
        _ => StrictMatch.Has(s, "layer1.conv.weight") && StrictMatch.Has(s, "layer2.depthwise_conv.weight"),
    };

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
            return new MappedWeights(Arch, JsonSerializer.Serialize(config, Json), "yamnet",
                tensors.Select(t => new MappedTensor(t.Name, t.Shape, WeightDType.F32, t.Read)).ToList(), [],
                int8 is null ? null : new Dictionary<string, string> { [Int8Key] = FormatInt8(int8) });
        }
        if (source is KerasH5Source keras) return FromKeras(keras, allowExtra);
        int layers = 1;
        while (layers < YamNet.Blocks.Length + 1 && StrictMatch.Has(source, $"layer{layers + 1}.pointwise_conv.weight")) layers++;
        var c = new YamNetMappingConfig(StrictMatch.Dim(source, "layer1.conv.weight", 0, 32) / 32.0,
            StrictMatch.Has(source, "logits.weight") ? StrictMatch.Dim(source, "logits.weight", 0, 521) : 0, layers, Relu6(source));
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
        for (int i = 0; i < c.Layers - 1; i++)
        {
            int outChannels = yc.Channels(YamNet.Blocks[i].Width);
            string p = $"layer{i + 2}";
            list.Add(new($"{p}.depthwise_conv.weight", [channels, 1, 3, 3]));
            list.Add(new($"{p}.depthwise_conv.bias", [channels]));
            list.Add(new($"{p}.pointwise_conv.weight", [outChannels, channels, 1, 1]));
            list.Add(new($"{p}.pointwise_conv.bias", [outChannels]));
            channels = outChannels;
        }
        if (c.Classes == 0) return list;
        list.Add(new("logits.weight", [c.Classes, channels]));
        list.Add(new("logits.bias", [c.Classes]));
        return list;
    }

    static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>A converted file's relu6 flag from its arch_config (files written before the flag: ReLU6).</summary>
    static bool Relu6(IWeightSource source)
    {
        if (!source.Metadata.TryGetValue("arch_config", out var json)) return true;
        try
        {
            using var doc = JsonDocument.Parse(json);
            return !doc.RootElement.TryGetProperty("relu6", out var r) || r.GetBoolean();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new WeightFormatException(source.Path, $"arch_config is not valid JSON: {e.Message}");
        }
    }

    // ---- Keras (yamnet_256) ----------------------------------------------------------------------------------------

    /// <summary>
    /// The Keras layers of YAMNet's first <paramref name="c"/>.Layers layers as its yamnet.py builds them: conv / depthwise
    /// conv without bias, TF "SAME" padding, BatchNormalization(center, no scale), ReLU (max_value 6 for ReLU6).
    /// </summary>
    static List<KerasNode> Graph(YamNetMappingConfig c, double eps)
    {
        var yc = new YamNetConfig(c.Width, c.Classes, c.Layers, c.Relu6);
        KerasNode Relu(string name, string input) => new(name, "ReLU", [input], new Dictionary<string, object?>
        {
            ["max_value"] = c.Relu6 ? 6.0 : null, ["negative_slope"] = 0.0, ["threshold"] = 0.0,
        });
        var g = new List<KerasNode>
        {
            KerasGraph.Conv("layer1/conv", KerasGraph.Input, yc.Channels(32), 3, 2, "same", bias: false),
            KerasGraph.BatchNorm("layer1/conv/bn", "layer1/conv", eps, scale: false),
            Relu("layer1/relu", "layer1/conv/bn"),
        };
        string x = "layer1/relu";
        for (int k = 2; k <= c.Layers; k++)
        {
            var (stride, width) = YamNet.Blocks[k - 2];
            string dw = $"layer{k}/depthwise_conv", pw = $"layer{k}/pointwise_conv";
            g.Add(KerasGraph.Depthwise(dw, x, 3, stride, "same"));
            g.Add(KerasGraph.BatchNorm($"{dw}/bn", dw, eps, scale: false));
            g.Add(Relu($"{dw}/relu", $"{dw}/bn"));
            g.Add(KerasGraph.Conv(pw, $"{dw}/relu", yc.Channels(width), 1, 1, "same", bias: false));
            g.Add(KerasGraph.BatchNorm($"{pw}/bn", pw, eps, scale: false));
            g.Add(Relu($"{pw}/relu", $"{pw}/bn"));
            x = $"{pw}/relu";
        }
        return g;
    }

    MappedWeights FromKeras(KerasH5Source source, bool allowExtra)
    {
        WeightFormatException Bad(string problem) => new(source.Path, $"does not match {Arch}: {problem}");
        int layers = 1;
        while (layers < YamNet.Blocks.Length + 1 && KerasGraph.Find(source, $"layer{layers + 1}/pointwise_conv") is not null) layers++;
        int filters = KerasGraph.Value(KerasGraph.Find(source, "layer1/conv"), "filters") is { ValueKind: JsonValueKind.Number } f ? f.GetInt32() : 0;
        var maxValue = KerasGraph.Value(KerasGraph.Find(source, "layer1/relu"), "max_value");
        double eps = KerasGraph.Value(KerasGraph.Find(source, "layer1/conv/bn"), "epsilon") is { ValueKind: JsonValueKind.Number } e ? e.GetDouble() : 0;
        if (filters < 1 || !(eps > 0)) throw Bad($"layer1/conv has {filters} filters and layer1/conv/bn epsilon {eps}");
        var c = new YamNetMappingConfig(filters / 32.0, Classes: 0, layers, Relu6: maxValue is { ValueKind: JsonValueKind.Number });
        KerasGraph.Check(source, Arch, Graph(c, eps));

        // BatchNorm (no scale) folds into the conv: w' = w·s, b = β − mean·s per output channel, s = 1/√(var + ε).
        var byName = source.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var used = new HashSet<string>(StringComparer.Ordinal);
        WeightTensor Take(string name, int[] shape, string forWhat)
        {
            if (!byName.TryGetValue(name, out var t)) throw Bad($"missing tensor {name} (for {forWhat})");
            if (!t.Shape.SequenceEqual(shape)) throw Bad($"{name} is [{string.Join(",", t.Shape)}], expected [{string.Join(",", shape)}] (for {forWhat})");
            used.Add(name);
            return t;
        }
        var tensors = new List<MappedTensor>();
        var expected = Expected(c);
        for (int i = 0; i < expected.Count; i += 2)
        {
            var (weight, bias) = (expected[i], expected[i + 1]);
            string module = weight.Name[..weight.Name.LastIndexOf('.')];                   // layer2.depthwise_conv
            string layer = module.Replace('.', '/');
            bool depthwise = module.EndsWith("depthwise_conv", StringComparison.Ordinal);
            int[] s = weight.Shape;                                                       // [O, I, kh, kw]
            int[] order = depthwise ? [2, 3, 0, 1] : [3, 2, 0, 1];                          // our axes in Keras [kh, kw, C, 1] / [kh, kw, I, O]
            int[] kerasShape = depthwise ? [s[2], s[3], s[0], s[1]] : [s[2], s[3], s[1], s[0]];
            var kernel = Take($"{layer}/{(depthwise ? "depthwise_kernel" : "kernel")}:0", kerasShape, weight.Name);
            var beta = Take($"{layer}/bn/beta:0", [s[0]], bias.Name);
            var mean = Take($"{layer}/bn/moving_mean:0", [s[0]], bias.Name);
            var variance = Take($"{layer}/bn/moving_variance:0", [s[0]], bias.Name);
            double[] Scale() => [.. variance.ReadFloat32().Select(v => 1.0 / Math.Sqrt(v + eps))];
            tensors.Add(new(weight.Name, s, WeightDType.F32, () =>
            {
                var w = KerasGraph.Permute(kernel.ReadFloat32(), kerasShape, order);
                var scale = Scale();
                int per = w.Length / s[0];
                for (int o = 0; o < w.Length; o++) w[o] = (float)(w[o] * scale[o / per]);
                return w;
            }));
            tensors.Add(new(bias.Name, [s[0]], WeightDType.F32, () =>
            {
                var (b, m, scale) = (beta.ReadFloat32(), mean.ReadFloat32(), Scale());
                return [.. b.Select((v, o) => (float)(v - m[o] * scale[o]))];
            }));
        }
        var extra = source.Tensors.Select(t => t.Name).Where(n => !used.Contains(n)).ToList();
        if (extra.Count > 0 && !allowExtra) throw Bad($"{extra.Count} unexpected tensor(s): {string.Join(", ", extra.Take(8))} (pass --allow-extra to ignore them)");
        return new MappedWeights(Arch, JsonSerializer.Serialize(c, Json), "yamnet", tensors, extra);
    }
}
