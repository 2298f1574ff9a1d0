using System.Buffers.Binary;

namespace NativeASD.Weights;

/// <summary>Element sizes, safetensors dtype names, and little-endian decoding of every <see cref="WeightDType"/> to float32.</summary>
public static class WeightDTypes
{
    public static int Size(WeightDType t) => t switch
    {
        WeightDType.F64 or WeightDType.I64 => 8,
        WeightDType.F32 or WeightDType.I32 => 4,
        WeightDType.F16 or WeightDType.BF16 or WeightDType.I16 => 2,
        _ => 1,
    };

    public static bool IsFloat(WeightDType t) => t is WeightDType.F32 or WeightDType.F16 or WeightDType.BF16 or WeightDType.F64;

    /// <summary>The safetensors spelling (F32, F16, BF16, F64, I8, U8, I16, I32, I64, BOOL).</summary>
    public static string SafetensorsName(WeightDType t) => t == WeightDType.Bool ? "BOOL" : t.ToString();

    public static bool TryParseSafetensorsName(string name, out WeightDType t)
    {
        switch (name)
        {
            case "F32": t = WeightDType.F32; return true;
            case "F16": t = WeightDType.F16; return true;
            case "BF16": t = WeightDType.BF16; return true;
            case "F64": t = WeightDType.F64; return true;
            case "I8": t = WeightDType.I8; return true;
            case "U8": t = WeightDType.U8; return true;
            case "I16": t = WeightDType.I16; return true;
            case "I32": t = WeightDType.I32; return true;
            case "I64": t = WeightDType.I64; return true;
            case "BOOL": t = WeightDType.Bool; return true;
            default: t = default; return false;
        }
    }

    /// <summary>Decodes <c>dst.Length</c> little-endian elements of type <paramref name="t"/> from <paramref name="src"/>.</summary>
    public static void DecodeToFloat32(ReadOnlySpan<byte> src, WeightDType t, Span<float> dst)
    {
        int size = Size(t);
        if (src.Length < (long)dst.Length * size) throw new ArgumentException($"{dst.Length} {t} elements need {(long)dst.Length * size} bytes, got {src.Length}");
        switch (t)
        {
            case WeightDType.F32:
                if (BitConverter.IsLittleEndian) System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(src[..(dst.Length * 4)]).CopyTo(dst);
                else for (int i = 0; i < dst.Length; i++) dst[i] = BinaryPrimitives.ReadSingleLittleEndian(src[(4 * i)..]);
                break;
            case WeightDType.F16:
                for (int i = 0; i < dst.Length; i++) dst[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(src[(2 * i)..]);
                break;
            case WeightDType.BF16:
                for (int i = 0; i < dst.Length; i++) dst[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(src[(2 * i)..]) << 16);
                break;
            case WeightDType.F64:
                for (int i = 0; i < dst.Length; i++) dst[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(src[(8 * i)..]);
                break;
            case WeightDType.I8:
                for (int i = 0; i < dst.Length; i++) dst[i] = (sbyte)src[i];
                break;
            case WeightDType.U8:
            case WeightDType.Bool:
                for (int i = 0; i < dst.Length; i++) dst[i] = src[i];
                break;
            case WeightDType.I16:
                for (int i = 0; i < dst.Length; i++) dst[i] = BinaryPrimitives.ReadInt16LittleEndian(src[(2 * i)..]);
                break;
            case WeightDType.I32:
                for (int i = 0; i < dst.Length; i++) dst[i] = BinaryPrimitives.ReadInt32LittleEndian(src[(4 * i)..]);
                break;
            case WeightDType.I64:
                for (int i = 0; i < dst.Length; i++) dst[i] = BinaryPrimitives.ReadInt64LittleEndian(src[(8 * i)..]);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype");
        }
    }

    /// <summary>Element count of a shape, or -1 when it is negative or overflows a long.</summary>
    public static long CheckedCount(IReadOnlyList<long> shape)
    {
        long n = 1;
        foreach (long d in shape)
        {
            if (d < 0) return -1;
            if (d != 0 && n > long.MaxValue / d) return -1;
            n *= d;
        }
        return n;
    }
}
