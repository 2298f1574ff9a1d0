using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using NAudio.Codecs;

namespace NativeASD.Engine.Audio;

/// <summary>
/// Per-encoding sample decoders. Each is a struct so <see cref="Decode{T}"/> is compiled once per encoding with the
/// conversion inlined (a switch per sample costs several times more than the conversion itself).
/// </summary>
internal static class SampleCodecs
{
    public interface ICodec
    {
        static abstract int Size { get; }
        static abstract float Read(ReadOnlySpan<byte> b);
    }

    /// <summary>8-bit PCM is unsigned: (b − 128) / 128.</summary>
    public readonly struct Pcm8 : ICodec
    {
        public static int Size => 1;
        public static float Read(ReadOnlySpan<byte> b) => (b[0] - 128) * (1f / 128);
    }

    public readonly struct Pcm16 : ICodec
    {
        public static int Size => 2;
        public static float Read(ReadOnlySpan<byte> b) => BinaryPrimitives.ReadInt16LittleEndian(b) * (1f / 32768);
    }

    public readonly struct Pcm24 : ICodec
    {
        public static int Size => 3;
        public static float Read(ReadOnlySpan<byte> b) => (b[0] | b[1] << 8 | (sbyte)b[2] << 16) * (1f / 8388608);
    }

    public readonly struct Pcm32 : ICodec
    {
        public static int Size => 4;
        public static float Read(ReadOnlySpan<byte> b) => BinaryPrimitives.ReadInt32LittleEndian(b) * (1f / 2147483648f);
    }

    public readonly struct Float32 : ICodec
    {
        public static int Size => 4;
        public static float Read(ReadOnlySpan<byte> b) => BinaryPrimitives.ReadSingleLittleEndian(b);
    }

    public readonly struct Float64 : ICodec
    {
        public static int Size => 8;
        public static float Read(ReadOnlySpan<byte> b) => (float)BinaryPrimitives.ReadDoubleLittleEndian(b);
    }

    /// <summary>G.711 mu-law through NAudio's table, as a 16-bit sample.</summary>
    public readonly struct MuLaw : ICodec
    {
        public static int Size => 1;
        public static float Read(ReadOnlySpan<byte> b) => MuLawDecoder.MuLawToLinearSample(b[0]) * (1f / 32768);
    }

    /// <summary>G.711 A-law through NAudio's table, as a 16-bit sample.</summary>
    public readonly struct ALaw : ICodec
    {
        public static int Size => 1;
        public static float Read(ReadOnlySpan<byte> b) => ALawDecoder.ALawToLinearSample(b[0]) * (1f / 32768);
    }

    /// <summary>
    /// Decodes destination.Length interleaved frames of <paramref name="channels"/> samples: channel <paramref name="channel"/>,
    /// or the mean of all channels (summed in double, divided by the count) when it is negative.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Decode<T>(ReadOnlySpan<byte> bytes, Span<float> destination, int channels, int channel) where T : struct, ICodec
    {
        int size = T.Size, stride = channels * size, frames = destination.Length;
        if (bytes.Length < frames * stride) throw new ArgumentException("decode: block shorter than its frames");
        if (channel >= 0)
        {
            var source = bytes[(channel * size)..];
            for (int f = 0; f < frames; f++) destination[f] = T.Read(source.Slice(f * stride, size));
            return;
        }
        for (int f = 0; f < frames; f++)
        {
            var frame = bytes.Slice(f * stride, stride);
            double sum = 0;
            for (int c = 0; c < channels; c++) sum += T.Read(frame.Slice(c * size, size));
            destination[f] = (float)(sum / channels);
        }
    }

    /// <summary>Decodes interleaved frames of any supported encoding (see <see cref="Decode{T}"/>); float data must be finite.</summary>
    /// <param name="firstFrame">index of the block's first frame in the whole data, for the message naming a non-finite sample.</param>
    public static void Decode(SampleEncoding encoding, int bytesPerSample, ReadOnlySpan<byte> bytes, Span<float> destination, int channels,
        int channel, string source, long firstFrame)
    {
        if (encoding == SampleEncoding.Float) CheckFinite(bytes, bytesPerSample, channels, source, firstFrame);
        switch (encoding, bytesPerSample)
        {
            case (SampleEncoding.Pcm, 1): Decode<Pcm8>(bytes, destination, channels, channel); break;
            case (SampleEncoding.Pcm, 2): Decode<Pcm16>(bytes, destination, channels, channel); break;
            case (SampleEncoding.Pcm, 3): Decode<Pcm24>(bytes, destination, channels, channel); break;
            case (SampleEncoding.Pcm, _): Decode<Pcm32>(bytes, destination, channels, channel); break;
            case (SampleEncoding.Float, 4): Decode<Float32>(bytes, destination, channels, channel); break;
            case (SampleEncoding.Float, _): Decode<Float64>(bytes, destination, channels, channel); break;
            case (SampleEncoding.MuLaw, _): Decode<MuLaw>(bytes, destination, channels, channel); break;
            default: Decode<ALaw>(bytes, destination, channels, channel); break;
        }
    }

    /// <summary>Rejects NaN and ±Inf in a block of float samples, naming the first one (index counted over all channels from the start of the data).</summary>
    static void CheckFinite(ReadOnlySpan<byte> bytes, int size, int channels, string source, long firstFrame)
    {
        for (int i = 0; i < bytes.Length / size; i++)
        {
            var b = bytes.Slice(i * size, size);
            double v = size == 4 ? BinaryPrimitives.ReadSingleLittleEndian(b) : BinaryPrimitives.ReadDoubleLittleEndian(b);
            if (double.IsFinite(v)) continue;
            long index = firstFrame * channels + i;
            throw new AudioFormatException(source,
                $"sample {index} (frame {index / channels}, channel {index % channels}) is {(double.IsNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf")}; float WAV samples must be finite");
        }
    }
}
