namespace NativeASD.Engine.Audio;

/// <summary>
/// What the file reader (<see cref="AudioStreamReader"/>) and the stream reader (<see cref="RawPcmReader"/>) share after
/// their sources differ: the channel and target-rate checks, and turning mono blocks decoded at the source's rate into
/// samples at the target rate through a streaming <see cref="Resampler"/> (or straight through when the rates agree).
/// Fixed buffers of one block.
/// </summary>
internal sealed class MonoBlocks
{
    /// <summary>Decodes the next mono frames into the span (at most its length); 0 at the end of the source.</summary>
    public delegate int Decoder(Span<float> destination);

    readonly Resampler? resampler;
    readonly float[] decoded;
    readonly float[] resampled;
    int start, end;
    bool flushed;

    public MonoBlocks(string source, int channels, int sourceRate, ChannelMix mix, int? targetRate, int blockFrames)
    {
        if (!mix.IsMean && mix.Channel >= channels)
            throw new ArgumentException($"{source}: channel {mix.Channel} requested, the {(source == "standard input" ? "stream" : "file")} has {channels} channel(s) (use 0..{channels - 1} or 'mean')");
        if (targetRate is int rate && (rate <= 0 || rate > WavContainer.MaxSampleRate))
            throw new ArgumentException($"target sample rate {rate} Hz is outside 1..{WavContainer.MaxSampleRate}");
        SampleRate = targetRate ?? sourceRate;
        if (SampleRate == sourceRate)
        {
            decoded = resampled = [];
            return;
        }
        resampler = new Resampler(sourceRate, SampleRate);
        decoded = new float[blockFrames];
        resampled = new float[Math.Max(resampler.OutputCapacity(blockFrames), resampler.FlushCapacity)];
    }

    /// <summary>Rate of the samples <see cref="Read"/> returns.</summary>
    public int SampleRate { get; }

    /// <summary>Samples at the target rate for <paramref name="sourceFrames"/> source frames.</summary>
    public long Length(long sourceFrames) => resampler?.OutputLength(sourceFrames) ?? sourceFrames;

    /// <summary>The next samples, at most <c>destination.Length</c> and at most one decoded block's worth; 0 at the end.</summary>
    public int Read(Span<float> destination, Decoder decode)
    {
        if (destination.IsEmpty) return 0;
        if (resampler is null) return decode(destination);
        while (true)
        {
            if (start < end)
            {
                int n = Math.Min(end - start, destination.Length);
                resampled.AsSpan(start, n).CopyTo(destination);
                start += n;
                return n;
            }
            if (flushed) return 0;
            int frames = decode(decoded);
            start = 0;
            if (frames > 0) end = resampler.Process(decoded.AsSpan(0, frames), resampled);
            else
            {
                end = resampler.Flush(resampled);
                flushed = true;
            }
        }
    }
}
