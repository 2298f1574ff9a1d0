using System.Buffers.Binary;
using NativeASD.Engine.IO;

namespace NativeASD.Engine.Audio;

/// <summary>How <see cref="WavWriter"/> stores samples.</summary>
public enum WavSampleFormat { Pcm, IeeeFloat }

/// <summary>
/// Writes canonical 44-byte-header WAV files (format tag 1 PCM or 3 IEEE float), atomically: a temporary file in the same
/// folder renamed over the target. PCM is 8-bit unsigned or 16/24/32-bit signed: x·2^(bits−1) rounded to nearest-even and
/// clipped to the integer range (so 0.5 → 16384 exactly, 1.0 → 32767); float is 32 or 64-bit. With channels &gt; 1,
/// <paramref name="samples"/> are interleaved frames (c0 c1 … c0 c1 …).
/// </summary>
public static class WavWriter
{
    public static void Write(string path, ReadOnlySpan<float> samples, int sampleRate, int bitsPerSample = 16, int channels = 1,
        WavSampleFormat format = WavSampleFormat.Pcm)
    {
        using var file = AtomicFile.Create(path);
        Write(file.Stream, samples, sampleRate, bitsPerSample, channels, format, path);
        file.Commit();
    }

    /// <summary>The same WAV into <paramref name="destination"/> (e.g. a clip kept in memory or a database); <paramref name="name"/> is for messages.</summary>
    public static void Write(Stream destination, ReadOnlySpan<float> samples, int sampleRate, int bitsPerSample = 16, int channels = 1,
        WavSampleFormat format = WavSampleFormat.Pcm, string name = "stream")
    {
        bool pcm = format == WavSampleFormat.Pcm;
        if (pcm ? bitsPerSample is not (8 or 16 or 24 or 32) : bitsPerSample is not (32 or 64))
            throw new ArgumentException($"wav write {name}: {bitsPerSample}-bit {(pcm ? "PCM" : "float")} is not supported (PCM 8/16/24/32, float 32/64)");
        if (channels <= 0 || channels > ushort.MaxValue) throw new ArgumentException($"wav write {name}: {channels} channels");
        if (sampleRate <= 0) throw new ArgumentException($"wav write {name}: sample rate {sampleRate} Hz");
        if (samples.Length % channels != 0)
            throw new ArgumentException($"wav write {name}: {samples.Length} samples are not a whole number of {channels}-channel frames");
        for (int i = 0; i < samples.Length; i++)
            if (!float.IsFinite(samples[i])) throw new ArgumentException($"wav write {name}: sample {i} is {samples[i]}, not finite");
        int size = bitsPerSample / 8;
        if (channels * size > short.MaxValue)   // a WORD in the header, but readers (NAudio among them) take it as signed
            throw new ArgumentException($"wav write {name}: block size {channels * size} bytes ({channels} channels × {size}) exceeds {short.MaxValue}");
        long dataLength = (long)samples.Length * size;
        if (dataLength > uint.MaxValue - 36) throw new ArgumentException($"wav write {name}: {dataLength} data bytes exceed the 4 GiB WAV limit");

        Span<byte> header = stackalloc byte[44];
        "RIFF"u8.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], (uint)(36 + dataLength));
        "WAVEfmt "u8.CopyTo(header[8..]);
        BinaryPrimitives.WriteInt32LittleEndian(header[16..], 16);
        BinaryPrimitives.WriteInt16LittleEndian(header[20..], (short)(pcm ? 1 : 3));
        BinaryPrimitives.WriteUInt16LittleEndian(header[22..], (ushort)channels);
        BinaryPrimitives.WriteInt32LittleEndian(header[24..], sampleRate);
        BinaryPrimitives.WriteInt32LittleEndian(header[28..], sampleRate * channels * size);
        BinaryPrimitives.WriteUInt16LittleEndian(header[32..], (ushort)(channels * size));
        BinaryPrimitives.WriteInt16LittleEndian(header[34..], (short)bitsPerSample);
        "data"u8.CopyTo(header[36..]);
        BinaryPrimitives.WriteUInt32LittleEndian(header[40..], (uint)dataLength);

        var buffer = new byte[8192 * size];
        destination.Write(header);
        for (int offset = 0; offset < samples.Length; offset += 8192)
        {
            var block = samples.Slice(offset, Math.Min(8192, samples.Length - offset));
            for (int i = 0; i < block.Length; i++) Encode(block[i], buffer.AsSpan(i * size, size), pcm);
            destination.Write(buffer, 0, block.Length * size);
        }
    }

    static void Encode(float x, Span<byte> b, bool pcm)
    {
        if (!pcm)
        {
            if (b.Length == 4) BinaryPrimitives.WriteSingleLittleEndian(b, x);
            else BinaryPrimitives.WriteDoubleLittleEndian(b, x);
            return;
        }
        double full = 1L << (8 * b.Length - 1);
        long v = (long)Math.Clamp(Math.Round(x * full, MidpointRounding.ToEven), -full, full - 1);
        switch (b.Length)
        {
            case 1: b[0] = (byte)(v + 128); break;
            case 2: BinaryPrimitives.WriteInt16LittleEndian(b, (short)v); break;
            case 3: b[0] = (byte)v; b[1] = (byte)(v >> 8); b[2] = (byte)(v >> 16); break;
            default: BinaryPrimitives.WriteInt32LittleEndian(b, (int)v); break;
        }
    }
}
