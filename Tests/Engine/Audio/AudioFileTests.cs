using NAudio.Codecs;
using NAudio.Wave;
using NativeASD.Engine.Audio;

namespace NativeASD.Tests.Engine.Audio;

/// <summary>WAV decoding (exact values for every encoding), channel selection, streaming, and rejection of hostile files.</summary>
public sealed class AudioFileTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), "nasd-audio-tests-" + Guid.NewGuid().ToString("N"));

    public AudioFileTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    string Temp(string name) => Path.Combine(_dir, name);

    string WriteBytes(string name, byte[] bytes)
    {
        string path = Temp(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    // ---- exact decoding --------------------------------------------------------------------------

    [Fact]
    public void Pcm16_HandBuilt_DecodesByPowerOfTwo()
    {
        string path = WriteBytes("p16.wav", WavBytes.Build(1, 1, 16000, 16, WavBytes.Int16(16384, -16384, 0, -32768, 32767, 1)));
        var clip = AudioFile.Read(path);
        Assert.Equal([0.5f, -0.5f, 0f, -1f, 32767f / 32768, 1f / 32768], clip.Samples);
        Assert.Equal(16000, clip.SampleRate);
        Assert.Equal(path, clip.Source);
        var info = AudioFile.Probe(path);
        Assert.Equal(new AudioInfo(path, 16000, 1, 16, "pcm", 6), info);
        Assert.Equal(6.0 / 16000, info.Seconds);
    }

    [Fact]
    public void Pcm8_IsUnsignedAroundMidpoint()
    {
        string path = WriteBytes("p8.wav", WavBytes.Build(1, 1, 8000, 8, [192, 64, 128, 0, 255]));
        Assert.Equal([0.5f, -0.5f, 0f, -1f, 127f / 128], AudioFile.Read(path).Samples);
    }

    [Fact]
    public void Pcm24_And_Pcm32_HandBuilt()
    {
        string p24 = WriteBytes("p24.wav", WavBytes.Build(1, 1, 48000, 24, WavBytes.Int24(4194304, -8388608, 8388607, -1, 1)));
        Assert.Equal([0.5f, -1f, 8388607f / 8388608, -1f / 8388608, 1f / 8388608], AudioFile.Read(p24).Samples);
        string p32 = WriteBytes("p32.wav", WavBytes.Build(1, 1, 48000, 32, WavBytes.Int32(1 << 30, int.MinValue, -(1 << 29), 256)));
        Assert.Equal([0.5f, -1f, -0.25f, 256f / 2147483648f], AudioFile.Read(p32).Samples);
    }

    [Fact]
    public void Float32_And_Float64_PassThrough()
    {
        float[] v = [0.1f, -0.75f, 1f, -1f, 1e-8f, 0f];
        Assert.Equal(v, AudioFile.Read(WriteBytes("f32.wav", WavBytes.Build(3, 1, 22050, 32, WavBytes.Float32(v)))).Samples);
        double[] d = [0.1, -0.75, 1.0 / 3];
        Assert.Equal(d.Select(x => (float)x).ToArray(), AudioFile.Read(WriteBytes("f64.wav", WavBytes.Build(3, 1, 22050, 64, WavBytes.Float64(d)))).Samples);
        Assert.Equal("float", AudioFile.Probe(Temp("f64.wav")).Encoding);
    }

    [Fact]
    public void Extensible_PcmAndFloat_SubFormats()
    {
        // 3 channels, 24-bit PCM in a WAVE_FORMAT_EXTENSIBLE header (20 valid bits)
        byte[] pcm = WavBytes.Int24(4194304, 2097152, -4194304, /* frame 1 */ 0, -8388608, 8388607);
        string path = WriteBytes("ext24.wav", WavBytes.Build(0, 3, 96000, 24, pcm, subFormat: WavBytes.PcmSubFormat, validBits: 20));
        Assert.Equal(new AudioInfo(path, 96000, 3, 24, "pcm", 2), AudioFile.Probe(path));
        Assert.Equal([0.25f, -1f], AudioFile.Read(path, new ChannelMix(1)).Samples);
        Assert.Equal([(float)((0.5 + 0.25 - 0.5) / 3), (float)((0 - 1 + 8388607.0 / 8388608) / 3)], AudioFile.Read(path, ChannelMix.Mean).Samples);

        string fpath = WriteBytes("extf.wav", WavBytes.Build(0, 2, 44100, 32, WavBytes.Float32(0.5f, -0.25f, 0.125f, 1f), subFormat: WavBytes.FloatSubFormat));
        Assert.Equal([0.5f, 0.125f], AudioFile.Read(fpath).Samples);
        Assert.Equal([0.125f, 0.5625f], AudioFile.Read(fpath, ChannelMix.Mean).Samples);
    }

    [Fact]
    public void G711_MuLawAndALaw_UseTheStandardTables()
    {
        byte[] codes = [0xFF, 0x80, 0x00, 0x7F, 0x55, 0xD5];
        var mu = AudioFile.Read(WriteBytes("mu.wav", WavBytes.Build(7, 1, 8000, 8, codes))).Samples;
        var al = AudioFile.Read(WriteBytes("a.wav", WavBytes.Build(6, 1, 8000, 8, codes))).Samples;
        for (int i = 0; i < codes.Length; i++)
        {
            Assert.Equal(MuLawDecoder.MuLawToLinearSample(codes[i]) / 32768f, mu[i]);
            Assert.Equal(ALawDecoder.ALawToLinearSample(codes[i]) / 32768f, al[i]);
        }
        Assert.Equal(0f, mu[0]);                 // 0xFF is mu-law zero
        Assert.Equal(32124f / 32768, mu[1]);     // 0x80 is mu-law +full scale
        Assert.Equal("mulaw", AudioFile.Probe(Temp("mu.wav")).Encoding);
    }

    [Theory]
    [InlineData(8, WavSampleFormat.Pcm)]
    [InlineData(16, WavSampleFormat.Pcm)]
    [InlineData(24, WavSampleFormat.Pcm)]
    [InlineData(32, WavSampleFormat.Pcm)]
    [InlineData(32, WavSampleFormat.IeeeFloat)]
    [InlineData(64, WavSampleFormat.IeeeFloat)]
    public void WavWriter_RoundTripsExactly_MultiChannel(int bits, WavSampleFormat format)
    {
        // values on the 2^-(bits-1) grid (or any float for float formats) survive write → read exactly; 8 channels interleaved
        const int channels = 8, frames = 300;
        var rng = new Random(bits);
        int step = format == WavSampleFormat.Pcm ? Math.Max(bits - 1, 0) : 0;
        double grid = format == WavSampleFormat.Pcm ? Math.Pow(2, -Math.Min(step, 23)) : 0;
        var samples = new float[channels * frames];
        for (int i = 0; i < samples.Length; i++)
        {
            double x = rng.NextDouble() * 2 - 1;
            samples[i] = grid > 0 ? (float)(Math.Round(x / grid) * grid) : (float)x;
            samples[i] = Math.Clamp(samples[i], -1f, 1f - (float)(grid > 0 ? grid : 0));
        }
        string path = Temp($"w{bits}{format}.wav");
        WavWriter.Write(path, samples, 32000, bits, channels, format);
        var info = AudioFile.Probe(path);
        Assert.Equal((32000, channels, bits, frames), (info.SampleRate, info.Channels, info.BitsPerSample, info.Frames));
        Assert.Equal(format == WavSampleFormat.Pcm ? "pcm" : "float", info.Encoding);
        for (int c = 0; c < channels; c += 3)
        {
            var got = AudioFile.Read(path, new ChannelMix(c)).Samples;
            for (int f = 0; f < frames; f++) Assert.Equal(samples[f * channels + c], got[f]);
        }
        var mean = AudioFile.Read(path, ChannelMix.Mean).Samples;
        for (int f = 0; f < frames; f++)
        {
            double sum = 0;
            for (int c = 0; c < channels; c++) sum += samples[f * channels + c];
            Assert.Equal((float)(sum / channels), mean[f]);
        }
    }

    [Fact]
    public void WavWriter_RoundsAndClips_AndIsAtomic()
    {
        string path = Temp("clip.wav");
        WavWriter.Write(path, [0.5f, 1f, -1.5f, 2f, 1f / 65536], 16000);
        Assert.Equal([0.5f, 32767f / 32768, -1f, 32767f / 32768, 0f], AudioFile.Read(path).Samples);   // 0.5 LSB rounds to even (0)
        Assert.Equal(["clip.wav"], Directory.GetFiles(_dir).Select(Path.GetFileName));                  // no temp file left
        Assert.Throws<ArgumentException>(() => WavWriter.Write(path, [float.NaN], 16000));
        Assert.Throws<ArgumentException>(() => WavWriter.Write(path, [0f, 0f, 0f], 16000, channels: 2));
        Assert.Throws<ArgumentException>(() => WavWriter.Write(path, [0f], 16000, bitsPerSample: 12));
        Assert.Contains("block size", Assert.Throws<ArgumentException>(() => WavWriter.Write(path, new float[5000], 16000, 64, 5000, WavSampleFormat.IeeeFloat)).Message);
    }

    [Fact]
    public void WideFrames_ReadInSmallBlocks()
    {
        // 4000 channels × 64-bit float: 32 kB per frame, so a block holds 32 frames, not 8192
        const int channels = 4000, frames = 70;
        var samples = new float[channels * frames];
        for (int f = 0; f < frames; f++) samples[f * channels + channels - 1] = f / 64f;
        string path = Temp("wide.wav");
        WavWriter.Write(path, samples, 8000, 64, channels, WavSampleFormat.IeeeFloat);
        var last = AudioFile.Read(path, new ChannelMix(channels - 1)).Samples;
        Assert.Equal(Enumerable.Range(0, frames).Select(f => f / 64f), last);
    }

    [Fact]
    public void ChannelMix_Parse()
    {
        Assert.Equal(new ChannelMix(0), ChannelMix.Parse("0"));
        Assert.Equal(new ChannelMix(7), ChannelMix.Parse(" 7 "));
        Assert.True(ChannelMix.Parse("MEAN").IsMean);
        Assert.Equal(0, default(ChannelMix).Channel);
        Assert.Equal("mean", ChannelMix.Mean.ToString());
        foreach (var bad in new[] { "-1", "left", "", "1.5" })
            Assert.Contains("'mean'", Assert.Throws<ArgumentException>(() => ChannelMix.Parse(bad)).Message);
    }

    [Fact]
    public void ChannelOutOfRange_NamesFileAndCount()
    {
        string path = Temp("two.wav");
        WavWriter.Write(path, [0f, 0f], 16000, channels: 2);
        var e = Assert.Throws<ArgumentException>(() => AudioFile.Read(path, new ChannelMix(2)));
        Assert.Contains(path, e.Message);
        Assert.Contains("2 channel(s)", e.Message);
    }

    // ---- streaming -------------------------------------------------------------------------------

    [Theory]
    [InlineData(null)]
    [InlineData(32000)]
    [InlineData(11025)]
    public void Streaming_InOddBlocks_EqualsWholeRead(int? targetRate)
    {
        const int frames = 3 * AudioStreamReader.BlockFrames + 1234;
        var rng = new Random(5);
        var samples = new float[2 * frames];
        for (int i = 0; i < samples.Length; i++) samples[i] = (float)(rng.NextDouble() - 0.5);
        string path = Temp("long.wav");
        WavWriter.Write(path, samples, 16000, 24, 2);

        var whole = AudioFile.Read(path, ChannelMix.Mean, targetRate);
        var direct = AudioFile.Read(path, ChannelMix.Mean);
        var expected = targetRate is int rate ? Resampler.Resample(direct.Samples, 16000, rate) : direct.Samples;
        Assert.Equal(expected, whole.Samples);
        Assert.Equal(targetRate ?? 16000, whole.SampleRate);

        using var reader = AudioFile.OpenStream(path, ChannelMix.Mean, targetRate);
        Assert.Equal(expected.Length, reader.Length);
        var streamed = new List<float>();
        var buffer = new float[4099];
        int[] sizes = [1, 7, 4099, 333, 2000];
        for (int i = 0; ; i++)
        {
            int n = reader.Read(buffer.AsSpan(0, sizes[i % sizes.Length]));
            if (n == 0) break;
            streamed.AddRange(buffer.AsSpan(0, n));
        }
        Assert.Equal(expected, streamed);
        Assert.Equal(0, reader.Read(buffer));
    }

    // ---- hostile files ---------------------------------------------------------------------------

    /// <summary>Read rejects the file with a message "PATH: …" holding every fragment; so does Probe (header problems).</summary>
    AudioFormatException Rejects(string name, byte[] bytes, params string[] fragments) => Rejects(name, bytes, true, fragments);

    AudioFormatException Rejects(string name, byte[] bytes, bool headerProblem, params string[] fragments)
    {
        string path = WriteBytes(name, bytes);
        var e = Assert.Throws<AudioFormatException>(() => AudioFile.Read(path));
        Assert.StartsWith(path + ": ", e.Message);
        foreach (var f in fragments) Assert.Contains(f, e.Message, StringComparison.OrdinalIgnoreCase);
        if (headerProblem) Assert.Throws<AudioFormatException>(() => AudioFile.Probe(path));
        return e;
    }

    [Fact]
    public void Rejects_EmptyFile() => Rejects("empty.wav", [], "empty file");

    [Fact]
    public void Rejects_TextFile() => Rejects("notes.wav", "hello, this is not audio\n"u8.ToArray(), "not a WAV", "\"hello, this");

    [Fact]
    public void Rejects_Mp3() => Rejects("song.wav", [.. "ID3"u8, 4, 0, 0, 0, 0, 0, 0x21, 0xFF, 0xFB, 0x90, 0x64], "not a WAV", "MP3");

    [Fact]
    public void Rejects_TooShortRiff() => Rejects("short.wav", "RIFF"u8.ToArray(), "not a WAV", "4 bytes");

    [Fact]
    public void Rejects_TruncatedDataChunk_ReportingBothLengths()
    {
        var bytes = WavBytes.Build(1, 1, 16000, 16, WavBytes.Int16(1, 2, 3, 4), declaredDataLength: 32000);
        var e = Rejects("trunc.wav", bytes, "truncated", "32000", "8 follow", $"file length {bytes.Length}");
        Assert.Equal("trunc.wav", Path.GetFileName(e.Path));
    }

    [Fact]
    public void Rejects_Adpcm() => Rejects("adpcm.wav", WavBytes.Build(2, 1, 16000, 4, new byte[256], blockAlign: 256), "unsupported encoding", "Adpcm", "0x0002");

    [Fact]
    public void Rejects_Mp3InsideWav() => Rejects("mp3.wav", WavBytes.Build(0x55, 1, 16000, 0, new byte[64], blockAlign: 1), "unsupported encoding", "0x0055");

    [Fact]
    public void Rejects_ZeroChannels() => Rejects("zero.wav", WavBytes.Build(1, 0, 16000, 16, new byte[8], blockAlign: 2), "0 channels");

    [Fact]
    public void Rejects_BlockAlignMismatch() => Rejects("align.wav", WavBytes.Build(1, 2, 16000, 16, new byte[12], blockAlign: 6), "block size 6", "2 channel(s)");

    [Fact]
    public void Rejects_UnsupportedBitDepth() => Rejects("p12.wav", WavBytes.Build(1, 1, 16000, 12, new byte[8], blockAlign: 2), "12-bit pcm");

    [Fact]
    public void Rejects_UnknownExtensibleSubFormat() =>
        Rejects("extx.wav", WavBytes.Build(0, 1, 16000, 16, new byte[8], subFormat: new Guid("00000002-0000-0010-8000-00aa00389b71")), "sub-format");

    [Fact]
    public void Rejects_MissingDataChunk()
    {
        var bytes = WavBytes.Build(1, 1, 16000, 16, []);
        Rejects("nodata.wav", bytes[..^8].Select((b, i) => i == 4 ? (byte)(bytes.Length - 16) : b).ToArray(), "data chunk");
    }

    [Fact]
    public void Rejects_NaNAndInf_NamingTheSample()
    {
        Rejects("nan.wav", WavBytes.Build(3, 2, 16000, 32, WavBytes.Float32(0, 0, 0.5f, 0, 0, float.NaN)), false,
            "sample 5 (frame 2, channel 1) is NaN");
        Rejects("inf.wav", WavBytes.Build(3, 1, 16000, 64, WavBytes.Float64(0, double.NegativeInfinity)), false, "sample 1", "-Inf");
        // also when that channel is not the one selected, and when streaming
        string path = Temp("nan.wav");
        Assert.Throws<AudioFormatException>(() => AudioFile.Read(path, new ChannelMix(0)));
        using var reader = AudioFile.OpenStream(path);
        Assert.Throws<AudioFormatException>(() => reader.Read(new float[10]));
    }

    [Fact]
    public void MissingFile_IsFileNotFound()
    {
        var e = Assert.Throws<FileNotFoundException>(() => AudioFile.Read(Temp("absent.wav")));
        Assert.Contains("absent.wav", e.Message);
    }

    // ---- real clips ------------------------------------------------------------------------------

    static string[] RealClips()
    {
        string root = SharedData.Require("data/dcase2020-lite");
        return [.. Directory.GetFiles(root, "*.wav", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Take(3)];
    }

    [SkippableFact]
    public void RealClips_MatchNAudiosOwnSampleProvider()
    {
        foreach (string path in RealClips())
        {
            var info = AudioFile.Probe(path);
            Assert.Equal((16000, 1, 16, "pcm"), (info.SampleRate, info.Channels, info.BitsPerSample, info.Encoding));
            Assert.InRange(info.Seconds, 9.9, 11.1);
            var clip = AudioFile.Read(path);
            Assert.Equal(info.Frames, clip.Samples.Length);

            // independent decode path: NAudio's WaveFileReader → Pcm16BitToSampleProvider
            using var naudio = new WaveFileReader(path);
            var provider = naudio.ToSampleProvider();
            var expected = new float[clip.Samples.Length + 16];
            int n = 0, got;
            while ((got = provider.Read(expected.AsSpan(n))) > 0) n += got;
            Assert.Equal(clip.Samples.Length, n);
            Assert.Equal(expected[..n], clip.Samples);
            Assert.Contains(clip.Samples, x => x != 0);
        }
    }

    [SkippableFact]
    public void RealClip_AsEightChannels24Bit_SelectsAndAverages()
    {
        // MIMII-style 8-channel file made from a real clip: channel c = clip · (c+1)/8 at 24 bits
        var clip = AudioFile.Read(RealClips()[0]).Samples.AsSpan(0, 16000).ToArray();
        var interleaved = new float[8 * clip.Length];
        for (int f = 0; f < clip.Length; f++)
            for (int c = 0; c < 8; c++) interleaved[8 * f + c] = clip[f] * (c + 1) / 8;
        string path = Temp("mimii8.wav");
        WavWriter.Write(path, interleaved, 16000, 24, 8);
        Assert.Equal(8, AudioFile.Probe(path).Channels);
        Assert.Equal(clip, AudioFile.Read(path, new ChannelMix(7)).Samples);   // 16-bit values are exact at 24 bits
        var mean = AudioFile.Read(path, ChannelMix.Mean).Samples;
        for (int f = 0; f < clip.Length; f++) Assert.Equal(clip[f] * 4.5 / 8, mean[f], 1e-6);

        var up = AudioFile.Read(path, ChannelMix.Mean, 32000);
        Assert.Equal(32000, up.SampleRate);
        Assert.Equal(2 * clip.Length, up.Samples.Length);
    }
}
