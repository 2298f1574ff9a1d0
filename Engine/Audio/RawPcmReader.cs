using System.Buffers.Binary;

namespace NativeASD.Engine.Audio;

/// <summary>
/// Reads headerless 16-bit little-endian mono PCM (what <c>arecord -f S16_LE -c 1</c> writes) from a stream as float32
/// samples, scaled exactly as <see cref="AudioStreamReader"/> scales 16-bit WAV data (÷ 32768), and streamed through a
/// <see cref="Resampler"/> when a target rate differs. Fixed buffers: memory stays constant however long the stream runs.
/// A trailing odd byte at the end of the stream is dropped (it is half a sample). Not thread-safe.
/// </summary>
public sealed class RawPcmReader
{
    /// <summary>Samples read from the stream at a time.</summary>
    public const int BlockSamples = 8192;

    readonly Stream stream;
    readonly Resampler? resampler;
    readonly byte[] raw = new byte[2 * BlockSamples];
    readonly float[] decoded = new float[BlockSamples];
    readonly float[] resampled;
    int pendingByte = -1;            // first byte of a sample whose second byte has not arrived yet
    int resampledStart, resampledEnd;
    bool ended;

    /// <param name="stream">the PCM bytes (e.g. standard input); not disposed by the reader.</param>
    /// <param name="sampleRate">rate of the stream in Hz.</param>
    /// <param name="targetRate">rate to return; null = the stream's.</param>
    public RawPcmReader(Stream stream, int sampleRate, int? targetRate = null)
    {
        if (sampleRate <= 0 || sampleRate > 10_000_000) throw new ArgumentException($"raw PCM sample rate {sampleRate} Hz is outside 1..10000000");
        this.stream = stream;
        InputRate = sampleRate;
        SampleRate = targetRate ?? sampleRate;
        if (SampleRate != sampleRate)
        {
            resampler = new Resampler(sampleRate, SampleRate);
            resampled = new float[Math.Max(resampler.OutputCapacity(BlockSamples), resampler.FlushCapacity)];
        }
        else resampled = [];
    }

    /// <summary>Rate of the PCM stream.</summary>
    public int InputRate { get; }

    /// <summary>Rate of the samples <see cref="Read"/> returns.</summary>
    public int SampleRate { get; }

    /// <summary>PCM samples consumed from the stream so far.</summary>
    public long SamplesRead { get; private set; }

    /// <summary>Fills <paramref name="destination"/> with the next samples; returns how many (0 once the stream has ended). Returns early when the stream has no more bytes yet, so live input is passed on without waiting for a full buffer.</summary>
    public int Read(Span<float> destination)
    {
        if (destination.IsEmpty) return 0;
        if (resampler is null) return Decode(destination);
        while (true)
        {
            if (resampledStart < resampledEnd)
            {
                int n = Math.Min(resampledEnd - resampledStart, destination.Length);
                resampled.AsSpan(resampledStart, n).CopyTo(destination);
                resampledStart += n;
                return n;
            }
            if (ended) return 0;
            int got = Decode(decoded);
            resampledStart = 0;
            if (got > 0) resampledEnd = resampler.Process(decoded.AsSpan(0, got), resampled);
            else
            {
                resampledEnd = resampler.Flush(resampled);
                ended = true;
            }
        }
    }

    /// <summary>Reads at least one whole sample (unless the stream ended) and decodes up to destination.Length samples.</summary>
    int Decode(Span<float> destination)
    {
        int want = Math.Min(destination.Length, BlockSamples) * 2;
        int have = 0;
        if (pendingByte >= 0) { raw[0] = (byte)pendingByte; have = 1; pendingByte = -1; }
        while (have < 2)
        {
            int n = stream.Read(raw, have, want - have);
            if (n == 0) return 0;
            have += n;
        }
        int samples = have / 2;
        if ((have & 1) == 1) pendingByte = raw[have - 1];
        for (int i = 0; i < samples; i++)
            destination[i] = BinaryPrimitives.ReadInt16LittleEndian(raw.AsSpan(2 * i, 2)) * (1f / 32768);
        SamplesRead += samples;
        return samples;
    }

    /// <summary>Encodes samples as 16-bit little-endian PCM the way <see cref="WavWriter"/> does (×32768, round to nearest-even, clip); <paramref name="destination"/> holds 2 bytes per sample.</summary>
    public static void Encode(ReadOnlySpan<float> samples, Span<byte> destination)
    {
        if (destination.Length < 2 * samples.Length) throw new ArgumentException($"raw PCM: {destination.Length} bytes cannot hold {samples.Length} 16-bit samples");
        for (int i = 0; i < samples.Length; i++)
        {
            double v = Math.Clamp(Math.Round(samples[i] * 32768.0, MidpointRounding.ToEven), -32768, 32767);
            BinaryPrimitives.WriteInt16LittleEndian(destination.Slice(2 * i, 2), (short)v);
        }
    }
}
