using System.Text.Json;
using PureHDF;
using PureHDF.VOL.Native;

namespace NativeASD.Weights.Keras;

/// <summary>One layer from the Keras model_config JSON: class (Dense, BatchNormalization, …), name and its config object.</summary>
public sealed record KerasLayer(string Name, string ClassName, JsonElement Config);

/// <summary>
/// Keras HDF5 files (model.save(...h5) or save_weights): the weights under model_weights/&lt;layer&gt;/&lt;weight name&gt;,
/// named as Keras names them ("dense/kernel:0", "batch_normalization/moving_mean:0"), in layer order, shapes as stored
/// (a Dense kernel is [in, out]). Read with PureHDF; every size is checked against the file before anything is read.
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
        return KerasH5Source.Open(path, () => H5File.OpenRead(path), new FileInfo(path).Length);
    }

    /// <summary>Reads a Keras HDF5 file held in memory; <paramref name="path"/> only names it in errors.</summary>
    public static KerasH5Source Parse(string path, byte[] bytes) =>
        KerasH5Source.Open(path, () => H5File.Open(new MemoryStream(bytes, writable: false), leaveOpen: false), bytes.Length);
}

public sealed class KerasH5Source : IWeightSource
{
    readonly NativeFile file;
    readonly long fileLength;

    KerasH5Source(string path, NativeFile file, long fileLength)
    {
        Path = path;
        this.file = file;
        this.fileLength = fileLength;
    }

    public string Path { get; }
    public string Format => "keras-h5";
    public IReadOnlyList<WeightTensor> Tensors { get; private set; } = [];
    public IReadOnlyDictionary<string, string> Metadata { get; private set; } = new Dictionary<string, string>();
    /// <summary>Layers in model order from model_config; empty for weights-only files.</summary>
    public IReadOnlyList<KerasLayer> Layers { get; private set; } = [];

    public void Dispose() => file.Dispose();

    internal static KerasH5Source Open(string path, Func<NativeFile> open, long length)
    {
        NativeFile file;
        try { file = open(); }
        catch (Exception e) { throw Wrap(path, "not a readable HDF5 file", e); }
        var source = new KerasH5Source(path, file, length);
        try { source.ReadStructure(); }
        catch (Exception e) when (e is not WeightFormatException)
        {
            file.Dispose();
            throw Wrap(path, "malformed HDF5 structure", e);
        }
        catch { file.Dispose(); throw; }
        return source;
    }

    // PureHDF reports corrupt structures with many exception types (its own, IO, argument, overflow, index, cast …);
    // at this library boundary all of them mean "malformed file". That includes OutOfMemoryException: PureHDF
    // allocates a buffer of a size read from the file before reading it (up to 2 GiB for an int length field).
    static WeightFormatException Wrap(string path, string what, Exception e) =>
        new(path, $"{what} ({e.GetType().Name}: {e.Message})", e);

    WeightFormatException Error(string problem) => new(Path, problem);

    void ReadStructure()
    {
        var metadata = new Dictionary<string, string>();
        foreach (string key in (string[])["keras_version", "backend", "model_config", "training_config"])
            if (file.AttributeExists(key)) metadata[key] = ReadStringAttribute(file, key);
        Metadata = metadata;
        if (metadata.TryGetValue("model_config", out string? config)) Layers = ParseLayers(config);

        // model.save() nests the weights under model_weights; save_weights() puts the layers at the root.
        IH5Group weights = file.LinkExists("model_weights") ? file.Group("model_weights") : file;
        if (!weights.AttributeExists("layer_names")) throw Error("no 'layer_names' attribute: not a Keras HDF5 weights file");

        var tensors = new List<WeightTensor>();
        foreach (string layer in ReadStringsAttribute(weights, "layer_names"))
        {
            if (!weights.LinkExists(layer)) throw Error($"layer '{layer}' is listed in layer_names but has no group");
            IH5Group group = weights.Group(layer);
            if (!group.AttributeExists("weight_names")) continue;
            foreach (string weightName in ReadStringsAttribute(group, "weight_names"))
            {
                if (!group.LinkExists(weightName)) throw Error($"weight '{weightName}' of layer '{layer}' is listed but missing");
                tensors.Add(Describe(weightName, group.Dataset(weightName)));
            }
        }
        Tensors = tensors;
    }

    WeightTensor Describe(string name, IH5Dataset dataset)
    {
        IH5DataType type = dataset.Type;
        WeightDType dtype = (type.Class, type.Size) switch
        {
            (H5DataTypeClass.FloatingPoint, 4) => WeightDType.F32,
            (H5DataTypeClass.FloatingPoint, 8) => WeightDType.F64,
            _ => throw Error($"weight '{name}' has HDF5 type {type.Class} of {type.Size} bytes; only float32 and float64 are read"),
        };
        ulong[] dims = dataset.Space.Dimensions;
        if (dims.Length > 32) throw Error($"weight '{name}' has rank {dims.Length}");
        var shape = new int[dims.Length];
        // Stored bytes must fit in the file; chunked (possibly compressed) data may expand, but not beyond 1024×
        // (deflate's limit). Checked before each multiplication, so the product cannot overflow.
        long limit = dataset.Layout.Class == H5DataLayoutClass.Chunked ? fileLength * 1024 : fileLength;
        long count = 1;
        for (int d = 0; d < dims.Length; d++)
        {
            if (dims[d] > int.MaxValue) throw Error($"weight '{name}' has dimension {dims[d]}");
            shape[d] = (int)dims[d];
            if (shape[d] > 0 && count > limit / type.Size / shape[d])
                throw Error($"weight '{name}' of shape [{string.Join(",", dims)}] needs more bytes than the file's {fileLength} can hold");
            count *= shape[d];
            if (count > int.MaxValue) throw Error($"weight '{name}' of shape [{string.Join(",", dims)}] has more elements than one array holds");
        }
        long bytes = count * type.Size;
        return new WeightTensor(name, shape, dtype, bytes, () => ReadData(name, dataset, dtype, count));
    }

    float[] ReadData(string name, IH5Dataset dataset, WeightDType dtype, long count)
    {
        try
        {
            float[] values = dtype == WeightDType.F32 ? dataset.Read<float[]>()
                : Array.ConvertAll(dataset.Read<double[]>(), v => (float)v);
            if (values.Length != count) throw Error($"weight '{name}' read {values.Length} values for {count} elements");
            return values;
        }
        catch (Exception e) when (e is not WeightFormatException)
        {
            throw Wrap(Path, $"weight '{name}' could not be read", e);
        }
    }

    /// <summary>A string-array attribute (fixed- or variable-length strings), bounded by the file size.</summary>
    string[] ReadStringsAttribute(IH5Object owner, string name)
    {
        IH5Attribute attribute = owner.Attribute(name);
        ulong count = attribute.Space.Dimensions.Aggregate(1UL, (a, d) => d == 0 ? 0 : a > (ulong)fileLength / d ? ulong.MaxValue : a * d);
        if (count > (ulong)fileLength) throw Error($"attribute '{name}' claims {count} strings in a {fileLength}-byte file");
        if (count == 0) return [];
        if (attribute.Type.Class is not (H5DataTypeClass.String or H5DataTypeClass.VariableLength))
            throw Error($"attribute '{name}' has type {attribute.Type.Class}, expected strings");
        return attribute.Read<string[]>();
    }

    string ReadStringAttribute(IH5Object owner, string name)
    {
        IH5Attribute attribute = owner.Attribute(name);
        if (attribute.Type.Class is not (H5DataTypeClass.String or H5DataTypeClass.VariableLength))
            throw Error($"attribute '{name}' has type {attribute.Type.Class}, expected a string");
        return attribute.Space.Dimensions.Length == 0 ? attribute.Read<string>() : string.Join("", ReadStringsAttribute(owner, name));
    }

    /// <summary>Layers of a Functional or Sequential model_config ({"config": {"layers": [...]}} or, older, {"config": [...]}).</summary>
    IReadOnlyList<KerasLayer> ParseLayers(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 256 });
            if (!doc.RootElement.TryGetProperty("config", out JsonElement config)) return [];
            JsonElement layers = config.ValueKind == JsonValueKind.Array ? config
                : config.TryGetProperty("layers", out JsonElement l) ? l : default;
            if (layers.ValueKind != JsonValueKind.Array) return [];
            var result = new List<KerasLayer>();
            foreach (JsonElement layer in layers.EnumerateArray())
            {
                string className = layer.TryGetProperty("class_name", out var c) ? c.GetString() ?? "" : "";
                JsonElement layerConfig = layer.TryGetProperty("config", out var cfg) ? cfg.Clone() : default;
                string name = layerConfig.ValueKind == JsonValueKind.Object && layerConfig.TryGetProperty("name", out var n) ? n.GetString() ?? ""
                    : layer.TryGetProperty("name", out var n2) ? n2.GetString() ?? "" : "";
                result.Add(new KerasLayer(name, className, layerConfig));
            }
            return result;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw Error($"model_config is not valid Keras JSON: {e.Message}");
        }
    }
}
