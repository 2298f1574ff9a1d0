using System.Text.Json;
using NativeASD.Engine.Audio;
using NativeASD.Detection.Synth;
using NativeASD.Detection.Backbones;
using NativeASD.Detection.Detectors;

namespace NativeASD.Tests.Cli.Commands;

/// <summary>nasd pretrain end to end, its errors, and the shipped backbone as fit's default.</summary>
public sealed class PretrainCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-pretrain").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    string Clips(string type, int id, int count)
    {
        string folder = Directory.CreateDirectory(Path.Combine(_dir, "data", type, "train")).FullName;
        var generator = new MachineSoundGenerator(new SynthOptions(Seed: 5, Seconds: 1));
        for (int i = 0; i < count; i++)
        {
            var clip = new SynthClip(type, id, "train", i, AnomalyKind.None);
            WavWriter.Write(Path.Combine(folder, clip.FileName), generator.Generate(clip), 16000);
        }
        return folder;
    }

    static readonly string[] Tiny = ["--epochs", "1", "--width", "0.0625", "--batch", "8", "--crop", "0.4"];

    [Fact]
    public void SynthRunWritesAModelThatFitUsesAsABackbone()
    {
        string model = Path.Combine(_dir, "tiny.safetensors");
        var r = NasdProcess.Run(["pretrain", "--synth", "16", "--ids", "1", "--conditions", "1", "--out", model, "--json", .. Tiny]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var json = JsonDocument.Parse(r.Stdout);
        Assert.Equal(4, json.RootElement.GetProperty("classes").GetInt32());
        Assert.Equal(1, json.RootElement.GetProperty("epochs").GetArrayLength());
        Assert.True(File.Exists(model + ".checkpoint"));

        string train = Clips("fan", 0, 4);
        var fit = NasdProcess.Run("fit", "--train", train, "--out", Path.Combine(_dir, "d.safetensors"), "--backbone", model, "--tap", "layer3", "--epochs", "1", "--no-cache", "--json");
        Assert.True(fit.ExitCode == 0, fit.Stderr);
        Assert.Contains("backbone:", fit.Stdout);
    }

    [Fact]
    public void DataRunLabelsByMachineIdAndFineTunesFromAnInitFile()
    {
        Clips("fan", 0, 3);
        Clips("fan", 1, 3);
        string data = Path.Combine(_dir, "data"), first = Path.Combine(_dir, "first.safetensors"), tuned = Path.Combine(_dir, "tuned.safetensors");
        var r = NasdProcess.Run(["pretrain", "--data", data, "--out", first, "--clips-per-epoch", "16", .. Tiny]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("2 machine-ID classes", r.Stdout);
        Assert.Contains("epoch 1/1", r.Stdout);
        r = NasdProcess.Run(["pretrain", "--data", data, "--labels", "folder", "--out", tuned, "--init", first, "--clips-per-epoch", "16", .. Tiny]);
        Assert.Equal(2, r.ExitCode);   // one folder = one class: nothing to learn
        Assert.Contains("at least two classes", r.Stderr);
        r = NasdProcess.Run(["pretrain", "--data", data, "--out", tuned, "--init", first, "--clips-per-epoch", "16", .. Tiny]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var loaded = ModelFiles.Load(tuned);
        Assert.Contains("first.safetensors", loaded.Metadata["pretrain_init"]);
    }

    [Fact]
    public void BadArgumentsAreClearErrors()
    {
        var r = NasdProcess.Run("pretrain", "--out", Path.Combine(_dir, "x.safetensors"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("exactly one of --data DIR and --synth N", r.Stderr);
        r = NasdProcess.Run("pretrain", "--synth", "8", "--arch", "vgg");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("unknown architecture 'vgg'", r.Stderr);
        r = NasdProcess.Run("pretrain", "--data", Path.Combine(_dir, "nowhere"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("nowhere: no such folder", r.Stderr);
        r = NasdProcess.Run("pretrain", "--synth", "8", "--out", Path.Combine(_dir, "y.safetensors"), "--resume");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("no checkpoint to resume from", r.Stderr);
    }

    [Fact]
    public void DistillationRunReportsEachTeachersLossAndItsErrorsAreClear()
    {
        string teacher = Path.Combine(_dir, "teacher.safetensors"), student = Path.Combine(_dir, "student.safetensors");
        var r = NasdProcess.Run(["pretrain", "--synth", "16", "--ids", "1", "--conditions", "1", "--out", teacher, .. Tiny]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        string real = Clips("pump", 3, 3);
        r = NasdProcess.Run(["pretrain", "--synth", "16", "--ids", "1", "--conditions", "1", "--teacher", teacher, "--audio", real, "--audio-per-batch", "2",
            "--seed", "1", "--out", student, "--json", .. Tiny]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        using (var json = JsonDocument.Parse(r.Stdout))
        {
            var epoch = json.RootElement.GetProperty("epochs")[0];
            Assert.Equal(1, epoch.GetProperty("TrainDistillLoss").GetArrayLength());
            Assert.Equal(1, epoch.GetProperty("ValidationDistillLoss").GetArrayLength());
        }
        r = NasdProcess.Run(["pretrain", "--synth", "16", "--teacher", teacher, "--audio", real, "--out", student, .. Tiny]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("distilling from teacher.safetensors", r.Stdout);
        Assert.Contains("train distillation", r.Stdout);

        r = NasdProcess.Run(["pretrain", "--synth", "16", "--audio", real, "--out", student, .. Tiny]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("need --teacher", r.Stderr);
        r = NasdProcess.Run(["pretrain", "--synth", "16", "--teacher", Path.Combine(_dir, "missing.pt"), "--out", student, .. Tiny]);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("missing.pt", r.Stderr);
        r = NasdProcess.Run(["pretrain", "--synth", "16", "--teacher", teacher, "--audio", Path.Combine(_dir, "nowhere"), "--out", student, .. Tiny]);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("neither a folder nor a .txt list", r.Stderr);
        r = NasdProcess.Run(["pretrain", "--synth", "16", "--teacher", teacher, "--distill-weight", "0", "--out", student, .. Tiny]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("distillation weight", r.Stderr);
    }

    [Fact]
    public void FitUsesTheShippedBackboneForTheMetricDetectorByDefault()
    {
        Assert.True(File.Exists(ShippedBackbone.Path), $"the shipped backbone is not next to the program: {ShippedBackbone.Path}");
        string train = Clips("valve", 0, 3);
        var fit = NasdProcess.Run("fit", "--train", train, "--out", Path.Combine(_dir, "m.safetensors"), "--detector", "metric", "--epochs", "1", "--no-cache", "--json");
        Assert.True(fit.ExitCode == 0, fit.Stderr);
        Assert.Contains($"backbone:{BackboneSha(ShippedBackbone.Path)}:{string.Join(",", ShippedBackbone.DefaultTaps)}", fit.Stdout);
        var logMel = NasdProcess.Run("fit", "--train", train, "--out", Path.Combine(_dir, "n.safetensors"), "--detector", "metric", "--epochs", "1", "--no-cache", "--json", "--backbone", "none");
        Assert.True(logMel.ExitCode == 0, logMel.Stderr);
        Assert.DoesNotContain("backbone:", logMel.Stdout);
    }

    [Fact]
    public void EachShippedFileHasItsOwnNameAndDefaultTaps()
    {
        string train = Clips("valve", 0, 3);
        foreach (var file in new[] { ShippedBackbone.V1 })
        {
            Assert.True(File.Exists(file.Path), $"{file.Name} is not next to the program: {file.Path}");
            var fit = NasdProcess.Run("fit", "--train", train, "--out", Path.Combine(_dir, $"{file.Name}.safetensors"), "--detector", "mahalanobis",
                "--backbone", file.Name, "--no-cache", "--json");
            Assert.True(fit.ExitCode == 0, fit.Stderr);
            Assert.Contains($"backbone:{NativeASD.Detection.Features.BackboneExtractor.FileSha256(file.Path)}:{string.Join(",", file.DefaultTaps)}", fit.Stdout);
        }
        Assert.Same(ShippedBackbone.Chosen, ShippedBackbone.Named("shipped"));
        Assert.Same(ShippedBackbone.V1, ShippedBackbone.Named("shipped-v1"));
        Assert.Null(ShippedBackbone.Named("shipped-v2"));
        Assert.Same(ShippedYamNet.File, ShippedBackbone.Named("yamnet"));
    }


    [Fact]
    public void FitWithoutOptionsIsMahalanobisOnTheShippedYamNetsLayer10WithFloatActivations()
    {
        Assert.True(File.Exists(ShippedYamNet.File.Path), $"the shipped YAMNet is not next to the program: {ShippedYamNet.File.Path}");
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "LICENSE-yamnet.txt")), "its licence notice is not next to the program");
        string train = Clips("valve", 0, 3);
        var fit = NasdProcess.Run("fit", "--train", train, "--out", Path.Combine(_dir, "y.safetensors"), "--no-cache", "--json");
        Assert.True(fit.ExitCode == 0, fit.Stderr);
        using var json = System.Text.Json.JsonDocument.Parse(fit.Stdout);
        Assert.Equal(DetectorCatalog.DefaultName, json.RootElement.GetProperty("detector").GetString());
        Assert.Equal("mahalanobis", DetectorCatalog.DefaultName);
        string features = json.RootElement.GetProperty("features").GetString()!;
        Assert.Contains($"backbone:{BackboneSha(ShippedYamNet.File.Path)}:layer10:", features);
        Assert.DoesNotContain(":int8", features);   // the int8 file's weights with float activations
        // --detector alone keeps that detector's own backbone: mahalanobis means log-mel statistics, as before.
        var logMel = NasdProcess.Run("fit", "--train", train, "--out", Path.Combine(_dir, "l.safetensors"), "--detector", "mahalanobis", "--no-cache", "--json");
        Assert.True(logMel.ExitCode == 0, logMel.Stderr);
        Assert.DoesNotContain("backbone:", logMel.Stdout);
    }

    static string BackboneSha(string path) => NativeASD.Detection.Features.BackboneExtractor.FileSha256(path);
}
