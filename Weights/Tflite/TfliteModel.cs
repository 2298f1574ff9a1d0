using System.Buffers.Binary;

namespace NativeASD.Weights.Tflite;

/// <summary>Quantisation of a tensor: real = (q - ZeroPoint[c]) * Scale[c], c the index along <see cref="QuantizedDimension"/> (one scale = per tensor).</summary>
public sealed record TfliteQuantization(float[] Scale, long[] ZeroPoint, int QuantizedDimension, float[] Min, float[] Max)
{
    public bool PerChannel => Scale.Length > 1;
}

/// <summary>One tensor of a subgraph: a constant (with a buffer) or an activation (without).</summary>
public sealed class TfliteTensor
{
    readonly TfliteModel model;
    readonly int dataStart;

    internal TfliteTensor(TfliteModel model, int index, string name, int[] shape, TfliteTensorType type, int buffer,
        TfliteQuantization? quantization, int dataStart, int dataLength)
    {
        this.model = model;
        Index = index; Name = name; Shape = shape; Type = type; Buffer = buffer; Quantization = quantization;
        this.dataStart = dataStart; DataLength = dataLength;
    }

    public int Index { get; }
    public string Name { get; }
    public int[] Shape { get; }
    public TfliteTensorType Type { get; }
    /// <summary>Index into the model's buffers; 0 is the empty sentinel buffer.</summary>
    public int Buffer { get; }
    public TfliteQuantization? Quantization { get; }
    /// <summary>Bytes of constant data; 0 for activations.</summary>
    public int DataLength { get; }
    public bool HasData => DataLength > 0;
    public long Count => Shape.Aggregate(1L, (a, d) => a * d);

    /// <summary>The stored bytes (little-endian elements of <see cref="Type"/>).</summary>
    public ReadOnlySpan<byte> RawData => model.Bytes.AsSpan(dataStart, DataLength);

    /// <summary>Row-major float32 copy: float types converted, quantised integers dequantised, plain integers converted.</summary>
    public float[] ReadFloat32() => TfliteDecode.ToFloat32(model.Path, this);

    public override string ToString() => $"{Name} {Type} [{string.Join(",", Shape)}]";
}

/// <summary>One operator: builtin code, tensor indices (-1 = optional input absent) and decoded builtin options.</summary>
public sealed record TfliteOperator(int Index, int BuiltinCode, string? CustomCode, int Version, int[] Inputs, int[] Outputs,
    TfliteOptions? Options)
{
    public TfliteBuiltinOperator Opcode => (TfliteBuiltinOperator)BuiltinCode;
    public string OpName => CustomCode is not null && BuiltinCode == (int)TfliteBuiltinOperator.CUSTOM ? $"CUSTOM:{CustomCode}"
        : Enum.IsDefined(Opcode) ? Opcode.ToString() : $"BUILTIN_{BuiltinCode}";
}

public sealed record TfliteSubgraph(string Name, IReadOnlyList<TfliteTensor> Tensors, IReadOnlyList<TfliteOperator> Operators,
    int[] Inputs, int[] Outputs);

/// <summary>
/// A parsed TFLite flatbuffer (schema.fbs: Model{version, operator_codes, subgraphs, description, buffers, …}).
/// The whole file is held in memory (flatbuffers are limited to 2 GiB); tensor data is decoded on request.
/// </summary>
public sealed class TfliteModel
{
    internal byte[] Bytes { get; }
    public string Path { get; }
    public uint Version { get; }
    public string? Description { get; }
    public IReadOnlyList<TfliteSubgraph> Subgraphs { get; }
    /// <summary>Metadata entries (name → bytes of its buffer), e.g. min_runtime_version.</summary>
    public IReadOnlyDictionary<string, byte[]> Metadata { get; }

    /// <summary>The main subgraph's tensors and operators.</summary>
    public IReadOnlyList<TfliteTensor> Tensors => Subgraphs[0].Tensors;
    public IReadOnlyList<TfliteOperator> Operators => Subgraphs[0].Operators;

    public static TfliteModel Load(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new WeightFormatException(path, "file not found");
        if (info.Length > int.MaxValue) throw new WeightFormatException(path, $"{info.Length} bytes is more than a flatbuffer can address (2 GiB)");
        return Parse(path, File.ReadAllBytes(path));
    }

    /// <summary>Parses <paramref name="bytes"/>; <paramref name="path"/> only names the file in errors.</summary>
    public static TfliteModel Parse(string path, byte[] bytes)
    {
        try { return new TfliteModel(path, bytes); }
        catch (WeightFormatException) { throw; }
        catch (Exception e) when (e is ArgumentException or OverflowException or IndexOutOfRangeException or InvalidCastException)
        {
            // Defence in depth: every read is checked, but a malformed file must never surface as another exception type.
            throw new WeightFormatException(path, $"malformed flatbuffer ({e.GetType().Name}: {e.Message})", e);
        }
    }

    public static bool Sniff(ReadOnlySpan<byte> head) => head.Length >= 8 && head[4..8].SequenceEqual("TFL3"u8);

    TfliteModel(string path, byte[] bytes)
    {
        Path = path;
        Bytes = bytes;
        var fb = new FlatBuffer(path, bytes);
        if (bytes.Length < 8) throw fb.Error($"file is {bytes.Length} bytes, too short for a TFLite flatbuffer");
        if (!Sniff(bytes)) throw fb.Error("no TFLite file identifier \"TFL3\" at offset 4");

        FlatTable model = fb.Root("Model");
        Version = model.U32(0);
        Description = model.String(3);

        var buffers = model.Tables(4, "Model.buffers");
        var codes = model.Tables(1, "Model.operator_codes").Select(ReadOperatorCode).ToArray();

        var metadata = new Dictionary<string, byte[]>();
        foreach (var entry in model.Tables(6, "Model.metadata"))
        {
            string name = entry.String(0) ?? "";
            uint b = entry.U32(1);
            if (b >= buffers.Length) throw fb.Error($"metadata '{name}' refers to buffer {b}, but the model has {buffers.Length} buffers");
            var (start, length) = BufferExtent(fb, buffers[(int)b], (int)b);
            metadata[name] = bytes.AsSpan(start, length).ToArray();
        }
        Metadata = metadata;

        var subgraphs = model.Tables(2, "Model.subgraphs");
        if (subgraphs.Length == 0) throw fb.Error("the model has no subgraphs");
        Subgraphs = subgraphs.Select((g, i) => ReadSubgraph(fb, g, i, buffers, codes)).ToArray();
    }

    static (int Code, string? Custom, int Version) ReadOperatorCode(FlatTable code)
    {
        // builtin_code (int) superseded deprecated_builtin_code (byte) once codes passed 127; readers take the larger.
        int code32 = Math.Max(code.U8(0), code.I32(3));
        return (code32, code.String(1), code.I32(2, 1));
    }

    /// <summary>Start and length of a buffer's bytes: inline data vector, or offset/size from the file start (large models).</summary>
    static (int Start, int Length) BufferExtent(FlatBuffer fb, FlatTable buffer, int index)
    {
        if (buffer.Vector(0, 1, $"buffer {index} data") is { } data) return (data.Start, data.Count);
        ulong offset = buffer.U64(1), size = buffer.U64(2);
        if (offset == 0 && size == 0) return (0, 0);
        if (offset > (ulong)fb.Length || size > (ulong)fb.Length - offset)
            throw fb.Error($"buffer {index} claims bytes [{offset}, {offset}+{size}) outside the file ({fb.Length} bytes)");
        return ((int)offset, (int)size);
    }

    TfliteSubgraph ReadSubgraph(FlatBuffer fb, FlatTable graph, int graphIndex, FlatTable[] buffers,
        (int Code, string? Custom, int Version)[] codes)
    {
        string graphName = graph.String(4) ?? $"subgraph{graphIndex}";
        var tensorTables = graph.Tables(0, $"subgraph {graphIndex} tensors");
        var tensors = new TfliteTensor[tensorTables.Length];
        for (int t = 0; t < tensors.Length; t++)
            tensors[t] = ReadTensor(fb, tensorTables[t], t, buffers);

        int[] inputs = CheckIndices(fb, graph.Int32s(1, "subgraph inputs"), tensors.Length, $"subgraph {graphIndex} inputs");
        int[] outputs = CheckIndices(fb, graph.Int32s(2, "subgraph outputs"), tensors.Length, $"subgraph {graphIndex} outputs");

        var opTables = graph.Tables(3, $"subgraph {graphIndex} operators");
        var operators = new TfliteOperator[opTables.Length];
        for (int o = 0; o < operators.Length; o++)
        {
            FlatTable op = opTables[o];
            uint opcodeIndex = op.U32(0);
            if (opcodeIndex >= codes.Length)
                throw fb.Error($"operator {o} uses opcode index {opcodeIndex}, but the model has {codes.Length} operator codes");
            var (code, custom, version) = codes[opcodeIndex];
            int[] opInputs = CheckIndices(fb, op.Int32s(1, $"operator {o} inputs"), tensors.Length, $"operator {o} inputs");
            int[] opOutputs = CheckIndices(fb, op.Int32s(2, $"operator {o} outputs"), tensors.Length, $"operator {o} outputs");
            operators[o] = new TfliteOperator(o, code, custom, version, opInputs, opOutputs, ReadOptions(fb, op, o, code));
        }
        return new TfliteSubgraph(graphName, tensors, operators, inputs, outputs);
    }

    static int[] CheckIndices(FlatBuffer fb, int[] indices, int tensorCount, string what)
    {
        foreach (int i in indices)
            if (i < -1 || i >= tensorCount) throw fb.Error($"{what} refer to tensor {i}, but the subgraph has {tensorCount} tensors");
        return indices;
    }

    TfliteTensor ReadTensor(FlatBuffer fb, FlatTable tensor, int index, FlatTable[] buffers)
    {
        string name = tensor.String(3) ?? $"tensor{index}";
        int[] shape = tensor.Int32s(0, $"tensor '{name}' shape");
        foreach (int d in shape)
            if (d < 0) throw fb.Error($"tensor '{name}' has negative dimension {d} in shape [{string.Join(",", shape)}]");
        var type = (TfliteTensorType)tensor.U8(1);
        uint buffer = tensor.U32(2);
        if (buffer >= buffers.Length)
            throw fb.Error($"tensor '{name}' refers to buffer {buffer}, but the model has {buffers.Length} buffers");
        var (start, length) = BufferExtent(fb, buffers[(int)buffer], (int)buffer);

        TfliteQuantization? quantization = null;
        if (tensor.Table(4, $"tensor '{name}' quantization") is { } q)
        {
            float[] scale = q.Floats(2, $"tensor '{name}' scale");
            if (scale.Length > 0)
                quantization = new TfliteQuantization(scale, q.Int64s(3, $"tensor '{name}' zero_point"), q.I32(6),
                    q.Floats(0, $"tensor '{name}' min"), q.Floats(1, $"tensor '{name}' max"));
        }

        var result = new TfliteTensor(this, index, name, shape, type, (int)buffer, quantization, start, length);
        if (length > 0) TfliteDecode.Validate(fb.Path, result);
        return result;
    }

    static TfliteOptions? ReadOptions(FlatBuffer fb, FlatTable op, int index, int code)
    {
        byte optionsType = op.U8(3);
        if (op.Table(4, $"operator {index} builtin_options") is not { } o) return null;

        // The union tag must be the options table that this opcode uses, else the fields would be misread.
        TfliteOptions? Expect(byte tag, Func<FlatTable, TfliteOptions> read) =>
            optionsType == tag ? read(o)
            : throw fb.Error($"operator {index} ({(TfliteBuiltinOperator)code}) has builtin options of type {optionsType}, expected {tag}");
        static TfliteActivation Act(byte b) => (TfliteActivation)b;
        static TflitePadding Pad(byte b) => (TflitePadding)b;

        return (TfliteBuiltinOperator)code switch
        {
            TfliteBuiltinOperator.CONV_2D => Expect(1, t => new TfliteConv2DOptions(Pad(t.U8(0)), t.I32(1), t.I32(2), Act(t.U8(3)), t.I32(4, 1), t.I32(5, 1))),
            TfliteBuiltinOperator.DEPTHWISE_CONV_2D => Expect(2, t => new TfliteDepthwiseConv2DOptions(Pad(t.U8(0)), t.I32(1), t.I32(2), t.I32(3), Act(t.U8(4)), t.I32(5, 1), t.I32(6, 1))),
            TfliteBuiltinOperator.AVERAGE_POOL_2D or TfliteBuiltinOperator.MAX_POOL_2D =>
                Expect(5, t => new TflitePool2DOptions(Pad(t.U8(0)), t.I32(1), t.I32(2), t.I32(3), t.I32(4), Act(t.U8(5)))),
            TfliteBuiltinOperator.FULLY_CONNECTED => Expect(8, t => new TfliteFullyConnectedOptions(Act(t.U8(0)), t.Bool(2))),
            TfliteBuiltinOperator.SOFTMAX => Expect(9, t => new TfliteSoftmaxOptions(t.F32(0))),
            TfliteBuiltinOperator.CONCATENATION => Expect(10, t => new TfliteActivationOptions(Act(t.U8(1)), t.I32(0))),
            TfliteBuiltinOperator.ADD => Expect(11, t => new TfliteActivationOptions(Act(t.U8(0)))),
            TfliteBuiltinOperator.RESHAPE => Expect(17, t => new TfliteReshapeOptions(t.Int32s(0, $"operator {index} new_shape"))),
            TfliteBuiltinOperator.MUL => Expect(21, t => new TfliteActivationOptions(Act(t.U8(0)))),
            TfliteBuiltinOperator.MEAN or TfliteBuiltinOperator.SUM or TfliteBuiltinOperator.REDUCE_MAX
                or TfliteBuiltinOperator.REDUCE_MIN or TfliteBuiltinOperator.REDUCE_PROD => Expect(27, t => new TfliteReducerOptions(t.Bool(0))),
            TfliteBuiltinOperator.SUB => Expect(28, t => new TfliteActivationOptions(Act(t.U8(0)))),
            TfliteBuiltinOperator.DIV => Expect(29, t => new TfliteActivationOptions(Act(t.U8(0)))),
            TfliteBuiltinOperator.SPLIT => Expect(35, t => new TfliteSplitOptions(t.I32(0))),
            _ => null,
        };
    }
}
