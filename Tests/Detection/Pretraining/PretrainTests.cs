using NativeASD.Engine.Audio;
using NativeASD.Engine.Architectures.Panns;
using NativeASD.Detection.Pretraining;
using NativeASD.Detection.Synth;
using NativeASD.Kernels.Cpu;
using NativeASD.Weights;
using NativeASD.Detection.Backbones;
using NativeASD.Weights.Safetensors;

namespace NativeASD.Tests.Detection.Pretraining;

/// <summary>nasd pretrain's pieces: corpora, augmentation, the training loop, its files, resuming and fine-tuning.</summary>
public class PretrainTests
{
    static readonly CpuBackend Cpu = new(2);

    /// <summary>A tiny run: ResNet22 topology at 1/16 width (4…32 channels), 0.4 s crops (41 frames), batch 8.</summary>
    internal static readonly PretrainOptions Tiny = new() { Width = 1 / 16.0, BatchSize = 8, CropSeconds = 0.4, Epochs = 2, LearningRate = 3e-3f };

    internal static SynthPretrainCorpus FourTypes(int clips = 32) => new(clips, ids: 1, conditions: 1, validationPerClass: 2);

    [Fact]
    public void SynthCorpusIsDeterministicAndUsesOnlyHighIds()
    {
        var corpus = new SynthPretrainCorpus(100, ids: 3, conditions: 2);
        Assert.Equal(4 * 3 * 2, corpus.Labels.Count);
        Assert.All(corpus.Labels, l => Assert.Matches(@"^(fan|pump|slider|valve)/id_10[0-2]/condition_[01]$", l));
        var a = corpus.Train(3, 17, 1600);
        var b = corpus.Train(3, 17, 1600);
        Assert.Equal(a.Label, b.Label);
        Assert.Equal(a.Samples, b.Samples);
        Assert.NotEqual(a.Samples, corpus.Train(4, 17, 1600).Samples);
        Assert.Equal(1600, a.Samples.Length);
        Assert.Equal(2 * corpus.Labels.Count, corpus.ValidationCount);
        Assert.Equal(Enumerable.Range(0, corpus.Labels.Count), Enumerable.Range(0, corpus.Labels.Count).Select(i => corpus.Validation(i, 800).Label));
    }

    [Fact]
    public void NominalConditionKeepsTheGeneratorsBytesAndOtherConditionsChangeSpeed()
    {
        var generator = new MachineSoundGenerator(new SynthOptions(Seed: 3, Seconds: 1));
        var nominal = new SynthClip("fan", 1, "train", 4, AnomalyKind.None);
        // SHA-256 of this clip's float32 bytes from the generator before operating conditions existed (commit e1fea03).
        Assert.Equal("4c86d6b2fb7dd1743f651ec69011fd9e49a21a406f2af53b1b7c00a2c7c0d27b", Sha256(generator.Generate(nominal)));
        Assert.NotEqual(generator.Generate(nominal), generator.Generate(nominal with { Condition = 1 }));
        Assert.Throws<ArgumentException>(() => generator.Generate(nominal with { Condition = MachineSoundGenerator.ConditionSpeeds.Count }));
    }

    static string Sha256(float[] x)
    {
        var bytes = new byte[x.Length * sizeof(float)];
        Buffer.BlockCopy(x, 0, bytes, 0, bytes.Length);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
    }

    [Fact]
    public void AugmentationIsDeterministicKeepsLengthAndNoneIsIdentity()
    {
        var corpus = FourTypes();
        float[] Augmented(Augmentation aug)
        {
            var x = corpus.Train(0, 5, 3200).Samples;
            aug.Apply(x, SynthRandom.For(1, "t"), () => corpus.Train(0, 6, 3200).Samples);
            return x;
        }
        var always = new Augmentation(NoiseProbability: 1, MixProbability: 1);
        Assert.Equal(Augmented(always), Augmented(always));
        Assert.Equal(3200, Augmented(always).Length);
        Assert.NotEqual(corpus.Train(0, 5, 3200).Samples, Augmented(always));
        Assert.Equal(corpus.Train(0, 5, 3200).Samples, Augmented(Augmentation.None));
    }

    [Fact]
    public void FolderCorpusLabelsByMachineIdOrFolderLeavesOutAnomaliesAndHoldsOutValidation()
    {
        using var dir = new WeightFixtures.TempDir();
        var generator = new MachineSoundGenerator(new SynthOptions(Seconds: 0.5));
        foreach (var sub in new[] { "fan/train", "fan/test", "pump/train" }) Directory.CreateDirectory(Path.Combine(dir.Path, sub));
        foreach (var (type, id) in new[] { ("fan", 0), ("fan", 1), ("pump", 0) })
            for (int i = 0; i < 5; i++)
                WavWriter.Write(Path.Combine(dir.Path, type, "train", $"normal_id_{id:00}_{i:00000000}.wav"), generator.Generate(new SynthClip(type, id, "train", i, AnomalyKind.None)), 16000);
        WavWriter.Write(Path.Combine(dir.Path, "fan", "test", "anomaly_id_00_00000000.wav"), generator.Generate(new SynthClip("fan", 0, "test", 0, AnomalyKind.Bearing)), 16000);
        File.WriteAllText(Path.Combine(dir.Path, "pump", "train", "normal_id_00_broken.wav"), "RIFF but not really");

        var byId = new FolderPretrainCorpus(dir.Path, 16000, validationFraction: 0.2);
        Assert.Equal(["fan/id_00", "fan/id_01", "pump/id_00"], byId.Labels);
        Assert.Equal(3, byId.ValidationCount);                          // one of five files per class
        Assert.Single(byId.Skipped, s => s.Contains("normal_id_00_broken.wav"));
        Assert.Equal(0.5 * 16000 / 2, byId.Validation(0, 4000).Samples.Length);
        Assert.Equal(byId.Train(1, 2, 12000).Samples, byId.Train(1, 2, 12000).Samples);   // longer than a clip: looped

        var byFolder = new FolderPretrainCorpus(dir.Path, 16000, FolderLabels.Folder);
        Assert.Equal(["fan/train", "pump/train"], byFolder.Labels);

        var empty = Directory.CreateDirectory(Path.Combine(dir.Path, "empty")).FullName;
        Assert.Contains("no normal .wav files", Assert.Throws<IOException>(() => new FolderPretrainCorpus(empty, 16000)).Message);
        Assert.Contains("at least two classes", Assert.Throws<IOException>(() => new FolderPretrainCorpus(Path.Combine(dir.Path, "pump"), 16000)).Message);
    }

    [Fact]
    public void TrainingLearnsToTellMachineTypesApart()
    {
        using var dir = new WeightFixtures.TempDir();
        using var trainer = new Pretrainer(FourTypes(96), Tiny with { Epochs = 3 }, Cpu);
        var history = trainer.Run(dir.File("m.safetensors"));
        Assert.Equal(3, history.Count);
        Assert.True(history[^1].TrainLoss < history[0].TrainLoss, $"loss {history[0].TrainLoss} → {history[^1].TrainLoss}");
        Assert.True(history[^1].ValidationAccuracy >= 0.5, $"validation accuracy {history[^1].ValidationAccuracy} on 4 machine types (chance 0.25)");
    }

    [Fact]
    public void ModelFileLoadsAsAPannsResNetWithItsFrontendLabelsAndProvenance()
    {
        using var dir = new WeightFixtures.TempDir();
        string path = dir.File("m.safetensors");
        using (var trainer = new Pretrainer(FourTypes(16), Tiny with { Epochs = 1 }, Cpu)) trainer.Run(path);
        Assert.True(File.Exists(Pretrainer.CheckpointPath(path)));
        using var loaded = ModelFiles.Load(path, Cpu);
        Assert.Equal("panns-resnet22", loaded.Arch);
        Assert.Equal("panns16k", loaded.Frontend.Name);
        var model = Assert.IsType<PannsResNet>(loaded.Model);
        Assert.Equal(4, model.Config.Classes);
        Assert.Equal(128, model.EmbeddingSize);
        Assert.Contains("fan/id_100/condition_0", loaded.Metadata["labels"]);
        Assert.Contains("synthetic machines", loaded.Metadata["pretrain_corpus"]);
        Assert.Equal("1", loaded.Metadata["pretrain_epochs"]);
        // The frontend tensors are torchlibrosa's: the STFT kernels reproduce the frontend's power spectrum.
        using var file = SafetensorsFile.Open(path);
        var real = file.Tensors.Single(t => t.Name == "spectrogram_extractor.stft.conv_real.weight").ReadFloat32();
        var imag = file.Tensors.Single(t => t.Name == "spectrogram_extractor.stft.conv_imag.weight").ReadFloat32();
        var frame = new float[512];
        for (int n = 0; n < 512; n++) frame[n] = (float)Math.Cos(2 * Math.PI * 10 * n / 512);   // exactly bin 10
        double Power(int k) { double re = 0, im = 0; for (int n = 0; n < 512; n++) { re += real[k * 512 + n] * frame[n]; im += imag[k * 512 + n] * frame[n]; } return re * re + im * im; }
        Assert.True(Power(10) > 1e6 * Power(30), $"bin 10 {Power(10)}, bin 30 {Power(30)}");
    }

    [Fact]
    public void ResumingAfterAnInterruptionGivesTheSameWeightsAsAnUninterruptedRun()
    {
        using var dir = new WeightFixtures.TempDir();
        string straight = dir.File("straight.safetensors"), resumed = dir.File("resumed.safetensors");
        using (var trainer = new Pretrainer(FourTypes(16), Tiny, Cpu)) trainer.Run(straight);
        using (var cancel = new CancellationTokenSource())
        using (var trainer = new Pretrainer(FourTypes(16), Tiny, Cpu))
            Assert.Throws<OperationCanceledException>(() => trainer.Run(resumed, epochDone: _ => cancel.Cancel(), cancel: cancel.Token));
        using (var trainer = new Pretrainer(FourTypes(16), Tiny, Cpu))
        {
            var history = trainer.Run(resumed, resume: true);
            Assert.Equal(2, history.Count);
        }
        using var a = SafetensorsFile.Open(straight);
        using var b = SafetensorsFile.Open(resumed);
        foreach (var t in a.Tensors) Assert.Equal(t.ReadFloat32(), b.Tensors.Single(x => x.Name == t.Name).ReadFloat32());

        using var other = new Pretrainer(FourTypes(16), Tiny with { Seed = 9 }, Cpu);
        var e = Assert.Throws<WeightFormatException>(() => other.Run(resumed, resume: true));
        Assert.Contains("other settings", e.Message);
        Assert.Contains(Pretrainer.CheckpointPath(resumed), e.Message);
    }

    [Fact]
    public void FineTuningStartsFromTheInitialBackboneWithANewClassifier()
    {
        using var dir = new WeightFixtures.TempDir();
        string first = dir.File("first.safetensors");
        using (var trainer = new Pretrainer(FourTypes(16), Tiny with { Epochs = 1 }, Cpu)) trainer.Run(first);
        var twelve = new SynthPretrainCorpus(16, ids: 3, conditions: 1, firstId: 200);
        using var tuner = new Pretrainer(twelve, Tiny with { Epochs = 1 }, Cpu, ModelFiles.Load(first, Cpu));
        Assert.Equal(12, tuner.Model.Config.Classes);
        using var source = SafetensorsFile.Open(first);
        var tuned = NativeASD.Engine.Architectures.StateDict.Entries(tuner.Model).ToDictionary(e => e.Name, e => e.Tensor);
        Assert.Equal(source.Tensors.Single(t => t.Name == "resnet.layer2.0.conv1.weight").ReadFloat32(), tuned["resnet.layer2.0.conv1.weight"].ToArray());
        Assert.Equal([12, 128], tuned["fc_audioset.weight"].ShapeArray());
        tuner.Run(dir.File("tuned.safetensors"));
        using var reloaded = ModelFiles.Load(dir.File("tuned.safetensors"), Cpu);
        Assert.Contains("first.safetensors", reloaded.Metadata["pretrain_init"]);
    }
}
