using System.Buffers.Binary;
using NativeASD.Engine.Audio;

namespace NativeASD.Tests.Engine.Audio;

/// <summary>Streams that cannot seek (standard input): a WAV or RF64 header is read and used, headerless bytes are samples.</summary>
public sealed class RawPcmReaderTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-rawpcm").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>A pipe: reads return at most a few bytes at a time and it cannot seek.</summary>
    sealed class Pipe(byte[] bytes) : Stream
    {
        int _at;
        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = Math.Min(Math.Min(count, 1000), bytes.Length - _at);
            Array.Copy(bytes, _at, buffer, offset, n);
            _at += n;
            return n;
        }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    static float[] Signal(int frames, int channels)
    {
        var x = new float[frames * channels];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(0.5 * Math.Sin(0.01 * i * (1 + i % channels)));
        return x;
    }

    static float[] ReadAll(RawPcmReader reader)
    {
        var all = new List<float>();
        var block = new float[777];
        int n;
        while ((n = reader.Read(block)) > 0) all.AddRange(block.AsSpan(0, n).ToArray());
        return [.. all];
    }

    [Theory]
    [InlineData(16, WavSampleFormat.Pcm, 2, "1")]
    [InlineData(24, WavSampleFormat.Pcm, 1, "0")]
    [InlineData(32, WavSampleFormat.IeeeFloat, 3, "mean")]
    public void WavOnAPipeGivesTheSamplesAudioFileReads(int bits, WavSampleFormat format, int channels, string channel)
    {
        string wav = Path.Combine(_dir, "x.wav");
        WavWriter.Write(wav, Signal(20000, channels), 22050, bits, channels, format);
        var mix = ChannelMix.Parse(channel);
        var reader = RawPcmReader.Open(new Pipe(File.ReadAllBytes(wav)), PcmFormat.Pcm16(16000), mix, 16000, "standard input");
        Assert.True(reader.HasHeader);
        Assert.Equal(new PcmFormat(22050, channels, bits, format == WavSampleFormat.Pcm ? "pcm" : "float"), reader.Format);
        Assert.Equal(AudioFile.Read(wav, mix, 16000).Samples, ReadAll(reader));
    }

    [Fact]
    public void StreamingHeadersAndRf64AreRead()
    {
        string wav = Path.Combine(_dir, "x.wav");
        WavWriter.Write(wav, Signal(5000, 1), 16000);
        var bytes = File.ReadAllBytes(wav);
        var expected = AudioFile.Read(wav).Samples;

        // A recorder that streams writes 0xFFFFFFFF (or 0) as the data length: read until the stream ends.
        var streaming = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(streaming.AsSpan(40), uint.MaxValue);
        Assert.Equal(expected, ReadAll(RawPcmReader.Open(new Pipe(streaming), PcmFormat.Pcm16(8000))));

        // RF64: the data length comes from the ds64 chunk; bytes after the data chunk (a trailing chunk) are not samples.
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        w.Write("RF64"u8); w.Write(uint.MaxValue); w.Write("WAVE"u8);
        w.Write("ds64"u8); w.Write(28); w.Write(0L); w.Write((long)(bytes.Length - 44)); w.Write(5000L); w.Write(0);
        w.Write(bytes.AsSpan(12, 24));                       // the fmt chunk
        w.Write("data"u8); w.Write(uint.MaxValue); w.Write(bytes.AsSpan(44));
        w.Write("LIST"u8); w.Write(4); w.Write("INFO"u8);
        var rf64 = ReadAll(RawPcmReader.Open(new Pipe(ms.ToArray()), PcmFormat.Pcm16(8000)));
        Assert.Equal(expected, rf64);
    }

    [Fact]
    public void HeaderlessBytesAreSamplesFromTheFirstByte()
    {
        var samples = Signal(3001, 2);
        var raw = new byte[2 * samples.Length + 1];           // and half a sample at the end, dropped
        RawPcmReader.Encode(samples, raw);
        var reader = RawPcmReader.Open(new Pipe(raw), PcmFormat.Pcm16(16000, channels: 2), new ChannelMix(1));
        Assert.False(reader.HasHeader);
        var got = ReadAll(reader);
        Assert.Equal(3001, got.Length);
        for (int i = 0; i < got.Length; i++)
            Assert.Equal(Math.Clamp(Math.Round(samples[2 * i + 1] * 32768.0, MidpointRounding.ToEven), -32768, 32767) / 32768, got[i], 6);
    }

    [Fact]
    public void DamagedHeadersAreNamedErrors()
    {
        string wav = Path.Combine(_dir, "x.wav");
        WavWriter.Write(wav, Signal(100, 1), 16000);
        var bytes = File.ReadAllBytes(wav);
        var zeroChannels = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(zeroChannels.AsSpan(22), 0);
        var e = Assert.Throws<AudioFormatException>(() => RawPcmReader.Open(new Pipe(zeroChannels), PcmFormat.Pcm16(16000), source: "standard input"));
        Assert.StartsWith("standard input: ", e.Message);
        Assert.Throws<AudioFormatException>(() => RawPcmReader.Open(new Pipe(bytes[..30]), PcmFormat.Pcm16(16000)));
        var hugeChunk = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(hugeChunk.AsSpan(16), 1 << 30);   // fmt chunk of 1 GiB
        Assert.Throws<AudioFormatException>(() => RawPcmReader.Open(new Pipe(hugeChunk), PcmFormat.Pcm16(16000)));
        Assert.Throws<ArgumentException>(() => RawPcmReader.Open(new Pipe(bytes), PcmFormat.Pcm16(16000), new ChannelMix(1)));
    }
}
