using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;
using NativeASD.Weights.Hdf5;

namespace NativeASD.Weights.Keras;

/// <summary>
/// One layer from the Keras model_config JSON: class (Dense, BatchNormalization, …), name, its config object, and the
/// names of the layers it takes as input (a Functional model's first inbound node; in a Sequential model the layer
/// before it).
/// </summary>
public sealed record KerasLayer(string Name, string ClassName, JsonElement Config, IReadOnlyList<string> Inbound);

/// <summary>
/// Keras HDF5 files (model.save(...h5) or save_weights): the weights under model_weights/&lt;layer&gt;/&lt;weight name&gt;,
/// named as Keras names them ("dense/kernel:0", "batch_normalization/moving_mean:0"), in layer order, shapes as stored
/// (a Dense kernel is [in, out]). Read with our own bounded HDF5 reader (<see cref="Hdf5File"/>): every size is checked
/// against the file before anything is allocated or read.
/// </summary>
public static class KerasH5File
{
    static ReadOnlySpan<byte> Signature => [0x89, (byte)'H', (byte)'D', (byte)'F', 0x0d, 0x0a, 0x1a, 0x0a];

    /// <summary>True for an HDF5 superblock signature at offset 0 or 512 (after a user block).</summary>
    public static bool Sniff(ReadOnlySpan<byte> head) =>
        head.StartsWith(Signature) || (head.Length >= 520 && head[512..].StartsWith(Signature));

    public static IWeightSource Open(string path) => Load(path);

    /// <summary>The file with its Keras layer list (from model_config when present).</summary>
    public static KerasH5Source Load(string path)
    {
        if (!File.Exists(path)) throw new WeightFormatException(path, "file not found");
        return KerasH5Source.Open(Hdf5File.Open(path));
    }

    /// <summary>Reads a Keras HDF5 file held in memory; <paramref name="path"/> only names it in errors.</summary>
    public static KerasH5Source Parse(string path, byte[] bytes) => KerasH5Source.Open(Hdf5File.Parse(path, bytes));
}

public sealed class KerasH5Source : IWeightSource
{
    readonly Hdf5File file;

    KerasH5Source(Hdf5File file) => this.file = file;

    public string Path => file.Path;
    public string Format => "keras-h5";
    public IReadOnlyList<WeightTensor> Tensors { get; private set; } = [];
    public IReadOnlyDictionary<string, string> Metadata { get; private set; } = new Dictionary<string, string>();
    /// <summary>Layers in model order from model_config; empty for weights-only files.</summary>
    public IReadOnlyList<KerasLayer> Layers { get; private set; } = [];

    public void Dispose() => file.Dispose();

    internal static KerasH5Source Open(Hdf5File file)
    {
        var source = new KerasH5Source(file);
        try { source.ReadStructure(); }
        catch { file.Dispose(); throw; }
        return source;
    }

    WeightFormatException Error(string problem) => file.Error(problem);

    void ReadStructure()
    {
        var root = file.Root;
        var metadata = new Dictionary<string, string>();
        foreach (string key in (string[])["keras_version", "backend", "model_config", "training_config"])
            if (root.HasAttribute(key)) metadata[key] = string.Join("", root.Attribute(key).ReadStrings());
        Metadata = metadata;
        if (metadata.TryGetValue("model_config", out string? config)) Layers = ParseLayers(config);

        // model.save() nests the weights under model_weights; save_weights() puts the layers at the root.
        var weights = root.HasLink("model_weights") ? root.Child("model_weights") : root;
        if (!HasNames(weights, "layer_names")) throw Error("no 'layer_names' attribute: not a Keras HDF5 weights file");

        var tensors = new List<WeightTensor>();
        var datasets = new HashSet<long>();
        long stored = 0;
        foreach (string layer in ReadNames(weights, "layer_names"))
        {
            if (!weights.HasLink(layer)) throw Error($"layer '{layer}' is listed in layer_names but has no group");
            var group = weights.Child(layer);
            if (!HasNames(group, "weight_names")) continue;
            foreach (string weightName in ReadNames(group, "weight_names"))
            {
                var found = Find(group, layer, weightName);
                if (!datasets.Add(found.Address)) throw Error($"weight '{weightName}' of layer '{layer}' is a dataset listed before");
                var dataset = found.Dataset(weightName);
                // Distinct datasets never share bytes in a valid file; a corrupted one must not make every
                // weight read the same large range again.
                stored += dataset.StoredBytes;
                if (stored > file.Length) throw Error($"weights up to '{weightName}' store {stored:N0} bytes, more than the file's {file.Length:N0}");
                tensors.Add(Describe(weightName, dataset));
            }
        }
        Tensors = tensors;
    }

    // Keras splits a name list larger than HDF5's 64 KiB object header limit into numbered attributes
    // (layer_names0, layer_names1, …; see save_attributes_to_hdf5_group); read them back in order.
    static bool HasNames(Hdf5Object owner, string name) => owner.HasAttribute(name) || owner.HasAttribute(name + "0");

    static IEnumerable<string> ReadNames(Hdf5Object owner, string name)
    {
        if (owner.HasAttribute(name)) return owner.Attribute(name).ReadStrings();
        var names = new List<string>();
        for (int part = 0; owner.HasAttribute(name + part); part++) names.AddRange(owner.Attribute(name + part).ReadStrings());
        return names;
    }

    /// <summary>The object at a weight's path inside its layer group ("dense/kernel:0" is group dense, dataset kernel:0).</summary>
    Hdf5Object Find(Hdf5Object group, string layer, string weightName)
    {
        foreach (string part in weightName.Split('/'))
        {
            if (!group.HasLink(part)) throw Error($"weight '{weightName}' of layer '{layer}' is listed but missing");
            group = group.Child(part);
        }
        return group;
    }

    WeightTensor Describe(string name, Hdf5Dataset dataset)
    {
        var type = dataset.Type;
        WeightDType dtype = (type.Class, type.Size) switch
        {
            (Hdf5TypeClass.FloatingPoint, 4) => WeightDType.F32,
            (Hdf5TypeClass.FloatingPoint, 8) => WeightDType.F64,
            _ => throw Error($"weight '{name}' has HDF5 type {type}; only float32 and float64 are read"),
        };
        long[] dims = dataset.Space.Dims;
        // The dataset checked its shape against the bytes the file stores (for chunked data: what they can inflate to).
        var shape = new int[dims.Length];
        for (int d = 0; d < dims.Length; d++)
        {
            if (dims[d] > int.MaxValue) throw Error($"weight '{name}' has dimension {dims[d]}");
            shape[d] = (int)dims[d];
        }
        long count = dataset.Space.Count;
        if (dataset.ByteCount > Array.MaxLength) throw Error($"weight '{name}' of shape {dataset.Space} has more bytes than one array holds");
        return new WeightTensor(name, shape, dtype, dataset.ByteCount, () => ReadData(dataset, type, (int)count));
    }

    static float[] ReadData(Hdf5Dataset dataset, Hdf5DataType type, int count)
    {
        var values = new float[count];
        if (type.Size == 4)
        {
            // float32 goes straight into the result; only its byte order may need fixing.
            var bytes = MemoryMarshal.AsBytes(values.AsSpan());
            dataset.Read(bytes);
            if (type.BigEndian) BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, int>(bytes), MemoryMarshal.Cast<byte, int>(bytes));
            return values;
        }
        var doubles = new byte[(long)count * 8];
        dataset.Read(doubles);
        for (int i = 0; i < count; i++)
        {
            var element = doubles.AsSpan(i * 8, 8);
            values[i] = (float)(type.BigEndian ? BinaryPrimitives.ReadDoubleBigEndian(element) : BinaryPrimitives.ReadDoubleLittleEndian(element));
        }
        return values;
    }

    /// <summary>
    /// Layers of a Functional or Sequential model_config ({"config": {"layers": [...]}} or, older, {"config": [...]}).
    /// A nested model (a Functional inside a Sequential, as Keras saves a backbone with a head) is listed, then its own
    /// layers after it: its InputLayer takes the nested model's input, and a layer taking the nested model takes its
    /// output layer instead.
    /// </summary>
    IReadOnlyList<KerasLayer> ParseLayers(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 256 });
            var result = new List<KerasLayer>();
            AddLayers(doc.RootElement, [], result, depth: 0);
            return result;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw Error($"model_config is not valid Keras JSON: {e.Message}");
        }
    }

    const int MaxNesting = 8;

    /// <summary>Appends a model's layers; returns the name of its output layer (the last layer when the config does not say).</summary>
    string AddLayers(JsonElement model, IReadOnlyList<string> modelInputs, List<KerasLayer> result, int depth)
    {
        if (depth > MaxNesting) throw Error($"model_config nests models more than {MaxNesting} deep");
        if (!model.TryGetProperty("config", out JsonElement config)) return "";
        JsonElement layers = config.ValueKind == JsonValueKind.Array ? config
            : config.TryGetProperty("layers", out JsonElement l) ? l : default;
        if (layers.ValueKind != JsonValueKind.Array) return "";
        bool sequential = model.TryGetProperty("class_name", out var cls) && cls.GetString() == "Sequential";
        var outputOf = new Dictionary<string, string>(StringComparer.Ordinal);   // nested model name → its output layer
        string previous = modelInputs.Count > 0 ? modelInputs[0] : "";
        foreach (JsonElement layer in layers.EnumerateArray())
        {
            string className = layer.TryGetProperty("class_name", out var c) ? c.GetString() ?? "" : "";
            JsonElement layerConfig = layer.TryGetProperty("config", out var cfg) ? cfg.Clone() : default;
            string name = layerConfig.ValueKind == JsonValueKind.Object && layerConfig.TryGetProperty("name", out var n) ? n.GetString() ?? ""
                : layer.TryGetProperty("name", out var n2) ? n2.GetString() ?? "" : "";
            IReadOnlyList<string> inbound = className == "InputLayer" ? modelInputs
                : sequential ? (previous.Length > 0 ? [previous] : [])
                : Inbound(layer).Select(i => outputOf.GetValueOrDefault(i, i)).ToList();
            result.Add(new KerasLayer(name, className, layerConfig, inbound));
            previous = name;
            if (className is "Functional" or "Model" or "Sequential")
            {
                previous = AddLayers(layer, inbound, result, depth + 1);
                outputOf[name] = previous;
            }
        }
        if (!sequential && config.ValueKind == JsonValueKind.Object && config.TryGetProperty("output_layers", out var outputs)
            && outputs.ValueKind == JsonValueKind.Array && outputs.GetArrayLength() > 0 && outputs[0].ValueKind == JsonValueKind.Array
            && outputs[0].GetArrayLength() > 0 && outputs[0][0].ValueKind == JsonValueKind.String)
            return outputs[0][0].GetString()!;
        return previous;
    }

    /// <summary>The layer names of a Functional layer's first inbound node ([[["conv1_bn", 0, 0, {}], …]]).</summary>
    static IEnumerable<string> Inbound(JsonElement layer)
    {
        if (!layer.TryGetProperty("inbound_nodes", out var nodes) || nodes.ValueKind != JsonValueKind.Array || nodes.GetArrayLength() == 0) yield break;
        var node = nodes[0];
        if (node.ValueKind != JsonValueKind.Array) yield break;
        foreach (var edge in node.EnumerateArray())
            if (edge.ValueKind == JsonValueKind.Array && edge.GetArrayLength() > 0 && edge[0].ValueKind == JsonValueKind.String)
                yield return edge[0].GetString()!;
    }
}
