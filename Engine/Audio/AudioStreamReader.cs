namespace NativeASD.Engine.Audio;

/// <summary>
/// Block-wise reader of one WAV file as mono float32: decodes <see cref="BlockFrames"/> frames at a time, mixes them
/// to one channel (<see cref="ChannelMix"/>) and, when a target rate was asked for, streams them through a
/// <see cref="Resampler"/>. Memory stays constant however long the file is. Not thread-safe.
/// </summary>
public sealed class AudioStreamReader : IDisposable
{
    /// <summary>Frames decoded per block (fewer when a frame is wide: a block never exceeds <see cref="MaxBlockBytes"/>).</summary>
    public const int BlockFrames = 8192;

    /// <summary>Largest raw block read at once.</summary>
    public const int MaxBlockBytes = 1 << 20;

    readonly FileStream stream;
    readonly WavContainer container;
    readonly ChannelMix mix;
    readonly MonoBlocks blocks;
    readonly int blockFrames;
    readonly byte[] raw;
    long framesDecoded;

    internal AudioStreamReader(string path, ChannelMix mix, int? targetRate)
    {
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        }
        catch (FileNotFoundException)
        {
            throw new FileNotFoundException($"{path}: no such file", path);
        }
        catch (DirectoryNotFoundException)
        {
            throw new FileNotFoundException($"{path}: no such file (the folder does not exist)", path);
        }
        try
        {
            container = WavContainer.Read(stream, path);
            var info = container.Info;
            this.mix = mix;
            stream.Position = container.DataOffset;
            blockFrames = Math.Clamp(MaxBlockBytes / container.BlockAlign, 1, BlockFrames);
            blocks = new MonoBlocks(path, info.Channels, info.SampleRate, mix, targetRate, blockFrames);
            raw = new byte[blockFrames * container.BlockAlign];
            SampleRate = blocks.SampleRate;
            Length = blocks.Length(info.Frames);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>The header of the file.</summary>
    public AudioInfo Info => container.Info;

    /// <summary>Rate of the samples <see cref="Read"/> returns (the target rate when resampling).</summary>
    public int SampleRate { get; }

    /// <summary>Total number of mono samples <see cref="Read"/> returns, at <see cref="SampleRate"/>.</summary>
    public long Length { get; }

    /// <summary>Fills <paramref name="destination"/> with the next samples; returns how many (fewer only at the end, 0 once exhausted).</summary>
    public int Read(Span<float> destination)
    {
        int written = 0;
        while (written < destination.Length)
        {
            int n = blocks.Read(destination[written..], DecodeBlock);
            if (n == 0) break;
            written += n;
        }
        return written;
    }

    /// <summary>Decodes up to <c>min(destination.Length, blockFrames)</c> frames into mono samples; 0 at the end of the data.</summary>
    int DecodeBlock(Span<float> destination)
    {
        long remaining = container.Info.Frames - framesDecoded;
        int frames = (int)Math.Min(Math.Min(remaining, destination.Length), blockFrames);
        if (frames <= 0) return 0;
        int bytes = frames * container.BlockAlign;
        int got = stream.ReadAtLeast(raw.AsSpan(0, bytes), bytes, throwOnEndOfStream: false);
        if (got < bytes)
            throw new AudioFormatException(Info.Path, $"truncated: the data ended {bytes - got} bytes early in frame {framesDecoded + got / container.BlockAlign}");
        SampleCodecs.Decode(container.Encoding, container.BytesPerSample, raw.AsSpan(0, bytes), destination[..frames], Info.Channels,
            mix.IsMean ? -1 : mix.Channel, Info.Path, framesDecoded);
        framesDecoded += frames;
        return frames;
    }

    public void Dispose() => stream.Dispose();
}
