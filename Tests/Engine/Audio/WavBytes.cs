using System.Buffers.Binary;

namespace NativeASD.Tests.Engine.Audio;

/// <summary>Builds WAV images byte by byte, so tests can make files our writer never would (extensible, G.711, ADPCM, broken ones).</summary>
static class WavBytes
{
    /// <summary>RIFF/WAVE with a fmt chunk (16 bytes, or 40 for WAVE_FORMAT_EXTENSIBLE with <paramref name="subFormat"/>) and a data chunk.</summary>
    public static byte[] Build(int tag, int channels, int rate, int bits, byte[] data, int? blockAlign = null,
        Guid? subFormat = null, long? declaredDataLength = null, int? validBits = null)
    {
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        bool ext = subFormat is not null;
        int align = blockAlign ?? channels * bits / 8;
        w.Write("RIFF"u8); w.Write(0u); w.Write("WAVE"u8);
        w.Write("fmt "u8); w.Write(ext ? 40 : 16);
        w.Write((ushort)(ext ? 0xFFFE : tag)); w.Write((ushort)channels); w.Write(rate); w.Write(rate * align);
        w.Write((ushort)align); w.Write((ushort)bits);
        if (ext)
        {
            w.Write((ushort)22); w.Write((ushort)(validBits ?? bits)); w.Write(0u);   // cbSize, valid bits, channel mask
            w.Write(subFormat!.Value.ToByteArray());
        }
        w.Write("data"u8); w.Write((uint)(declaredDataLength ?? data.Length));
        w.Write(data);
        w.Flush();
        var bytes = ms.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), (uint)(bytes.Length - 8));
        return bytes;
    }

    public static byte[] Int16(params short[] v)
    {
        var b = new byte[2 * v.Length];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(2 * i), v[i]);
        return b;
    }

    public static byte[] Int24(params int[] v)
    {
        var b = new byte[3 * v.Length];
        for (int i = 0; i < v.Length; i++) { b[3 * i] = (byte)v[i]; b[3 * i + 1] = (byte)(v[i] >> 8); b[3 * i + 2] = (byte)(v[i] >> 16); }
        return b;
    }

    public static byte[] Int32(params int[] v)
    {
        var b = new byte[4 * v.Length];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4 * i), v[i]);
        return b;
    }

    public static byte[] Float32(params float[] v)
    {
        var b = new byte[4 * v.Length];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(4 * i), v[i]);
        return b;
    }

    public static byte[] Float64(params double[] v)
    {
        var b = new byte[8 * v.Length];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(b.AsSpan(8 * i), v[i]);
        return b;
    }

    public static readonly Guid PcmSubFormat = new("00000001-0000-0010-8000-00aa00389b71");
    public static readonly Guid FloatSubFormat = new("00000003-0000-0010-8000-00aa00389b71");
}
