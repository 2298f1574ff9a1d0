using NativeASD.Engine.Audio;
using NativeASD.Engine.Architectures.Panns;
using NativeASD.Detection.Pretraining;
using NativeASD.Detection.Synth;
using NativeASD.Detection.Backbones;
using NativeASD.Kernels.Cpu;
using NativeASD.Weights;
using NativeASD.Weights.Safetensors;

namespace NativeASD.Tests.Detection.Pretraining;

/// <summary>nasd pretrain --teacher: a tiny student learns a tiny teacher's embedding, bit for bit reproducibly, resumably, and the file stays a plain PANNs checkpoint.</summary>
public class DistillationTests
{
    static readonly CpuBackend Cpu = new(2);

    static readonly PretrainOptions Tiny = PretrainTests.Tiny with { Epochs = 3 };

    static SynthPretrainCorpus FourTypes(int clips = 32) => PretrainTests.FourTypes(clips);

    /// <summary>A teacher with an embedding tap: a tiny PANNs-layout ResNet of another seed, trained one epoch (its fc1 output is 128-d).</summary>
    static string Teacher(WeightFixtures.TempDir dir)
    {
        string path = dir.File("teacher.safetensors");
        using var trainer = new Pretrainer(FourTypes(16), Tiny with { Epochs = 1, Seed = 5 }, Cpu);
        trainer.Run(path);
        return path;
    }

    /// <summary>Three real-looking clips of another machine in a folder and a .txt list naming two of them.</summary>
    static string Recordings(WeightFixtures.TempDir dir)
    {
        string folder = Directory.CreateDirectory(dir.File("real")).FullName;
        var generator = new MachineSoundGenerator(new SynthOptions(Seed: 11, Seconds: 0.3));
        for (int i = 0; i < 3; i++)
            WavWriter.Write(Path.Combine(folder, $"normal_id_00_{i:00000000}.wav"), generator.Generate(new SynthClip("pump", 3, "train", i, AnomalyKind.None)), 16000);
        WavWriter.Write(Path.Combine(folder, "anomaly_id_00_00000000.wav"), generator.Generate(new SynthClip("pump", 3, "test", 0, AnomalyKind.Bearing)), 16000);
        return folder;
    }

    [Fact]
    public void AStudentLearnsTheTeachersEmbeddingReproduciblyAndTheFileStaysAPannsCheckpoint()
    {
        using var dir = new WeightFixtures.TempDir();
        var options = Tiny with { Teachers = [Teacher(dir)], Audio = [Recordings(dir)], AudioPerBatch = 4 };
        string a = dir.File("a.safetensors"), b = dir.File("b.safetensors");
        IReadOnlyList<EpochReport> history;
        using (var trainer = new Pretrainer(FourTypes(), options, Cpu))
        {
            Assert.Equal(3, trainer.Audio!.Count);                           // the anomaly is left out
            history = trainer.Run(a);
        }
        Assert.All(history, h => Assert.Single(h.TrainDistillLoss!));
        Assert.True(history[^1].TrainDistillLoss![0] < history[0].TrainDistillLoss![0], $"distillation loss {history[0].TrainDistillLoss![0]} → {history[^1].TrainDistillLoss![0]}");
        Assert.True(history[^1].ValidationDistillLoss![0] < history[0].ValidationDistillLoss![0], $"validation distillation loss {history[0].ValidationDistillLoss![0]} → {history[^1].ValidationDistillLoss![0]}");

        using (var again = new Pretrainer(FourTypes(), options, Cpu)) again.Run(b);
        using (var fa = SafetensorsFile.Open(a))
        using (var fb = SafetensorsFile.Open(b))
        {
            Assert.DoesNotContain(fa.Tensors, t => t.Name.StartsWith("distill.", StringComparison.Ordinal));   // projections stay in the checkpoint
            foreach (var t in fa.Tensors) Assert.Equal(t.ReadFloat32(), fb.Tensors.Single(x => x.Name == t.Name).ReadFloat32());
        }
        using var loaded = ModelFiles.Load(a, Cpu);
        Assert.IsType<PannsResNet>(loaded.Model);
        Assert.Contains("teacher.safetensors", loaded.Metadata["pretrain_teachers"]);
        Assert.Contains("3 real clips", loaded.Metadata["pretrain_audio"]);
        Assert.Contains("TrainDistillLoss", loaded.Metadata["pretrain_history"]);
    }

    [Fact]
    public void ResumingADistillationRunGivesTheSameWeightsAsAnUninterruptedRun()
    {
        using var dir = new WeightFixtures.TempDir();
        var options = Tiny with { Epochs = 2, Teachers = [Teacher(dir)], Audio = [Recordings(dir)], AudioPerBatch = 4 };
        string straight = dir.File("straight.safetensors"), resumed = dir.File("resumed.safetensors");
        using (var trainer = new Pretrainer(FourTypes(16), options, Cpu)) trainer.Run(straight);
        using (var cancel = new CancellationTokenSource())
        using (var trainer = new Pretrainer(FourTypes(16), options, Cpu))
            Assert.Throws<OperationCanceledException>(() => trainer.Run(resumed, epochDone: _ => cancel.Cancel(), cancel: cancel.Token));
        using (var trainer = new Pretrainer(FourTypes(16), options, Cpu)) Assert.Equal(2, trainer.Run(resumed, resume: true).Count);
        using (var a = SafetensorsFile.Open(straight))
        using (var b = SafetensorsFile.Open(resumed))
            foreach (var t in a.Tensors) Assert.Equal(t.ReadFloat32(), b.Tensors.Single(x => x.Name == t.Name).ReadFloat32());

        using var plain = new Pretrainer(FourTypes(16), Tiny with { Epochs = 2 }, Cpu);
        Assert.Contains("other settings", Assert.Throws<WeightFormatException>(() => plain.Run(resumed, resume: true)).Message);
    }

    [Fact]
    public void ListsNameFilesRelativeToThemselvesAndBadSourcesAreRefused()
    {
        using var dir = new WeightFixtures.TempDir();
        string folder = Recordings(dir);
        string list = dir.File("clips.txt");
        File.WriteAllLines(list, ["# two of the three", "real/normal_id_00_00000000.wav", "", "real/normal_id_00_00000002.wav"]);
        var listed = new DistillAudio([list], 16000, 0);
        Assert.Equal(2, listed.Count);
        Assert.Equal(Path.Combine(folder, "normal_id_00_00000002.wav"), listed.Paths[1]);
        Assert.Equal(listed.Crop(2, 5, 8000), listed.Crop(2, 5, 8000));      // a pure function of (epoch, index); 0.3 s clips looped
        Assert.Equal(8000, listed.Crop(2, 5, 8000).Length);

        File.AppendAllLines(list, ["real/missing.wav"]);
        Assert.Contains("missing.wav", Assert.Throws<FileNotFoundException>(() => new DistillAudio([list], 16000, 0)).Message);
        Assert.Contains("neither a folder nor a .txt list", Assert.Throws<FileNotFoundException>(() => new DistillAudio([dir.File("nothing")], 16000, 0)).Message);
        Assert.Contains("need --teacher", Assert.Throws<ArgumentException>(() => (Tiny with { Audio = [folder] }).Validate()).Message);
    }
}
