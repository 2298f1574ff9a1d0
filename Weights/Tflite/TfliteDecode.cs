using System.Buffers.Binary;

namespace NativeASD.Weights.Tflite;

/// <summary>Checks constant tensors against their buffers and decodes them to float32 (dequantising where quantised).</summary>
internal static class TfliteDecode
{
    /// <summary>Bytes per element of the types decodable to float32; 0 for the rest.</summary>
    public static int ElementSize(TfliteTensorType type) => type switch
    {
        TfliteTensorType.Float32 or TfliteTensorType.Int32 or TfliteTensorType.UInt32 => 4,
        TfliteTensorType.Float16 or TfliteTensorType.BFloat16 or TfliteTensorType.Int16 or TfliteTensorType.UInt16 => 2,
        TfliteTensorType.Int8 or TfliteTensorType.UInt8 or TfliteTensorType.Bool => 1,
        TfliteTensorType.Int64 or TfliteTensorType.Float64 => 8,
        _ => 0,
    };

    public static WeightDType? ToWeightDType(TfliteTensorType type) => type switch
    {
        TfliteTensorType.Float32 => WeightDType.F32,
        TfliteTensorType.Float16 => WeightDType.F16,
        TfliteTensorType.BFloat16 => WeightDType.BF16,
        TfliteTensorType.Float64 => WeightDType.F64,
        TfliteTensorType.Int8 => WeightDType.I8,
        TfliteTensorType.UInt8 => WeightDType.U8,
        TfliteTensorType.Int16 => WeightDType.I16,
        TfliteTensorType.Int32 => WeightDType.I32,
        TfliteTensorType.Int64 => WeightDType.I64,
        TfliteTensorType.Bool => WeightDType.Bool,
        _ => null,
    };

    /// <summary>Shape, buffer length and quantisation must agree before anything is decoded or allocated.</summary>
    public static void Validate(string path, TfliteTensor t)
    {
        int size = ElementSize(t.Type);
        if (size == 0) return; // strings, resources, int4 …: listed by the model, not decodable to float32
        long count = 1;
        foreach (int d in t.Shape)
        {
            count *= d;
            if (count > t.DataLength) break; // the mismatch below reports it; stops overflow on huge dims
        }
        if (count * size != t.DataLength)
            throw new WeightFormatException(path,
                $"tensor '{t.Name}' of shape [{string.Join(",", t.Shape)}] {t.Type} needs {count} elements × {size} bytes, but buffer {t.Buffer} holds {t.DataLength} bytes");
        if (t.Quantization is not { } q) return;
        if (q.PerChannel)
        {
            if (q.QuantizedDimension < 0 || q.QuantizedDimension >= t.Shape.Length)
                throw new WeightFormatException(path, $"tensor '{t.Name}' is quantised along dimension {q.QuantizedDimension} of a {t.Shape.Length}-d shape");
            if (t.Shape[q.QuantizedDimension] != q.Scale.Length)
                throw new WeightFormatException(path,
                    $"tensor '{t.Name}' has {q.Scale.Length} scales for dimension {q.QuantizedDimension} of size {t.Shape[q.QuantizedDimension]}");
        }
        if (q.ZeroPoint.Length != 0 && q.ZeroPoint.Length != 1 && q.ZeroPoint.Length != q.Scale.Length)
            throw new WeightFormatException(path, $"tensor '{t.Name}' has {q.ZeroPoint.Length} zero points for {q.Scale.Length} scales");
    }

    public static float[] ToFloat32(string path, TfliteTensor t)
    {
        int size = ElementSize(t.Type);
        if (!t.HasData) throw new WeightFormatException(path, $"tensor '{t.Name}' has no constant data (it is an activation)");
        if (size == 0) throw new WeightFormatException(path, $"tensor '{t.Name}' of type {t.Type} cannot be decoded to float32");
        ReadOnlySpan<byte> raw = t.RawData;
        var values = new float[raw.Length / size];
        TfliteQuantization? q = IsFloat(t.Type) ? null : t.Quantization;
        long inner = 1;
        if (q is { PerChannel: true }) for (int d = q.QuantizedDimension + 1; d < t.Shape.Length; d++) inner *= t.Shape[d];
        for (int i = 0; i < values.Length; i++)
        {
            double x = Element(t.Type, raw.Slice(i * size, size));
            if (q is not null)
            {
                // real = (q - zero_point[c]) * scale[c]; in double so int32 biases stay exact until the one rounding to float32
                int c = q.PerChannel ? (int)(i / inner % q.Scale.Length) : 0;
                long zero = q.ZeroPoint.Length == 0 ? 0 : q.ZeroPoint[q.ZeroPoint.Length == 1 ? 0 : c];
                x = (x - zero) * q.Scale[c];
            }
            values[i] = (float)x;
        }
        return values;
    }

    static bool IsFloat(TfliteTensorType type) =>
        type is TfliteTensorType.Float32 or TfliteTensorType.Float16 or TfliteTensorType.BFloat16 or TfliteTensorType.Float64;

    static double Element(TfliteTensorType type, ReadOnlySpan<byte> b) => type switch
    {
        TfliteTensorType.Float32 => BinaryPrimitives.ReadSingleLittleEndian(b),
        TfliteTensorType.Float16 => (float)BinaryPrimitives.ReadHalfLittleEndian(b),
        TfliteTensorType.BFloat16 => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(b) << 16),
        TfliteTensorType.Float64 => BinaryPrimitives.ReadDoubleLittleEndian(b),
        TfliteTensorType.Int8 => (sbyte)b[0],
        TfliteTensorType.UInt8 or TfliteTensorType.Bool => b[0],
        TfliteTensorType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(b),
        TfliteTensorType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(b),
        TfliteTensorType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(b),
        TfliteTensorType.UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(b),
        TfliteTensorType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(b),
        _ => throw new InvalidOperationException($"no float32 decoding for {type}"),
    };
}
