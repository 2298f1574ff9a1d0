using System.Text.Json;
using NativeASD.Engine.Audio;

namespace NativeASD.Tests.Cli.Commands;

/// <summary>nasd normalise: channel 0 lands at the asked RMS level, every channel gets the same gain, the tree is kept, bad clips are refused.</summary>
public sealed class NormaliseCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-normalise").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>A tone with noise, interleaved over <paramref name="channels"/>, channel c scaled by <paramref name="levels"/>[c].</summary>
    static float[] Signal(int frames, float[] levels, int seed = 1)
    {
        var rng = new Random(seed);
        var x = new float[frames * levels.Length];
        for (int t = 0; t < frames; t++)
            for (int c = 0; c < levels.Length; c++)
                x[t * levels.Length + c] = levels[c] * (float)(0.6 * Math.Sin(2 * Math.PI * 440 * (c + 1) * t / 16000.0) + 0.3 * (rng.NextDouble() - 0.5));
        return x;
    }

    string Write(string relative, float[] samples, int channels = 1, int bits = 16, WavSampleFormat format = WavSampleFormat.Pcm)
    {
        string path = Path.Combine(_dir, "in", relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        WavWriter.Write(path, samples, 16000, bits, channels, format);
        return path;
    }

    static double ChannelDbfs(string path, int channel) => Loudness.RmsDbfs(AudioFile.Read(path, new ChannelMix(channel)).Samples);

    [Theory]
    [InlineData(16, WavSampleFormat.Pcm, null, -30.0)]
    [InlineData(32, WavSampleFormat.IeeeFloat, null, -30.0)]
    [InlineData(16, WavSampleFormat.Pcm, "-12.5", -12.5)]
    public void ChannelZeroLandsAtTheLevelAsFloat32(int bits, WavSampleFormat format, string? level, double target)
    {
        string input = Write("clip.wav", Signal(16000, [0.05f]), bits: bits, format: format);
        string outDir = Path.Combine(_dir, "out");
        var r = level is null ? NasdProcess.Run("normalise", "--out", outDir, input) : NasdProcess.Run("normalise", "--rms-dbfs", level, "--out", outDir, input);
        Assert.True(r.ExitCode == 0, r.Stderr);
        string output = Path.Combine(outDir, "clip.wav");
        Assert.Equal(target, ChannelDbfs(output, 0), 1e-3);
        var info = AudioFile.Probe(output);
        Assert.Equal(("float", 32, 16000, 16000L), (info.Encoding, info.BitsPerSample, info.SampleRate, info.Frames));
    }

    [Fact]
    public void EveryChannelGetsChannelZerosGain()
    {
        string input = Write("stereo.wav", Signal(8000, [0.02f, 0.3f, 0.001f]), channels: 3);
        string outDir = Path.Combine(_dir, "out");
        Assert.Equal(0, NasdProcess.Run("normalise", "--out", outDir, input).ExitCode);
        string output = Path.Combine(outDir, "stereo.wav");
        Assert.Equal(3, AudioFile.Probe(output).Channels);
        Assert.Equal(-30, ChannelDbfs(output, 0), 1e-3);
        double gain = ChannelDbfs(output, 0) - ChannelDbfs(input, 0);
        for (int c = 1; c < 3; c++) Assert.Equal(ChannelDbfs(input, c) + gain, ChannelDbfs(output, c), 1e-3);
    }

    [Fact]
    public void LoudPeaksAreNotClipped()
    {
        var samples = new float[16000];
        samples[100] = 0.9f;   // a click in silence: at -10 dBFS RMS the click far exceeds full scale
        samples[200] = 0.001f;
        string input = Write("click.wav", samples, bits: 32, format: WavSampleFormat.IeeeFloat);
        string outDir = Path.Combine(_dir, "out");
        Assert.Equal(0, NasdProcess.Run("normalise", "--rms-dbfs", "-10", "--out", outDir, input).ExitCode);
        var output = AudioFile.Read(Path.Combine(outDir, "click.wav")).Samples;
        Assert.Equal(-10, Loudness.RmsDbfs(output), 1e-3);
        Assert.True(output[100] > 30, $"peak {output[100]}");
        Assert.Equal(output[100] / 900, output[200], 1e-3);
    }

    [Fact]
    public void FolderTreeAndNamesAreKept()
    {
        Write("a/one.wav", Signal(4000, [0.1f]));
        Write("a/b/two.WAV", Signal(4000, [0.2f]), bits: 24);
        Write("three.wav", Signal(4000, [0.3f], seed: 2));
        File.WriteAllText(Path.Combine(_dir, "in", "a", "notes.txt"), "not audio");
        string outDir = Path.Combine(_dir, "out");
        var r = NasdProcess.Run("normalise", "--out", outDir, Path.Combine(_dir, "in"), "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var written = Directory.GetFiles(outDir, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(outDir, f)).Order(StringComparer.Ordinal);
        Assert.Equal(["a/b/two.WAV", "a/one.wav", "three.wav"], written);
        foreach (var f in written) Assert.Equal(-30, ChannelDbfs(Path.Combine(outDir, f), 0), 1e-3);
        using var json = JsonDocument.Parse(r.Stdout);
        Assert.Equal(3, json.RootElement.GetProperty("written").GetInt32());
        Assert.Equal(-30, json.RootElement.GetProperty("rms_dbfs").GetDouble());
        var first = json.RootElement.GetProperty("clips")[0];
        Assert.Equal(ChannelDbfs(Path.Combine(_dir, "in", "a", "b", "two.WAV"), 0), first.GetProperty("input_rms_dbfs").GetDouble(), 1e-6);
        Assert.Equal(0, json.RootElement.GetProperty("skipped").GetArrayLength());
    }

    [Fact]
    public void SilentClipIsRefusedAndNothingIsWritten()
    {
        Write("good.wav", Signal(4000, [0.1f]));
        string silent = Write("silent.wav", new float[4000]);
        string outDir = Path.Combine(_dir, "out");
        var r = NasdProcess.Run("normalise", "--out", outDir, Path.Combine(_dir, "in"));
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith($"nasd: error: {silent}: silent (channel 0 RMS -Infinity dBFS", r.Stderr);
        Assert.Contains("--skip-bad", r.Stderr);
        Assert.False(Directory.Exists(outDir));
    }

    [Fact]
    public void SkipBadWarnsAndWritesTheRest()
    {
        Write("good.wav", Signal(4000, [0.1f]));
        string silent = Write("silent.wav", new float[4000]);
        string broken = Path.Combine(_dir, "in", "broken.wav");
        File.WriteAllText(broken, "not a wav file at all");
        string outDir = Path.Combine(_dir, "out");
        var r = NasdProcess.Run("normalise", "--skip-bad", "--out", outDir, Path.Combine(_dir, "in"), "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains($"nasd: warning: {silent}: silent", r.Stderr);
        Assert.Contains($"nasd: warning: {broken}: unreadable", r.Stderr);
        Assert.Equal(["good.wav"], Directory.GetFiles(outDir).Select(Path.GetFileName));
        using var json = JsonDocument.Parse(r.Stdout);
        Assert.Equal(2, json.RootElement.GetProperty("skipped").GetArrayLength());
    }

    [Fact]
    public void NonFiniteFloatClipIsRefused()
    {
        string path = Path.Combine(_dir, "in", "nan.wav");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        WavWriter.Write(path, Signal(4000, [0.1f]), 16000, 32, 1, WavSampleFormat.IeeeFloat);
        var raw = File.ReadAllBytes(path);
        BitConverter.TryWriteBytes(raw.AsSpan(44 + 4 * 17), float.NaN);
        File.WriteAllBytes(path, raw);
        var r = NasdProcess.Run("normalise", "--out", Path.Combine(_dir, "out"), path);
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith($"nasd: error: {path}: unreadable (", r.Stderr);
        Assert.Contains("17", r.Stderr);
    }

    [Theory]
    [InlineData("--rms-dbfs", "5", "--rms-dbfs must be between -120 and 0")]
    [InlineData("--rms-dbfs", "loud", "--rms-dbfs takes a number")]
    public void BadLevelIsAUsageError(string option, string value, string message)
    {
        string input = Write("clip.wav", Signal(4000, [0.1f]));
        var r = NasdProcess.Run("normalise", option, value, "--out", Path.Combine(_dir, "out"), input);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(message, r.Stderr);
    }

    [Fact]
    public void OutputsThatWouldOverwriteInputsOrEachOtherAreRefused()
    {
        string a = Write("x/clip.wav", Signal(4000, [0.1f]));
        string b = Write("y/clip.wav", Signal(4000, [0.2f]));
        var inside = NasdProcess.Run("normalise", "--out", Path.Combine(_dir, "in", "norm"), Path.Combine(_dir, "in"));
        Assert.Equal(1, inside.ExitCode);
        Assert.Contains("lies inside the input folder", inside.Stderr);
        var same = NasdProcess.Run("normalise", "--out", Path.Combine(_dir, "in", "x"), a);
        Assert.Equal(1, same.ExitCode);
        Assert.Contains("would be overwritten by its own copy", same.Stderr);
        var clash = NasdProcess.Run("normalise", "--out", Path.Combine(_dir, "out"), a, b);
        Assert.Equal(1, clash.ExitCode);
        Assert.Contains("would both be written to", clash.Stderr);
        var missing = NasdProcess.Run("normalise", "--out", Path.Combine(_dir, "out"), Path.Combine(_dir, "nope.wav"));
        Assert.Equal(2, missing.ExitCode);
        Assert.StartsWith($"nasd: error: {Path.Combine(_dir, "nope.wav")}: no such file or folder", missing.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_dir, "out")));
    }
}
