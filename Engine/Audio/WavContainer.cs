using System.Buffers.Binary;
using System.Text;
using NAudio.Wave;

namespace NativeASD.Engine.Audio;

/// <summary>How the bytes of one sample are turned into a float.</summary>
internal enum SampleEncoding { Pcm, Float, MuLaw, ALaw }

/// <summary>
/// A validated WAV header: where the sample data lies and how to decode it. The chunk structure is parsed by NAudio's
/// <see cref="WaveFileReader"/>; everything NAudio tolerates but we must not (a data chunk running past the end of
/// the file, zero channels, a block size that disagrees with the format) is checked here.
/// </summary>
internal sealed record WavContainer(AudioInfo Info, SampleEncoding Encoding, int BlockAlign, long DataOffset, long DataLength)
{
    public int BytesPerSample => Info.BitsPerSample / 8;

    /// <summary>Highest sample rate accepted (bounds every rate read from a header).</summary>
    public const int MaxSampleRate = 10_000_000;

    /// <summary>Parses and validates the header of <paramref name="stream"/>; afterwards the stream is at the first data byte.</summary>
    public static WavContainer Read(FileStream stream, string path)
    {
        long fileLength = stream.Length;
        if (fileLength == 0) throw new AudioFormatException(path, "empty file (0 bytes), not a WAV file");
        Span<byte> head = stackalloc byte[12];
        int got = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        bool riff = got >= 4 && (head[..4].SequenceEqual("RIFF"u8) || head[..4].SequenceEqual("RF64"u8));
        if (!riff || got < 12 || !head[8..12].SequenceEqual("WAVE"u8))
            throw new AudioFormatException(path, $"not a WAV file: {Describe(head[..got], fileLength)}");
        stream.Position = 0;

        WaveFormat format;
        long dataOffset, dataLength;
        try
        {
            var reader = new WaveFileReader(stream);   // does not own the stream
            format = reader.WaveFormat;
            dataLength = reader.Length;
            dataOffset = stream.Position;
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or EndOfStreamException or ArgumentException or IOException)
        {
            throw new AudioFormatException(path, $"not a readable WAV file: {e.Message}");
        }
        // NAudio clips a data chunk that runs past the end of the file and drops the EXTENSIBLE sub-format: read both
        // from the chunk headers ourselves (RF64 keeps NAudio's 64-bit length from its ds64 chunk).
        var chunks = ChunkHeaders.Walk(stream, fileLength);
        if (chunks.DataOffset is long offset)
        {
            dataOffset = offset;
            if (!head[..4].SequenceEqual("RF64"u8)) dataLength = chunks.DataLength;
        }

        int channels = format.Channels, bits = format.BitsPerSample, rate = format.SampleRate;
        var subFormat = format.Encoding == WaveFormatEncoding.Extensible
            ? chunks.SubFormat ?? (format is WaveFormatExtensible ext ? ext.SubFormat : Guid.Empty) : (Guid?)null;
        var (encoding, name) = CheckFormat((int)format.Encoding, subFormat, channels, rate, bits, format.BlockAlign, path);
        int blockAlign = format.BlockAlign;

        long available = fileLength - dataOffset;
        if (dataLength > available)
            throw new AudioFormatException(path,
                $"truncated: the data chunk declares {dataLength} bytes but only {available} follow its header (file length {fileLength} bytes)");
        long frames = dataLength / blockAlign;   // a trailing partial frame is ignored
        return new WavContainer(new AudioInfo(path, rate, channels, bits, name, frames), encoding, blockAlign, dataOffset, dataLength);
    }

    /// <summary>
    /// Validates a format chunk's fields (from a file or a stream header) and says how its samples decode: the encoding
    /// and its name ("pcm", "float", "mulaw", "alaw"). <paramref name="subFormat"/> is the EXTENSIBLE sub-format, if any.
    /// </summary>
    internal static (SampleEncoding Encoding, string Name) CheckFormat(int tag, Guid? subFormat, int channels, int rate, int bits, int blockAlign, string path)
    {
        if (channels <= 0) throw new AudioFormatException(path, "the format chunk declares 0 channels");
        if (rate <= 0 || rate > MaxSampleRate)
            throw new AudioFormatException(path, $"sample rate {rate} Hz is outside 1..{MaxSampleRate}");
        var (encoding, name) = Classify((WaveFormatEncoding)tag, subFormat, path);
        int[] allowedBits = encoding switch
        {
            SampleEncoding.Pcm => [8, 16, 24, 32],
            SampleEncoding.Float => [32, 64],
            _ => [8],
        };
        if (Array.IndexOf(allowedBits, bits) < 0)
            throw new AudioFormatException(path, $"{bits}-bit {name} is not supported (supported: {string.Join("/", allowedBits)}-bit)");
        if (blockAlign != channels * (bits / 8))
            throw new AudioFormatException(path, $"block size {blockAlign} bytes does not match {channels} channel(s) × {bits} bits");
        return (encoding, name);
    }

    static (SampleEncoding, string) Classify(WaveFormatEncoding tag, Guid? subFormat, string path)
    {
        if (tag == WaveFormatEncoding.Extensible)
        {
            var sub = subFormat ?? Guid.Empty;
            if (sub == AudioMediaSubtypes.MEDIASUBTYPE_PCM) return (SampleEncoding.Pcm, "pcm");
            if (sub == AudioMediaSubtypes.MEDIASUBTYPE_IEEE_FLOAT) return (SampleEncoding.Float, "float");
            throw new AudioFormatException(path, $"unsupported WAVE_FORMAT_EXTENSIBLE sub-format {sub} (supported: PCM, IEEE float)");
        }
        return tag switch
        {
            WaveFormatEncoding.Pcm => (SampleEncoding.Pcm, "pcm"),
            WaveFormatEncoding.IeeeFloat => (SampleEncoding.Float, "float"),
            WaveFormatEncoding.MuLaw => (SampleEncoding.MuLaw, "mulaw"),
            WaveFormatEncoding.ALaw => (SampleEncoding.ALaw, "alaw"),
            _ => throw new AudioFormatException(path,
                $"unsupported encoding {tag} (format tag 0x{(int)tag:X4}); supported: PCM 8/16/24/32-bit, IEEE float 32/64-bit, mu-law, A-law — convert it first, e.g. `sox IN -e signed -b 16 OUT.wav`"),
        };
    }

    /// <summary>What the first bytes look like, for the "not a WAV" message.</summary>
    static string Describe(ReadOnlySpan<byte> head, long fileLength)
    {
        if (head.Length >= 3 && head[..3].SequenceEqual("ID3"u8) || head.Length >= 2 && head[0] == 0xFF && (head[1] & 0xE0) == 0xE0)
            return "it looks like MP3 (decode it to WAV first)";
        if (head.Length >= 4 && head[..4].SequenceEqual("fLaC"u8)) return "it looks like FLAC (decode it to WAV first)";
        if (head.Length >= 4 && head[..4].SequenceEqual("OggS"u8)) return "it looks like Ogg (decode it to WAV first)";
        if (head.Length < 12) return $"only {fileLength} bytes, shorter than a RIFF/WAVE header";
        var sb = new StringBuilder("no RIFF/WAVE header; it starts with ");
        bool printable = true;
        foreach (byte b in head) printable &= b is >= 0x20 and < 0x7F or (byte)'\n' or (byte)'\r' or (byte)'\t';
        if (printable) sb.Append('"').Append(System.Text.Encoding.ASCII.GetString(head).ReplaceLineEndings(" ")).Append('"');
        else sb.Append(Convert.ToHexString(head));
        return sb.ToString();
    }
}

/// <summary>The two facts we take from the RIFF chunk headers directly: where the first data chunk starts and how long it says it is, and the EXTENSIBLE sub-format GUID.</summary>
internal readonly record struct ChunkHeaders(long? DataOffset, long DataLength, Guid? SubFormat)
{
    const int MaxChunks = 100_000;   // bounds the walk over a hostile file

    public static ChunkHeaders Walk(Stream stream, long fileLength)
    {
        Span<byte> header = stackalloc byte[8];
        Span<byte> fmt = stackalloc byte[40];
        Guid? subFormat = null;
        long position = 12;
        for (int i = 0; i < MaxChunks && position + 8 <= fileLength; i++)
        {
            stream.Position = position;
            stream.ReadExactly(header);
            uint size = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            if (header[..4].SequenceEqual("data"u8))
                return new ChunkHeaders(position + 8, size, subFormat);
            if (header[..4].SequenceEqual("fmt "u8) && size >= 40 && position + 8 + 40 <= fileLength)
            {
                stream.ReadExactly(fmt);
                if (BinaryPrimitives.ReadUInt16LittleEndian(fmt) == 0xFFFE) subFormat = new Guid(fmt[24..40]);
            }
            position += 8 + size + (size & 1);   // chunks are padded to even length
        }
        return new ChunkHeaders(null, 0, subFormat);
    }
}
