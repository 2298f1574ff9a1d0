using System.Buffers.Binary;
using Google.Protobuf;
using NativeASD.Weights.Onnx.Proto;

namespace NativeASD.Weights.Onnx;

/// <summary>
/// ONNX models as a weight source: the graph's initializers (TensorProto), decoded from raw_data or the typed
/// *_data fields. Parsing uses Google.Protobuf with C# generated at build time from Onnx/onnx_weights.proto.
/// </summary>
public static class OnnxFile
{
    /// <summary>
    /// Heuristic: a ModelProto starts with field 1 (ir_version, varint, tag 0x08) and a small version, as every
    /// exporter writes it; other orders are still opened by <see cref="Open"/> when named explicitly.
    /// </summary>
    public static bool Sniff(ReadOnlySpan<byte> head) => head.Length >= 4 && head[0] == 0x08 && head[1] is >= 1 and <= 0x7f
        && head[2] is 0x12 or 0x1a or 0x22 or 0x28 or 0x32 or 0x3a or 0x42; // then producer_name … doc_string, graph or opset_import

    public static IWeightSource Open(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new WeightFormatException(path, "file not found");
        if (info.Length > int.MaxValue) throw new WeightFormatException(path, $"{info.Length} bytes is more than a protobuf message may hold (2 GiB)");
        return Parse(path, File.ReadAllBytes(path));
    }

    /// <summary>Parses <paramref name="bytes"/>; <paramref name="path"/> only names the file in errors.</summary>
    public static IWeightSource Parse(string path, byte[] bytes)
    {
        ModelProto model;
        try { model = ModelProto.Parser.ParseFrom(bytes); }
        catch (InvalidProtocolBufferException e) { throw new WeightFormatException(path, $"not a valid ONNX protobuf: {e.Message}", e); }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or OverflowException)
        {
            throw new WeightFormatException(path, $"malformed ONNX protobuf ({e.GetType().Name}: {e.Message})", e);
        }
        if (model.Graph is null) throw new WeightFormatException(path, "the ONNX model has no graph");
        return new OnnxWeightSource(path, model);
    }
}

/// <summary>ONNX data types (TensorProto.DataType).</summary>
public enum OnnxDataType
{
    Undefined = 0, Float = 1, UInt8 = 2, Int8 = 3, UInt16 = 4, Int16 = 5, Int32 = 6, Int64 = 7, String = 8, Bool = 9,
    Float16 = 10, Double = 11, UInt32 = 12, UInt64 = 13, Complex64 = 14, Complex128 = 15, BFloat16 = 16,
}

public sealed class OnnxWeightSource : IWeightSource
{
    internal OnnxWeightSource(string path, ModelProto model)
    {
        Path = path;
        var metadata = new Dictionary<string, string>
        {
            ["onnx.ir_version"] = model.IrVersion.ToString(),
            ["onnx.producer"] = $"{model.ProducerName} {model.ProducerVersion}".Trim(),
        };
        foreach (var opset in model.OpsetImport) metadata[$"onnx.opset.{(opset.Domain.Length == 0 ? "ai.onnx" : opset.Domain)}"] = opset.Version.ToString();
        foreach (var entry in model.MetadataProps) metadata[entry.Key] = entry.Value;
        Metadata = metadata;
        Nodes = model.Graph.Node.Select(n => new OnnxNode(n.Name, n.OpType, n.Domain, [.. n.Input], [.. n.Output])).ToArray();
        Tensors = model.Graph.Initializer.Select(ToWeightTensor).ToArray();
    }

    public string Path { get; }
    public string Format => "onnx";
    public IReadOnlyList<WeightTensor> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>The graph's nodes in file (topological) order.</summary>
    public IReadOnlyList<OnnxNode> Nodes { get; }

    public void Dispose() { }

    WeightFormatException Error(string problem) => new(Path, problem);

    WeightTensor ToWeightTensor(TensorProto t, int index)
    {
        string name = t.Name.Length > 0 ? t.Name : $"initializer{index}";
        if (t.DataLocation == 1 || t.ExternalData.Count > 0)
        {
            string location = t.ExternalData.FirstOrDefault(e => e.Key == "location")?.Value ?? "?";
            throw Error($"initializer '{name}' keeps its data in external file '{location}'; external data is not supported (re-export with the weights inside the .onnx file)");
        }
        var type = (OnnxDataType)t.DataType;
        int size = ElementSize(type);
        WeightDType dtype = ToWeightDType(type) ?? throw Error($"initializer '{name}' has data type {type} ({t.DataType}), which cannot be decoded to float32");

        var shape = new int[t.Dims.Count];
        long count = 1;
        for (int d = 0; d < shape.Length; d++)
        {
            long dim = t.Dims[d];
            if (dim < 0 || dim > int.MaxValue) throw Error($"initializer '{name}' has invalid dimension {dim} in [{string.Join(",", t.Dims)}]");
            shape[d] = (int)dim;
            count = count * dim;
            if (count > int.MaxValue) throw Error($"initializer '{name}' of shape [{string.Join(",", t.Dims)}] has more elements than one array holds");
        }

        // The element count must match the stored data before anything is allocated from it.
        long stored = StoredCount(t, type, size);
        if (stored != count)
            throw Error($"initializer '{name}' of shape [{string.Join(",", shape)}] {type} needs {count} elements, but its data holds {stored}");
        long bytes = t.RawData.Length > 0 ? t.RawData.Length : count * size;
        return new WeightTensor(name, shape, dtype, bytes, () => Decode(t, type, size, (int)count));
    }

    static long StoredCount(TensorProto t, OnnxDataType type, int size)
    {
        if (t.RawData.Length > 0) return t.RawData.Length % size == 0 ? t.RawData.Length / size : -1;
        return type switch
        {
            OnnxDataType.Float => t.FloatData.Count,
            OnnxDataType.Double => t.DoubleData.Count,
            OnnxDataType.Int64 => t.Int64Data.Count,
            _ => t.Int32Data.Count, // int8/16/32, uint8, bool, float16, bfloat16 travel in int32_data
        };
    }

    static float[] Decode(TensorProto t, OnnxDataType type, int size, int count)
    {
        var values = new float[count];
        if (t.RawData.Length > 0)
        {
            ReadOnlySpan<byte> raw = t.RawData.Span;
            for (int i = 0; i < count; i++) values[i] = FromRaw(type, raw.Slice(i * size, size));
            return values;
        }
        for (int i = 0; i < count; i++)
            values[i] = type switch
            {
                OnnxDataType.Float => t.FloatData[i],
                OnnxDataType.Double => (float)t.DoubleData[i],
                OnnxDataType.Int64 => t.Int64Data[i],
                OnnxDataType.Float16 => (float)BitConverter.UInt16BitsToHalf((ushort)t.Int32Data[i]),
                OnnxDataType.BFloat16 => BitConverter.Int32BitsToSingle(t.Int32Data[i] << 16),
                _ => t.Int32Data[i],
            };
        return values;
    }

    static float FromRaw(OnnxDataType type, ReadOnlySpan<byte> b) => type switch
    {
        OnnxDataType.Float => BinaryPrimitives.ReadSingleLittleEndian(b),
        OnnxDataType.Double => (float)BinaryPrimitives.ReadDoubleLittleEndian(b),
        OnnxDataType.Float16 => (float)BinaryPrimitives.ReadHalfLittleEndian(b),
        OnnxDataType.BFloat16 => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(b) << 16),
        OnnxDataType.Int8 => (sbyte)b[0],
        OnnxDataType.UInt8 or OnnxDataType.Bool => b[0],
        OnnxDataType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(b),
        OnnxDataType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(b),
        OnnxDataType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(b),
        _ => throw new InvalidOperationException($"no float32 decoding for {type}"),
    };

    static int ElementSize(OnnxDataType type) => type switch
    {
        OnnxDataType.Float or OnnxDataType.Int32 => 4,
        OnnxDataType.Float16 or OnnxDataType.BFloat16 or OnnxDataType.Int16 => 2,
        OnnxDataType.Int8 or OnnxDataType.UInt8 or OnnxDataType.Bool => 1,
        OnnxDataType.Int64 or OnnxDataType.Double => 8,
        _ => 0,
    };

    static WeightDType? ToWeightDType(OnnxDataType type) => type switch
    {
        OnnxDataType.Float => WeightDType.F32,
        OnnxDataType.Float16 => WeightDType.F16,
        OnnxDataType.BFloat16 => WeightDType.BF16,
        OnnxDataType.Double => WeightDType.F64,
        OnnxDataType.Int8 => WeightDType.I8,
        OnnxDataType.UInt8 => WeightDType.U8,
        OnnxDataType.Int16 => WeightDType.I16,
        OnnxDataType.Int32 => WeightDType.I32,
        OnnxDataType.Int64 => WeightDType.I64,
        OnnxDataType.Bool => WeightDType.Bool,
        _ => null, // unsigned 16/32/64-bit have no WeightDType; strings and complex numbers are not weights
    };
}

/// <summary>One graph node: operator type and value names.</summary>
public sealed record OnnxNode(string Name, string OpType, string Domain, string[] Inputs, string[] Outputs);
