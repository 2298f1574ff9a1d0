using System.Text.Json;
using NativeASD.Engine.Audio;
using NativeASD.Engine.IO;
using NativeASD.Tests.Engine.Frontend;

namespace NativeASD.Tests.Cli.Commands;

public class FeaturesCommandTests
{
    static string Temp(string name) => Path.Combine(Path.GetTempPath(), $"nasd-features-{Environment.ProcessId}-{name}");

    [Fact]
    public void ListPrintsEveryPreset()
    {
        var r = NasdProcess.Run("features", "--list");
        Assert.True(r.ExitCode == 0, r.Stderr);
        foreach (var name in new[] { "panns", "panns16k", "dcase2020", "vae60", "yamnet", "honk", "st-aed", "efficientat" }) Assert.Contains(name, r.Stdout);
        var j = NasdProcess.Run("features", "--list", "--json");
        using var doc = JsonDocument.Parse(j.Stdout);
        Assert.Equal(NativeASD.Engine.Frontend.FrontendPreset.All.Count, doc.RootElement.GetArrayLength());
        Assert.True(doc.RootElement.EnumerateArray().Single(p => p.GetProperty("name").GetString() == "st-aed").GetProperty("reference_max").GetBoolean());
        Assert.Equal(257, doc.RootElement[1].GetProperty("n_fft").GetInt32() / 2 + 1);
        Assert.Equal(128, doc.RootElement[2].GetProperty("mel_bins").GetInt32());
    }

    [Fact]
    public void WritesTheMeanOfAnEightChannelFileAsTimeFirstNpy()
    {
        var c = FrontendManifest.Get("file/dcase2020/eight_channel_mean");
        string output = Temp("mean.npy");
        var r = NasdProcess.Run("features", "--preset", "dcase2020", "--channel", "mean", "--json",
            Fixtures.PathOf("frontend", "eight_channel_16k.wav"), output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal(8, doc.RootElement.GetProperty("channels").GetInt32());
        Assert.Equal("mean", doc.RootElement.GetProperty("channel").GetString());
        var (data, shape) = NpyFile.Read(output);
        File.Delete(output);
        Assert.Equal(c.Expected.Shape, shape);
        var features = new float[shape[0], shape[1]];
        Buffer.BlockCopy(data, 0, features, 0, data.Length * sizeof(float));
        FrontendManifest.Check(c, features, "nasd features");
    }

    [Fact]
    public void StacksFramesAndResamples()
    {
        string output = Temp("stack.npy");
        var r = NasdProcess.Run("features", "--preset", "dcase2020", "--stack", "5", Fixtures.PathOf("frontend", "resampled_32k.wav"), output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("resampled from 32000 Hz", r.Stdout);
        var (_, shape) = NpyFile.Read(output);
        File.Delete(output);
        Assert.Equal([16 - 4, 640], shape);   // 8000 samples at 16 kHz: 1 + 8000/512 = 16 frames
    }

    [Fact]
    public void YamnetPatches()
    {
        string wav = Temp("two-seconds.wav"), output = Temp("patches.npy");
        var x = new float[32000];
        for (int i = 0; i < x.Length; i++) x[i] = 0.3f * MathF.Sin(i * 0.1f);
        WavWriter.Write(wav, x, 16000);
        var r = NasdProcess.Run("features", "--preset", "yamnet", "--patches", wav, output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var (_, shape) = NpyFile.Read(output);
        File.Delete(output); File.Delete(wav);
        Assert.Equal([3, 96, 64], shape);   // 198 frames: patches at 0, 48, 96
    }

    [Fact]
    public void BadInputsAreOneLineErrorsNamingTheFile()
    {
        string text = Temp("not-a.wav"), shortWav = Temp("short.wav"), output = Temp("out.npy");
        File.WriteAllText(text, "hello, not audio");
        WavWriter.Write(shortWav, new float[200], 16000);
        var r = NasdProcess.Run("features", "--preset", "yamnet", text, output);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("not-a.wav", r.Stderr);
        r = NasdProcess.Run("features", "--preset", "yamnet", shortWav, output);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("short.wav", r.Stderr);
        Assert.Contains("shorter than one frame", r.Stderr);
        r = NasdProcess.Run("features", "--preset", "yamnet", Temp("missing.wav"), output);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("missing.wav", r.Stderr);
        r = NasdProcess.Run("features", "--preset", "nope", shortWav, output);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("dcase2020", r.Stderr);
        r = NasdProcess.Run("features", "--preset", "dcase2020", "--channel", "9", Fixtures.PathOf("frontend", "eight_channel_16k.wav"), output);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("channel 9", r.Stderr);
        File.Delete(text); File.Delete(shortWav);
        Assert.False(File.Exists(output));
    }
}

public class FeaturesCommandDeviceTests
{
    [Fact]
    public void IlgpuCpuDeviceMatchesTheCpu()
    {
        string wav = Fixtures.PathOf("frontend", "eight_channel_16k.wav");
        string cpu = Path.Combine(Path.GetTempPath(), $"nasd-features-{Environment.ProcessId}-cpu.npy");
        string dev = Path.Combine(Path.GetTempPath(), $"nasd-features-{Environment.ProcessId}-dev.npy");
        var a = NasdProcess.Run("features", "--preset", "dcase2020", "--precision", "double", wav, cpu);
        var b = NasdProcess.Run("features", "--preset", "dcase2020", "--device", "ilgpu-cpu", wav, dev);
        Assert.True(a.ExitCode == 0, a.Stderr);
        Assert.True(b.ExitCode == 0, b.Stderr);
        var (x, sx) = NpyFile.Read(cpu);
        var (y, sy) = NpyFile.Read(dev);
        File.Delete(cpu); File.Delete(dev);
        Assert.Equal(sx, sy);
        double worst = 0, floor = x.Max() - 70;
        for (int i = 0; i < x.Length; i++) if (x[i] > floor) worst = Math.Max(worst, Math.Abs(x[i] - y[i]));
        Assert.True(worst < 1e-3, $"ilgpu-cpu differs from the CPU by {worst} dB");
    }
}
