using System.Buffers.Binary;

namespace NativeASD.Engine.Audio;

/// <summary>Layout of interleaved samples in a stream: rate, channels, bits per sample and encoding ("pcm", "float", "mulaw", "alaw").</summary>
public sealed record PcmFormat(int SampleRate, int Channels, int BitsPerSample, string Encoding)
{
    /// <summary>What <c>arecord -f S16_LE</c> writes.</summary>
    public static PcmFormat Pcm16(int sampleRate, int channels = 1) => new(sampleRate, channels, 16, "pcm");

    public int BlockAlign => Channels * (BitsPerSample / 8);
}

/// <summary>
/// Reads interleaved samples from a stream (standard input, a pipe, a socket) as mono float32: headerless PCM of a given
/// <see cref="PcmFormat"/> (by default 16-bit little-endian, what <c>arecord -f S16_LE</c> writes), or, through
/// <see cref="Open"/>, a stream that starts with a RIFF/RF64 WAVE header, whose format is then used. Samples are scaled
/// exactly as <see cref="AudioStreamReader"/> scales WAV data (16-bit ÷ 32768), mixed to one channel
/// (<see cref="ChannelMix"/>) and streamed through a <see cref="Resampler"/> when a target rate differs. Fixed buffers:
/// memory stays constant however long the stream runs. A trailing partial frame at the end is dropped. Not thread-safe.
/// </summary>
public sealed class RawPcmReader
{
    /// <summary>Frames read from the stream at a time.</summary>
    public const int BlockSamples = 8192;

    readonly Stream stream;
    readonly SampleEncoding encoding;
    readonly ChannelMix mix;
    readonly MonoBlocks blocks;
    readonly byte[] raw;
    readonly string source;
    readonly byte[] prefix;          // bytes read while looking for a header that turned out to be samples
    int prefixAt;
    int pending;                     // bytes of an incomplete frame kept at the start of raw
    long remaining;                  // bytes left in the data chunk (long.MaxValue: until the stream ends)

    /// <summary>Headerless 16-bit little-endian mono PCM at <paramref name="sampleRate"/>.</summary>
    /// <param name="stream">the PCM bytes (e.g. standard input); not disposed by the reader.</param>
    /// <param name="targetRate">rate to return; null = the stream's.</param>
    public RawPcmReader(Stream stream, int sampleRate, int? targetRate = null) : this(stream, PcmFormat.Pcm16(sampleRate), default, targetRate) { }

    /// <param name="dataBytes">bytes of sample data (a WAV header's data chunk); null = until the stream ends.</param>
    /// <param name="source">names the stream in errors, e.g. "standard input".</param>
    public RawPcmReader(Stream stream, PcmFormat format, ChannelMix mix = default, int? targetRate = null, long? dataBytes = null, string source = "stream")
        : this(stream, format, mix, targetRate, dataBytes, source, []) { }

    RawPcmReader(Stream stream, PcmFormat format, ChannelMix mix, int? targetRate, long? dataBytes, string source, byte[] prefix)
    {
        int tag = format.Encoding switch { "pcm" => 1, "float" => 3, "alaw" => 6, "mulaw" => 7, _ => 0 };
        if (format.Channels > 1 << 16) throw new AudioFormatException(source, $"{format.Channels} channels are more than {1 << 16}");
        (encoding, _) = WavContainer.CheckFormat(tag, null, format.Channels, format.SampleRate, format.BitsPerSample, format.BlockAlign, source);
        int blockFrames = Math.Clamp(AudioStreamReader.MaxBlockBytes / format.BlockAlign, 1, BlockSamples);
        blocks = new MonoBlocks(source, format.Channels, format.SampleRate, mix, targetRate, blockFrames);
        this.stream = stream;
        this.mix = mix;
        this.source = source;
        this.prefix = prefix;
        Format = format;
        remaining = dataBytes ?? long.MaxValue;
        raw = new byte[blockFrames * format.BlockAlign];
        SampleRate = blocks.SampleRate;
    }

    /// <summary>
    /// A reader of <paramref name="stream"/>: when it starts with a RIFF/RF64 WAVE header, the header is read and its format
    /// used (<see cref="HasHeader"/>); otherwise the stream is headerless samples of <paramref name="rawFormat"/>.
    /// </summary>
    public static RawPcmReader Open(Stream stream, PcmFormat rawFormat, ChannelMix mix = default, int? targetRate = null, string source = "stream")
    {
        var head = new byte[12];
        int got = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        bool riff = got == 12 && (head.AsSpan(0, 4).SequenceEqual("RIFF"u8) || head.AsSpan(0, 4).SequenceEqual("RF64"u8)) && head.AsSpan(8, 4).SequenceEqual("WAVE"u8);
        if (!riff) return new RawPcmReader(stream, rawFormat, mix, targetRate, null, source, head[..got]);
        var (format, dataBytes) = StreamHeader.Read(stream, head.AsSpan(0, 4).SequenceEqual("RF64"u8), source);
        return new RawPcmReader(stream, format, mix, targetRate, dataBytes, source, []) { HasHeader = true };
    }

    /// <summary>The stream's sample layout (from its header when it had one).</summary>
    public PcmFormat Format { get; }

    /// <summary>True when the stream started with a WAV header.</summary>
    public bool HasHeader { get; private init; }

    /// <summary>Rate of the PCM stream.</summary>
    public int InputRate => Format.SampleRate;

    /// <summary>Rate of the samples <see cref="Read"/> returns.</summary>
    public int SampleRate { get; }

    /// <summary>Frames consumed from the stream so far.</summary>
    public long SamplesRead { get; private set; }

    /// <summary>Fills <paramref name="destination"/> with the next samples; returns how many (0 once the stream has ended). Returns early when the stream has no more bytes yet, so live input is passed on without waiting for a full buffer.</summary>
    public int Read(Span<float> destination) => blocks.Read(destination, Decode);

    /// <summary>Reads at least one whole frame (unless the stream ended) and decodes up to destination.Length frames.</summary>
    int Decode(Span<float> destination)
    {
        int align = Format.BlockAlign;
        int want = Math.Min(destination.Length, raw.Length / align) * align;
        int have = pending;
        while (have < align)
        {
            int n = ReadBytes(raw.AsSpan(have, want - have));
            if (n == 0) return 0;
            have += n;
        }
        int frames = have / align;
        SampleCodecs.Decode(encoding, Format.BitsPerSample / 8, raw.AsSpan(0, frames * align), destination[..frames], Format.Channels,
            mix.IsMean ? -1 : mix.Channel, source, SamplesRead);
        pending = have - frames * align;
        raw.AsSpan(frames * align, pending).CopyTo(raw);
        SamplesRead += frames;
        return frames;
    }

    /// <summary>Next bytes of sample data: the sniffed prefix first, then the stream, never past the data chunk.</summary>
    int ReadBytes(Span<byte> destination)
    {
        if (remaining <= 0) return 0;
        if (destination.Length > remaining) destination = destination[..(int)remaining];
        int n;
        if (prefixAt < prefix.Length)
        {
            n = Math.Min(destination.Length, prefix.Length - prefixAt);
            prefix.AsSpan(prefixAt, n).CopyTo(destination);
            prefixAt += n;
        }
        else n = stream.Read(destination);
        if (remaining != long.MaxValue) remaining -= n;
        return n;
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

/// <summary>
/// The chunks of a RIFF/RF64 WAVE header read from a stream that cannot seek (standard input): "fmt " gives the format,
/// "ds64" the 64-bit data length of RF64, other chunks before "data" are skipped. A data length of 0 or 0xFFFFFFFF (what
/// recorders write when they stream and cannot know it) means "until the stream ends". Every size read is bounded.
/// </summary>
internal static class StreamHeader
{
    const int MaxChunks = 1000, MaxFormatBytes = 1024, MaxSkippedBytes = 1 << 24;

    /// <summary>Reads from just after "RIFF….WAVE" up to the first data byte.</summary>
    public static (PcmFormat Format, long? DataBytes) Read(Stream stream, bool rf64, string source)
    {
        Span<byte> header = stackalloc byte[8];
        byte[]? fmt = null;
        long? ds64Data = null;
        long skipped = 0;
        for (int i = 0; i < MaxChunks; i++)
        {
            if (stream.ReadAtLeast(header, 8, throwOnEndOfStream: false) < 8)
                throw new AudioFormatException(source, "the WAV header ended before its data chunk");
            uint size = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            if (header[..4].SequenceEqual("data"u8))
            {
                if (fmt is null) throw new AudioFormatException(source, "the WAV header has a data chunk but no format chunk before it");
                long? data = rf64 ? ds64Data : size is 0 or uint.MaxValue ? null : size;
                return (Format(fmt, source), data is 0 or null ? null : data);
            }
            bool keep = header[..4].SequenceEqual("fmt "u8) || header[..4].SequenceEqual("ds64"u8);
            if (keep && size > MaxFormatBytes) throw new AudioFormatException(source, $"WAV header chunk of {size} bytes (at most {MaxFormatBytes} expected)");
            skipped += size + (size & 1);
            if (skipped > MaxSkippedBytes) throw new AudioFormatException(source, $"the WAV header holds more than {MaxSkippedBytes} bytes before its data chunk");
            var body = new byte[keep ? size + (size & 1) : Math.Min(size + (size & 1), 1 << 16)];
            long left = size + (size & 1);
            while (left > 0)
            {
                int n = (int)Math.Min(left, body.Length);
                if (stream.ReadAtLeast(body.AsSpan(0, n), n, throwOnEndOfStream: false) < n)
                    throw new AudioFormatException(source, "the WAV header ended inside a chunk");
                left -= n;
            }
            if (header[..4].SequenceEqual("fmt "u8)) fmt = body[..(int)size];
            else if (header[..4].SequenceEqual("ds64"u8) && size >= 16) ds64Data = BinaryPrimitives.ReadInt64LittleEndian(body.AsSpan(8, 8));
        }
        throw new AudioFormatException(source, $"no data chunk within the first {MaxChunks} chunks of the WAV header");
    }

    static PcmFormat Format(byte[] fmt, string source)
    {
        if (fmt.Length < 16) throw new AudioFormatException(source, $"WAV format chunk of {fmt.Length} bytes (at least 16 expected)");
        int tag = BinaryPrimitives.ReadUInt16LittleEndian(fmt);
        int channels = BinaryPrimitives.ReadUInt16LittleEndian(fmt.AsSpan(2));
        int rate = BinaryPrimitives.ReadInt32LittleEndian(fmt.AsSpan(4));
        int blockAlign = BinaryPrimitives.ReadUInt16LittleEndian(fmt.AsSpan(12));
        int bits = BinaryPrimitives.ReadUInt16LittleEndian(fmt.AsSpan(14));
        Guid? sub = tag == 0xFFFE && fmt.Length >= 40 ? new Guid(fmt.AsSpan(24, 16)) : null;
        var (_, name) = WavContainer.CheckFormat(tag, sub, channels, rate, bits, blockAlign, source);
        return new PcmFormat(rate, channels, bits, name);
    }
}
