using System.Globalization;
using System.Text.Json;
using NativeASD.Detection.Backbones;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Pretraining;

namespace NativeASD.Cli.Commands;

/// <summary><c>nasd pretrain</c>: supervised pretraining of a PANNs-layout ResNet on labelled clips or synthetic machines.</summary>
public static class PretrainCommand
{
    public static readonly CommandSpec Spec = new(
        "pretrain",
        "pretrain a PANNs-layout ResNet backbone by classifying machines (your folders, machine IDs, or synthetic machines)",
        "pretrain --data DIR|--synth N [--teacher W[,W…] [--audio DIR|LIST[,…]]] [--arch resnet-small] [--epochs E] [--out W.safetensors] [--init W] [--resume] [--seed S]",
        [
            new("--data", "DIR", "your recordings: every normal .wav below DIR, one class per folder or per DCASE machine ID"),
            new("--synth", "N", "synthetic machines instead: N fresh clips per epoch, one class per type × ID × operating condition"),
            new("--out", "W", "model file to write after every epoch (its checkpoint goes to W.checkpoint)", "pretrained.safetensors"),
            new("--arch", "NAME", "resnet-small (ResNet22 at width 0.25, 16 kHz), resnet22 or resnet38 (full width)", "resnet-small"),
            new("--width", "X", "channel multiplier (overrides the arch's)"),
            new("--init", "W", "start from these weights (a converted PANNs ResNet or a pretrained NativeASD file): fine-tuning"),
            new("--resume", null, "continue from W.checkpoint after an interruption (same settings; same result as an uninterrupted run)"),
            new("--epochs", "N", "epochs", "12"),
            new("--batch", "N", "batch size", "32"),
            new("--lr", "X", "peak learning rate (AdamW, warm-up then cosine decay)", "0.001"),
            new("--crop", "SECONDS", "length of each training crop", "2"),
            new("--seed", "N", "seed of initialisation, example stream and augmentation", "0"),
            new("--labels", "auto|folder|machine-id", "--data: class per folder, or per machine ID of DCASE file names (auto: IDs when every name has one)", "auto"),
            new("--validation", "FRACTION", "--data: share of each class's files held out for validation", "0.1"),
            new("--clips-per-epoch", "N", "--data: crops per epoch (default 4 × the training files, at least 256)"),
            new("--ids", "N", "--synth: machine IDs per type", "12"),
            new("--conditions", "N", "--synth: operating conditions per machine (1–5)", "3"),
            new("--first-id", "N", "--synth: first machine ID (IDs below 100 are the ones 'nasd synth' writes)", "100"),
            new("--machine-seed", "N", "--synth: seed of the machines' physical parameters (as 'nasd synth --seed')", "0"),
            new("--no-augment", null, "no gain, noise, shift or mixing augmentation"),
            new("--teacher", "W[,W…]", "distil: the student also learns to predict each teacher's embedding (any weight file with an 'embedding' tap: EfficientAT mn04_as, YAMNet, …)"),
            new("--audio", "DIR|LIST[,…]", "--teacher: unlabelled real audio for distillation: every .wav below DIR, or the files a .txt LIST names (one a line, relative to the list)"),
            new("--audio-per-batch", "N", "--audio: real crops added to every batch", "16"),
            new("--distill-weight", "X", "--teacher: weight of each teacher's loss (MSE on its standardised embedding) beside the cross-entropy", "1"),
            .. CommandSpec.ComputeOptions,
            CommandSpec.Json,
        ],
        [
            "nasd pretrain --synth 4096 --epochs 12 --out resnet-small.safetensors",
            "nasd pretrain --data recordings/ --labels folder --epochs 20 --out fleet.safetensors",
            "nasd pretrain --data dcase/ --init resnet-small.safetensors --epochs 5 --out tuned.safetensors",
            "nasd pretrain --synth 4096 --out resnet-small.safetensors --resume",
            "nasd pretrain --synth 2048 --teacher mn04_as_mAP_432.pt,yamnet_spectra_in.tflite --audio recordings/ --epochs 8 --out distilled.safetensors",
        ],
        Run);

    static int Run(ParsedArgs args)
    {
        string output = args.String("--out") ?? "pretrained.safetensors";
        string? data = args.String("--data");
        string? synth = args.String("--synth");
        if ((data is null) == (synth is null)) throw new UsageException("pretrain: give exactly one of --data DIR and --synth N");
        var options = Options(args);
        using var backend = Compute.OpenBackend(args);
        IPretrainCorpus corpus;
        string? initPath = args.String("--init");
        // Loaded once: its frontend decides the corpus's sample rate, then the trainer takes it over.
        var init = initPath is null ? null : ModelFiles.Load(initPath, backend);
        int rate = init?.Frontend.SampleRate ?? Engine.Frontend.FrontendPreset.Get(options.Frontend).SampleRate;
        try
        {
            corpus = data is not null
                ? new FolderPretrainCorpus(data, rate, Labels(args), args.Double("--validation", 0.1),
                    args.String("--clips-per-epoch") is null ? null : args.Int("--clips-per-epoch", 0, 1, int.MaxValue / 1024), options.Seed)
                : new SynthPretrainCorpus(args.Int("--synth", 0, 1, int.MaxValue / 1024), ids: args.Int("--ids", 12, 1, 100000),
                    conditions: args.Int("--conditions", 3, 1, 5), firstId: args.Int("--first-id", SynthPretrainCorpus.DefaultFirstId, 0, 1 << 30),
                    machineSeed: args.Int("--machine-seed", 0, 0, int.MaxValue), streamSeed: options.Seed, sampleRate: rate);
        }
        catch (Exception e) when (e is ArgumentException or IOException)
        {
            init?.Dispose();
            throw e is ArgumentException ? new UsageException(e.Message) : e;
        }
        if (corpus is FolderPretrainCorpus folder)
            foreach (var s in folder.Skipped) Console.Error.WriteLine($"nasd: warning: skipped {s}");

        bool json = args.Flag("--json");
        Pretrainer built;
        try { built = new Pretrainer(corpus, options, backend, init); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        using var trainer = built;
        if (!json)
        {
            Console.Out.WriteLine($"pretraining {trainer.Model.Describe()} ({trainer.Model.NamedParameters().Sum(p => p.Parameter.Value.Count):N0} parameters) on {corpus.Description}");
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{options.Epochs} epochs × {corpus.TrainCount / options.BatchSize} steps of {options.BatchSize} crops of {options.CropSeconds} s; checkpoint {Pretrainer.CheckpointPath(output)}"));
            foreach (var t in trainer.Teachers) Console.Out.WriteLine($"distilling from {t.Name} ({t.Arch}, '{DistillTeacher.Tap}' tap, sha256 {t.Sha256})");
            if (trainer.Audio is { } audio) Console.Out.WriteLine($"with {options.AudioPerBatch} real crops per batch from {audio.Description}");
        }
        using var progress = ProgressLine.For(args);
        var history = trainer.Run(output, args.Flag("--resume"),
            p => progress.Report(new DetectorProgress($"epoch {p.Epoch}/{p.Epochs}", p.Step, p.Steps, p.Loss)),
            r =>
            {
                if (!json) Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"epoch {r.Epoch}/{options.Epochs}: train loss {r.TrainLoss:F4} accuracy {r.TrainAccuracy:P1}{Distill("train", r.TrainDistillLoss)} | {Validation(r.ValidationLoss, r.ValidationAccuracy)}{Distill("validation", r.ValidationDistillLoss)} | lr {r.LearningRate:G3} | {r.ClipsPerSecond:F1} clips/s, {r.Seconds:F0} s"));
            });
        var last = history.Count > 0 ? history[^1] : null;
        if (json)
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                model = output, checkpoint = Pretrainer.CheckpointPath(output), arch = options.Arch, classes = corpus.Labels.Count,
                corpus = corpus.Description, epochs = history,
                validation_accuracy = last?.ValidationAccuracy, seconds = history.Sum(h => h.Seconds),
            }));
        else
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote {output} ({corpus.Labels.Count} classes; {Validation(last?.ValidationLoss, last?.ValidationAccuracy)}; {history.Sum(h => h.Seconds) / 60:F1} min of training)"));
        return ExitCode.Ok;
    }

    static string Distill(string what, double[]? losses) => losses is null ? ""
        : string.Create(CultureInfo.InvariantCulture, $", {what} distillation {string.Join(" / ", losses.Select(l => l.ToString("F4", CultureInfo.InvariantCulture)))}");

    static string Validation(double? loss, double? accuracy) => accuracy is double a
        ? string.Create(CultureInfo.InvariantCulture, $"validation loss {loss:F4} accuracy {a:P1}")
        : "no validation clips";

    static PretrainOptions Options(ParsedArgs args)
    {
        PretrainOptions options;
        try { options = PretrainOptions.ForArch(args.String("--arch") ?? "resnet-small"); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        options = options with
        {
            Width = args.String("--width") is null ? options.Width : args.Double("--width", options.Width),
            Epochs = args.Int("--epochs", options.Epochs, 1, 100000),
            BatchSize = args.Int("--batch", options.BatchSize, 1, 4096),
            LearningRate = (float)args.Double("--lr", options.LearningRate),
            CropSeconds = args.Double("--crop", options.CropSeconds),
            Seed = (ulong)args.Int("--seed", 0, 0, int.MaxValue),
            Augmentation = args.Flag("--no-augment") ? Augmentation.None : options.Augmentation,
            Teachers = List(args.String("--teacher")),
            Audio = List(args.String("--audio")),
            AudioPerBatch = args.Int("--audio-per-batch", options.AudioPerBatch, 1, 4096),
            DistillWeight = (float)args.Double("--distill-weight", options.DistillWeight),
        };
        try { options.Validate(); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        return options;
    }

    static string[] List(string? value) => value is null ? [] : [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    static FolderLabels Labels(ParsedArgs args) => (args.String("--labels") ?? "auto") switch
    {
        "auto" => FolderLabels.Auto,
        "folder" => FolderLabels.Folder,
        "machine-id" => FolderLabels.MachineId,
        var other => throw new UsageException($"pretrain: unknown --labels '{other}'", "--labels takes auto, folder or machine-id"),
    };
}
