using NativeASD.Engine.Audio;
using NativeASD.Detection.Synth;

namespace NativeASD.Tests.Cli.Commands;

/// <summary>nasd fit / score end to end on generated clips, and their handling of bad input.</summary>
public sealed class FitScoreCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-fit").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    string Clips(string split, int count, AnomalyKind kind)
    {
        string folder = Directory.CreateDirectory(Path.Combine(_dir, split)).FullName;
        var generator = new MachineSoundGenerator(new SynthOptions(Seed: 3, Seconds: 2));
        for (int i = 0; i < count; i++)
        {
            var clip = new SynthClip("fan", 0, split, i, kind);
            WavWriter.Write(Path.Combine(folder, clip.FileName), generator.Generate(clip), 16000);
        }
        return folder;
    }

    [Fact]
    public void FitThenScoreWritesCsvWithDecisions()
    {
        string train = Clips("train", 6, AnomalyKind.None);
        string test = Clips("test", 2, AnomalyKind.Bearing);
        string model = Path.Combine(_dir, "m.safetensors"), csv = Path.Combine(_dir, "s.csv");
        var fit = NasdProcess.Run("fit", "--train", train, "--out", model, "--detector", "mahalanobis", "--no-cache", "--json");
        Assert.True(fit.ExitCode == 0, fit.Stderr);
        Assert.Contains("\"detector\":\"mahalanobis\"", fit.Stdout);
        var score = NasdProcess.Run("score", "--model", model, test, "--csv", csv, "--no-cache");
        Assert.True(score.ExitCode == 0, score.Stderr);
        var lines = File.ReadAllLines(csv);
        Assert.Equal("file,score,decision", lines[0]);
        Assert.Equal(3, lines.Length);
        Assert.All(lines.Skip(1), l => Assert.Matches(@"anomaly_id_00_\d{8}\.wav,[0-9.E+-]+,[01]$", l));
    }

    [Fact]
    public void SameSeedGivesTheSameModelBytes()
    {
        string train = Clips("train", 3, AnomalyKind.None);
        string a = Path.Combine(_dir, "a.safetensors"), b = Path.Combine(_dir, "b.safetensors");
        Assert.Equal(0, NasdProcess.Run("fit", "--train", train, "--out", a, "--detector", "metric", "--epochs", "2", "--width", "16", "--no-cache", "--seed", "4").ExitCode);
        Assert.Equal(0, NasdProcess.Run("fit", "--train", train, "--out", b, "--detector", "metric", "--epochs", "2", "--width", "16", "--no-cache", "--seed", "4").ExitCode);
        var sa = NasdProcess.Run("score", "--model", a, train, "--no-cache").Stdout;
        var sb = NasdProcess.Run("score", "--model", b, train, "--no-cache").Stdout;
        Assert.Equal(sa, sb);
    }

    [Fact]
    public void EmptyFolderAnomalyInTrainingAndBadModelAreInputErrors()
    {
        string empty = Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName;
        var r = NasdProcess.Run("fit", "--train", empty, "--out", Path.Combine(_dir, "x.safetensors"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("no .wav files", r.Stderr);

        string anomalies = Clips("bad", 1, AnomalyKind.Rubbing);
        r = NasdProcess.Run("fit", "--train", anomalies, "--out", Path.Combine(_dir, "x.safetensors"), "--no-cache");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("normal clips only", r.Stderr);

        string junk = Path.Combine(_dir, "junk.safetensors");
        File.WriteAllText(junk, "not a model");
        r = NasdProcess.Run("score", "--model", junk, anomalies, "--no-cache");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("junk.safetensors", r.Stderr);
    }

    [Fact]
    public void ABrokenClipMeansNoCsvAtAll()
    {
        string train = Clips("train", 3, AnomalyKind.None);
        string model = Path.Combine(_dir, "m.safetensors"), csv = Path.Combine(_dir, "s.csv");
        Assert.Equal(0, NasdProcess.Run("fit", "--train", train, "--out", model, "--detector", "mahalanobis", "--no-cache").ExitCode);
        string broken = Path.Combine(_dir, "normal_id_00_99999999.wav");
        File.WriteAllText(broken, "RIFF but not really");
        var r = NasdProcess.Run("score", "--model", model, train, broken, "--csv", csv, "--no-cache");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("normal_id_00_99999999.wav", r.Stderr);
        Assert.False(File.Exists(csv));
    }
}

/// <summary>Backbone features (YAMNet from ../shared) through fit and score, and the backbone hash check.</summary>
public sealed class BackboneFitScoreTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-backbone").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [SkippableFact]
    public void YamnetFeaturesFitScoreAndRefuseADifferentBackbone()
    {
        string yamnet = SharedData.Require("weights/yamnet_spectra_in.tflite");
        string train = Directory.CreateDirectory(Path.Combine(_dir, "train")).FullName;
        var generator = new MachineSoundGenerator(new SynthOptions(Seed: 1, Seconds: 2));
        for (int i = 0; i < 3; i++)
        {
            var clip = new SynthClip("pump", 0, "train", i, AnomalyKind.None);
            WavWriter.Write(Path.Combine(train, clip.FileName), generator.Generate(clip), 16000);
        }
        string model = Path.Combine(_dir, "m.safetensors");
        var fit = NasdProcess.Run("fit", "--train", train, "--out", model, "--detector", "mahalanobis", "--backbone", yamnet, "--tap", "layer12,embedding", "--no-cache", "--json");
        Assert.True(fit.ExitCode == 0, fit.Stderr);
        Assert.Contains("backbone:", fit.Stdout);
        var score = NasdProcess.Run("score", "--model", model, train, "--no-cache");
        Assert.True(score.ExitCode == 0, score.Stderr);
        Assert.Equal(4, score.Stdout.Trim().Split('\n').Length);

        string altered = Path.Combine(_dir, "altered.tflite");
        var bytes = File.ReadAllBytes(yamnet);
        bytes[^1] ^= 1;
        File.WriteAllBytes(altered, bytes);
        var refused = NasdProcess.Run("score", "--model", model, train, "--no-cache", "--backbone", altered);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("SHA-256", refused.Stderr);
        Assert.Contains("yamnet_spectra_in.tflite", refused.Stderr);
    }
}

public sealed class ScoreRateNoteTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-rate").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void ClipsAtAnotherRateAreScoredAndNoted()
    {
        var generator = new MachineSoundGenerator(new SynthOptions(Seed: 2, Seconds: 2));
        string train = Directory.CreateDirectory(Path.Combine(_dir, "train")).FullName;
        for (int i = 0; i < 3; i++)
        {
            var clip = new SynthClip("valve", 0, "train", i, AnomalyKind.None);
            WavWriter.Write(Path.Combine(train, clip.FileName), generator.Generate(clip), 16000);
        }
        var odd = new MachineSoundGenerator(new SynthOptions(Seed: 2, Seconds: 2, SampleRate: 44100));
        string test = Path.Combine(_dir, "normal_id_00_00000099.wav");
        WavWriter.Write(test, odd.Generate(new SynthClip("valve", 0, "test", 0, AnomalyKind.None)), 44100);
        string model = Path.Combine(_dir, "m.safetensors");
        Assert.Equal(0, NasdProcess.Run("fit", "--train", train, "--out", model, "--detector", "mahalanobis", "--no-cache").ExitCode);
        var r = NasdProcess.Run("score", "--model", model, test, "--no-cache");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("44100 Hz", r.Stderr);
        Assert.Contains("trained on 16000 Hz", r.Stderr);
        Assert.Equal(2, r.Stdout.Trim().Split('\n').Length);
    }
}
