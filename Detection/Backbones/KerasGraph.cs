using System.Text.Json;
using NativeASD.Weights;
using NativeASD.Weights.Keras;

namespace NativeASD.Detection.Backbones;

/// <summary>
/// A layer an architecture expects in a Keras model_config: its name, class, input layers (<see cref="KerasGraph.Input"/>
/// for the model input) and the config values that must match (numbers, strings, booleans, int arrays, nested int arrays).
/// </summary>
public sealed record KerasNode(string Name, string ClassName, string[] Inbound, IReadOnlyDictionary<string, object?> Config);

/// <summary>
/// Checks a Keras file's layer graph against the one an architecture builds, so a file is mapped only when its
/// layers compute what ours compute: same layers by name, class, connections and configuration.
/// </summary>
public static class KerasGraph
{
    /// <summary>The name that stands for the model's input (any InputLayer) in <see cref="KerasNode.Inbound"/>.</summary>
    public const string Input = "<input>";

    /// <summary>Layers after the last expected one that read it without changing what a tap sees (the zoo's heads).</summary>
    static readonly HashSet<string> HeadClasses = ["Flatten", "GlobalAveragePooling2D"];

    /// <summary>The file's layer named <paramref name="name"/>, or null.</summary>
    public static KerasLayer? Find(KerasH5Source source, string name) => source.Layers.FirstOrDefault(l => l.Name == name);

    /// <summary>
    /// Throws a <see cref="WeightFormatException"/> naming the first expected layer that is missing or differs, or the
    /// first file layer that is not expected (InputLayers, nested model containers and head layers reading the last
    /// expected layer aside).
    /// </summary>
    public static void Check(KerasH5Source source, string arch, IReadOnlyList<KerasNode> expected)
    {
        WeightFormatException Bad(string problem) => new(source.Path, $"does not match {arch}: {problem}");
        var inputs = source.Layers.Where(l => l.ClassName == "InputLayer").Select(l => l.Name).ToHashSet(StringComparer.Ordinal);
        string Canonical(string name) => inputs.Contains(name) ? Input : name;
        foreach (var node in expected)
        {
            var layer = Find(source, node.Name) ?? throw Bad($"layer {node.Name} ({node.ClassName}) is missing from model_config");
            if (layer.ClassName != node.ClassName) throw Bad($"layer {node.Name} is {layer.ClassName}, expected {node.ClassName}");
            var inbound = layer.Inbound.Select(Canonical).ToArray();
            bool sameInputs = node.ClassName == "Add"                    // a sum takes its inputs in any order
                ? inbound.Order(StringComparer.Ordinal).SequenceEqual(node.Inbound.Order(StringComparer.Ordinal))
                : inbound.SequenceEqual(node.Inbound);
            if (!sameInputs)
                throw Bad($"layer {node.Name} takes [{string.Join(", ", inbound)}], expected [{string.Join(", ", node.Inbound)}]");
            foreach (var (key, value) in node.Config)
            {
                if (layer.Config.ValueKind != JsonValueKind.Object || !layer.Config.TryGetProperty(key, out var actual))
                    throw Bad($"layer {node.Name} has no '{key}' in its config");
                if (!Matches(key, actual, value))
                    throw Bad($"layer {node.Name} has {key} {JsonSerializer.Serialize(actual)}, expected {JsonSerializer.Serialize(value)}");
            }
        }
        var known = expected.Select(n => n.Name).ToHashSet(StringComparer.Ordinal);
        string last = expected[^1].Name;
        foreach (var layer in source.Layers)
        {
            if (known.Contains(layer.Name) || layer.ClassName is "InputLayer" or "Functional" or "Model" or "Sequential") continue;
            if (HeadClasses.Contains(layer.ClassName) && layer.Inbound.SequenceEqual([last])) continue;
            throw Bad($"layer {layer.Name} ({layer.ClassName}) is not part of {arch}");
        }
    }

    static bool Matches(string key, JsonElement actual, object? expected)
    {
        if (key == "axis") return ChannelAxis(actual);
        return expected switch
        {
            null => actual.ValueKind == JsonValueKind.Null,
            double d => actual.ValueKind == JsonValueKind.Number && actual.GetDouble() == d,
            _ => JsonSerializer.Serialize(actual) == JsonSerializer.Serialize(expected),
        };
    }

    /// <summary>BatchNormalization over the channels of an NHWC map: axis 3, -1, [3] or [-1].</summary>
    static bool ChannelAxis(JsonElement axis)
    {
        var values = axis.ValueKind == JsonValueKind.Array ? axis.EnumerateArray().ToList() : [axis];
        return values.Count == 1 && values[0].ValueKind == JsonValueKind.Number && values[0].GetInt32() is 3 or -1;
    }

    /// <summary>The config value <paramref name="key"/> of a layer (for reading hyper-parameters before the check).</summary>
    public static JsonElement? Value(KerasLayer? layer, string key) =>
        layer is not null && layer.Config.ValueKind == JsonValueKind.Object && layer.Config.TryGetProperty(key, out var v) ? v : null;

    // ---- expected nodes of the layers these architectures use --------------------------------------------------

    public static KerasNode Conv(string name, string input, int filters, int kernel, int stride, string padding, bool bias) =>
        new(name, "Conv2D", [input], new Dictionary<string, object?>
        {
            ["filters"] = filters, ["kernel_size"] = new[] { kernel, kernel }, ["strides"] = new[] { stride, stride }, ["padding"] = padding,
            ["dilation_rate"] = new[] { 1, 1 }, ["use_bias"] = bias, ["activation"] = "linear", ["data_format"] = "channels_last",
        });

    public static KerasNode Depthwise(string name, string input, int kernel, int stride, string padding) =>
        new(name, "DepthwiseConv2D", [input], new Dictionary<string, object?>
        {
            ["kernel_size"] = new[] { kernel, kernel }, ["strides"] = new[] { stride, stride }, ["padding"] = padding, ["dilation_rate"] = new[] { 1, 1 },
            ["depth_multiplier"] = 1, ["use_bias"] = false, ["activation"] = "linear", ["data_format"] = "channels_last",
        });

    public static KerasNode BatchNorm(string name, string input, double eps, bool scale = true) =>
        new(name, "BatchNormalization", [input], new Dictionary<string, object?> { ["axis"] = 3, ["epsilon"] = eps, ["center"] = true, ["scale"] = scale });

    public static KerasNode Relu(string name, string input) =>
        new(name, "Activation", [input], new Dictionary<string, object?> { ["activation"] = "relu" });

    public static KerasNode ZeroPad(string name, string input, int pad) =>
        new(name, "ZeroPadding2D", [input], new Dictionary<string, object?> { ["padding"] = new[] { new[] { pad, pad }, new[] { pad, pad } }, ["data_format"] = "channels_last" });

    public static KerasNode MaxPool(string name, string input, int pool, int stride) =>
        new(name, "MaxPooling2D", [input], new Dictionary<string, object?>
        {
            ["pool_size"] = new[] { pool, pool }, ["strides"] = new[] { stride, stride }, ["padding"] = "valid", ["data_format"] = "channels_last",
        });

    public static KerasNode Add(string name, params string[] inputs) => new(name, "Add", inputs, new Dictionary<string, object?>());

    /// <summary>
    /// A rank-4 array of shape <paramref name="shape"/> with its axes rearranged: result axis j is source axis
    /// <paramref name="order"/>[j] (numpy's transpose(order)); Keras kernels [kh, kw, in, out] to ours.
    /// </summary>
    public static float[] Permute(float[] a, int[] shape, int[] order)
    {
        var strides = new int[4];
        for (int d = 3, acc = 1; d >= 0; acc *= shape[d], d--) strides[d] = acc;
        int[] outShape = [.. order.Select(o => shape[o])];
        var r = new float[a.Length];
        int n = 0;
        for (int i0 = 0; i0 < outShape[0]; i0++)
            for (int i1 = 0; i1 < outShape[1]; i1++)
                for (int i2 = 0; i2 < outShape[2]; i2++)
                    for (int i3 = 0; i3 < outShape[3]; i3++)
                        r[n++] = a[i0 * strides[order[0]] + i1 * strides[order[1]] + i2 * strides[order[2]] + i3 * strides[order[3]]];
        return r;
    }
}
