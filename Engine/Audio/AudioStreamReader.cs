using System.Buffers.Binary;
using NAudio.Codecs;

namespace NativeASD.Engine.Audio;

/// <summary>
/// Block-wise reader of one WAV file as mono float32: decodes <see cref="BlockFrames"/> frames at a time, mixes them
/// to one channel (<see cref="ChannelMix"/>) and, when a target rate was asked for, streams them through a
/// <see cref="Resampler"/>. Memory stays constant however long the file is. Not thread-safe.
/// </summary>
public sealed class AudioStreamReader : IDisposable
{
    /// <summary>Frames decoded per block.</summary>
    public const int BlockFrames = 8192;

    readonly FileStream stream;
    readonly WavContainer container;
    readonly ChannelMix mix;
    readonly Resampler? resampler;
    readonly byte[] raw;
    readonly float[] mono;
    readonly float[] resampled;
    int resampledStart, resampledEnd;
    long framesDecoded;
    bool flushed;

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
            if (!mix.IsMean && mix.Channel >= info.Channels)
                throw new ArgumentException($"{path}: channel {mix.Channel} requested, the file has {info.Channels} channel(s) (use 0..{info.Channels - 1} or 'mean')");
            if (targetRate is int rate && (rate <= 0 || rate > WavContainer.MaxSampleRate))
                throw new ArgumentException($"target sample rate {rate} Hz is outside 1..{WavContainer.MaxSampleRate}");
            this.mix = mix;
            stream.Position = container.DataOffset;
            raw = new byte[BlockFrames * container.BlockAlign];
            mono = new float[BlockFrames];
            SampleRate = targetRate ?? info.SampleRate;
            if (SampleRate != info.SampleRate)
            {
                resampler = new Resampler(info.SampleRate, SampleRate);
                resampled = new float[Math.Max(resampler.OutputCapacity(BlockFrames), resampler.FlushCapacity)];
                Length = resampler.OutputLength(info.Frames);
            }
            else
            {
                resampled = [];
                Length = info.Frames;
            }
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
            if (resampler is null)
            {
                int frames = DecodeBlock(destination[written..]);
                if (frames == 0) break;
                written += frames;
                continue;
            }
            if (resampledStart < resampledEnd)
            {
                int n = Math.Min(resampledEnd - resampledStart, destination.Length - written);
                resampled.AsSpan(resampledStart, n).CopyTo(destination[written..]);
                resampledStart += n;
                written += n;
                continue;
            }
            if (flushed) break;
            int decoded = DecodeBlock(mono);
            resampledStart = 0;
            if (decoded > 0)
                resampledEnd = resampler.Process(mono.AsSpan(0, decoded), resampled);
            else
            {
                resampledEnd = resampler.Flush(resampled);
                flushed = true;
            }
        }
        return written;
    }

    /// <summary>Decodes up to <c>min(destination.Length, BlockFrames)</c> frames into mono samples; 0 at the end of the data.</summary>
    int DecodeBlock(Span<float> destination)
    {
        long remaining = container.Info.Frames - framesDecoded;
        int frames = (int)Math.Min(Math.Min(remaining, destination.Length), BlockFrames);
        if (frames <= 0) return 0;
        int bytes = frames * container.BlockAlign;
        int got = stream.ReadAtLeast(raw.AsSpan(0, bytes), bytes, throwOnEndOfStream: false);
        if (got < bytes)
            throw new AudioFormatException(Info.Path, $"truncated: the data ended {bytes - got} bytes early in frame {framesDecoded + got / container.BlockAlign}");
        Decode(raw.AsSpan(0, bytes), destination[..frames], framesDecoded);
        framesDecoded += frames;
        return frames;
    }

    void Decode(ReadOnlySpan<byte> bytes, Span<float> destination, long firstFrame)
    {
        int channels = Info.Channels, size = container.BytesPerSample, frames = destination.Length;
        int first = mix.IsMean ? 0 : mix.Channel, count = mix.IsMean ? channels : 1;
        double scale = 1.0 / count;
        for (int f = 0; f < frames; f++)
        {
            var frame = bytes.Slice(f * container.BlockAlign, container.BlockAlign);
            if (container.Encoding == SampleEncoding.Float) CheckFinite(frame, firstFrame + f);
            if (count == 1)
            {
                destination[f] = Sample(frame.Slice(first * size, size));
                continue;
            }
            double sum = 0;
            for (int c = 0; c < channels; c++) sum += Sample(frame.Slice(c * size, size));
            destination[f] = (float)(sum * scale);
        }
    }

    /// <summary>One sample as float: PCM divided by 2^(bits−1) (8-bit is unsigned, offset 128), floats as stored, G.711 via NAudio's tables.</summary>
    float Sample(ReadOnlySpan<byte> b) => container.Encoding switch
    {
        SampleEncoding.Pcm => b.Length switch
        {
            1 => (b[0] - 128) * (1f / 128),
            2 => BinaryPrimitives.ReadInt16LittleEndian(b) * (1f / 32768),
            3 => ((b[0] | b[1] << 8 | (sbyte)b[2] << 16)) * (1f / 8388608),
            _ => BinaryPrimitives.ReadInt32LittleEndian(b) * (1f / 2147483648f),
        },
        SampleEncoding.Float => b.Length == 4 ? BinaryPrimitives.ReadSingleLittleEndian(b) : (float)BinaryPrimitives.ReadDoubleLittleEndian(b),
        SampleEncoding.MuLaw => MuLawDecoder.MuLawToLinearSample(b[0]) * (1f / 32768),
        _ => ALawDecoder.ALawToLinearSample(b[0]) * (1f / 32768),
    };

    void CheckFinite(ReadOnlySpan<byte> frame, long frameIndex)
    {
        int size = container.BytesPerSample, channels = Info.Channels;
        for (int c = 0; c < channels; c++)
        {
            var b = frame.Slice(c * size, size);
            double v = size == 4 ? BinaryPrimitives.ReadSingleLittleEndian(b) : BinaryPrimitives.ReadDoubleLittleEndian(b);
            if (!double.IsFinite(v))
                throw new AudioFormatException(Info.Path,
                    $"sample {frameIndex * channels + c} (frame {frameIndex}, channel {c}) is {(double.IsNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf")}; float WAV samples must be finite");
        }
    }

    public void Dispose() => stream.Dispose();
}
