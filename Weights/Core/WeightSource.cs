namespace NativeASD.Weights;

/// <summary>Element types that weight files store; every reader decodes them to float32 on request.</summary>
public enum WeightDType { F32, F16, BF16, F64, I8, U8, I16, I32, I64, Bool }

/// <summary>
/// One named tensor in a weight file. Shape and type come from the header; the data is decoded only when
/// <see cref="ReadFloat32"/> is called (quantised tensors are dequantised there).
/// </summary>
public sealed class WeightTensor(string name, int[] shape, WeightDType storedAs, long byteLength, Func<float[]> decode)
{
    public string Name { get; } = name;
    public int[] Shape { get; } = shape;
    /// <summary>Element type in the source file (before decoding).</summary>
    public WeightDType StoredAs { get; } = storedAs;
    /// <summary>Bytes the tensor occupies in the source file.</summary>
    public long ByteLength { get; } = byteLength;
    /// <summary>Free-form notes a reader attaches, e.g. "int8 per-channel axis 0".</summary>
    public string? Note { get; init; }

    public long Count => Shape.Aggregate(1L, (a, d) => a * d);

    /// <summary>Row-major float32 copy of the data.</summary>
    public float[] ReadFloat32() => decode();

    /// <summary>Decodes elements [start, start + destination.Length) (row-major) into destination, without a copy of the
    /// whole tensor; set by readers that can (safetensors: straight from the mapping), null otherwise.</summary>
    public Action<long, Span<float>>? DecodeRange { get; init; }

    public override string ToString() => $"{Name} {StoredAs} [{string.Join(",", Shape)}]";
}

/// <summary>An opened weight file of any supported format.</summary>
public interface IWeightSource : IDisposable
{
    /// <summary>Path the source was opened from; errors name it.</summary>
    string Path { get; }
    /// <summary>Format name: safetensors, torch-zip, torch-legacy, tflite, onnx, keras-h5.</summary>
    string Format { get; }
    /// <summary>Tensors in file order, names as the source spells them.</summary>
    IReadOnlyList<WeightTensor> Tensors { get; }
    /// <summary>String metadata the file carries (may be empty).</summary>
    IReadOnlyDictionary<string, string> Metadata { get; }
}

/// <summary>A weight file that is malformed, truncated, hostile or unsupported. The message names the file and the problem.</summary>
public sealed class WeightFormatException(string path, string problem, Exception? inner = null)
    : IOException($"{path}: {problem}", inner)
{
    public string FilePath { get; } = path;
    public string Problem { get; } = problem;
}
