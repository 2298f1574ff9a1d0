using System.Text.Json;
using NativeASD.Engine.Audio;
using NativeASD.Engine.IO;

namespace NativeASD.Tests.Cli.Commands;

/// <summary>
/// The EfficientAT MobileNetV3 file (../shared/weights/mn04_as_mAP_432.pt) through the commands, as a user runs them:
/// inspect, embed --tap list, tag (Speech first on the YAMNet test clip), convert (the converted file embeds the same),
/// fit/score with its taps, and eval on a small DCASE-layout copy of real clips.
/// </summary>
public sealed class EfficientAtCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-efficientat-cli").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    static string Weights => SharedData.Require(EfficientAtFixtures.Weights);

    string SpeechWav()
    {
        string wav = Path.Combine(_dir, "speech.wav");
        WavWriter.Write(wav, EfficientAtFixtures.Speech16k(), 16000);
        return wav;
    }

    [SkippableFact]
    public void Inspect_and_tap_list_name_the_architecture_and_its_taps()
    {
        var inspect = NasdProcess.Run("inspect", Weights);
        Assert.True(inspect.ExitCode == 0, inspect.Stderr);
        Assert.Contains("312 tensors", inspect.Stdout);
        var list = NasdProcess.Run("embed", "--backbone", Weights, "--tap", "list", "--json");
        Assert.True(list.ExitCode == 0, list.Stderr);
        using var json = JsonDocument.Parse(list.Stdout);
        Assert.Equal("efficientat-mn", json.RootElement.GetProperty("arch").GetString());
        Assert.Equal([.. Enumerable.Range(0, 17).Select(i => $"features.{i}"), "embedding", "logits", "scores"],
            json.RootElement.GetProperty("taps").EnumerateArray().Select(t => t.GetString()));
        var plain = NasdProcess.Run("embed", "--backbone", Weights, "--tap", "list");
        Assert.StartsWith("efficientat-mn taps: features.0, features.1,", plain.Stdout);
    }

    /// <summary>AudioSet class 0 is "Speech"; no class map ships, so --labels names it. The score is torch's within 1e-5 (p = 0.6625).</summary>
    [SkippableFact]
    public void Tag_puts_speech_first_on_the_yamnet_test_clip()
    {
        string labels = Path.Combine(_dir, "labels.txt");
        File.WriteAllLines(labels, ["Speech", .. Enumerable.Range(1, 526).Select(i => $"class {i}")]);
        var r = NasdProcess.Run("tag", "--backbone", Weights, SpeechWav(), "--labels", labels, "--top", "3", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var json = JsonDocument.Parse(r.Stdout);
        Assert.Equal("efficientat-mn", json.RootElement.GetProperty("arch").GetString());
        Assert.Equal("efficientat", json.RootElement.GetProperty("frontend").GetString());
        var top = json.RootElement.GetProperty("top")[0];
        Assert.Equal(0, top.GetProperty("index").GetInt32());
        Assert.Equal("Speech", top.GetProperty("label").GetString());
        double torch = EfficientAtFixtures.Clip("speech").GetProperty("top_score").GetDouble();
        Assert.True(Math.Abs(top.GetProperty("score").GetDouble() - torch) <= 1e-5, $"score {top.GetProperty("score")}, torch {torch}");
    }

    [SkippableFact]
    public void A_converted_file_embeds_like_the_original()
    {
        string converted = Path.Combine(_dir, "mn04.safetensors");
        var convert = NasdProcess.Run("convert", Weights, converted);
        Assert.True(convert.ExitCode == 0, convert.Stderr);
        Assert.Contains("efficientat-mn", convert.Stdout);
        string wav = SpeechWav();
        string a = Path.Combine(_dir, "a.npy"), b = Path.Combine(_dir, "b.npy");
        var ra = NasdProcess.Run("embed", "--backbone", Weights, "--tap", "features.12,embedding", wav, a);
        var rb = NasdProcess.Run("embed", "--backbone", converted, "--tap", "features.12,embedding", wav, b);
        Assert.True(ra.ExitCode == 0 && rb.ExitCode == 0, ra.Stderr + rb.Stderr);
        var (va, sa) = NpyFile.Read(a);
        var (vb, sb) = NpyFile.Read(b);
        Assert.Equal([48 + 384], sa);
        Assert.Equal(sa, sb);
        Assert.Equal(va, vb);
    }

    /// <summary>fit and score with EfficientAT taps, then eval on a DCASE-layout copy of real fan clips (id_06: 5 normal for training, 1 normal and 1 anomalous for testing).</summary>
    [SkippableFact]
    public void Fit_score_and_eval_take_it_as_a_backbone()
    {
        string fan = SharedData.Require("data/dcase2020-lite/fan");
        var normals = Directory.GetFiles(fan, "normal_id_06_*.wav").Order().ToArray();
        var anomalies = Directory.GetFiles(fan, "anomaly_id_06_*.wav").Order().ToArray();
        string train = Path.Combine(_dir, "data", "fan", "train"), test = Path.Combine(_dir, "data", "fan", "test");
        Directory.CreateDirectory(train);
        Directory.CreateDirectory(test);
        foreach (var f in normals[..5]) File.Copy(f, Path.Combine(train, Path.GetFileName(f)));
        File.Copy(normals[^1], Path.Combine(test, Path.GetFileName(normals[^1])));
        File.Copy(anomalies[0], Path.Combine(test, Path.GetFileName(anomalies[0])));

        string model = Path.Combine(_dir, "fan.safetensors");
        var fit = NasdProcess.Run("fit", "--train", train, "--out", model, "--detector", "mahalanobis", "--backbone", Weights, "--tap", "features.12", "--no-cache", "--json");
        Assert.True(fit.ExitCode == 0, fit.Stderr);
        Assert.Contains("backbone:", fit.Stdout);
        var score = NasdProcess.Run("score", "--model", model, test, "--no-cache");
        Assert.True(score.ExitCode == 0, score.Stderr);
        Assert.Equal(2, score.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l.Contains(".wav")));

        var eval = NasdProcess.Run("eval", "--data", Path.Combine(_dir, "data"), "--out", Path.Combine(_dir, "out"), "--detector", "mahalanobis",
            "--backbone", Weights, "--tap", "features.12", "--no-cache", "--json");
        Assert.True(eval.ExitCode == 0, eval.Stderr);
        using var json = JsonDocument.Parse(eval.Stdout);
        Assert.Equal(1, json.RootElement.GetProperty("groups").GetArrayLength());
    }
}
