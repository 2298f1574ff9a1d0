using System.Globalization;
using System.Text.Json;
using NativeASD.Engine.Audio;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Backbones;
using NativeASD.Detection.Thresholds;

namespace NativeASD.Cli.Commands;

/// <summary><c>nasd fit</c>: train a detector on normal clips and write one model file.</summary>
public static class FitCommand
{
    /// <summary>--detector: the choices come from <see cref="DetectorCatalog"/>.</summary>
    internal static readonly OptionSpec DetectorChoice = new("--detector", "NAME", DetectorCatalog.Choices, DetectorCatalog.DefaultName);

    /// <summary>Detector, features, training and threshold options: read by <see cref="Settings"/>, shared with eval.</summary>
    internal static readonly OptionSpec[] TrainingOptions =
    [
        DetectorChoice,
        new("--backbone", "W|yamnet|shipped|shipped-v1|none", BackboneHelp("pretrained backbone weights (any format 'nasd inspect' reads)"), DetectorCatalog.BackboneDefault),
        new("--tap", "NAME[,NAME…]", $"backbone tap point(s) the features come from, e.g. layer3 or layer2,layer3 ({TapDefaults})"),
        Backbone.FloatActivations,
        new("--seed", "N", "seed for initialisation and shuffling (same seed, same results bit for bit on the CPU)", "0"),
        .. DetectorCatalog.TrainingOptions.Select(Option),
        .. DetectorCatalog.DetectorOptions.Select(Option),
        new("--percentile", "P", "decision threshold: this quantile of a gamma fit to scores of normal clips the model was not trained on", "0.9"),
        new("--folds", "K", "threshold from K-fold cross-fitting: out-of-fold scores of the training clips (1 = their in-sample scores)", "5"),
        new("--channel", "N|mean", "channel of multi-channel clips, or their mean", "0"),
        new("--cache", "DIR", "feature cache folder", "~/.cache/nasd/features"),
        new("--no-cache", null, "do not read or write cached features"),
    ];

    static OptionSpec Option(DetectorOption o) => new(o.Flag, o.Value, o.Help, o.Default);

    public static readonly CommandSpec Spec = new(
        "fit",
        "train an anomaly detector on normal clips into a model file",
        $"fit --train DIR|FILE [MORE_FILES_OR_DIRS…] --out MODEL.safetensors [--detector {string.Join("|", DetectorCatalog.All.Select(k => k.Name))}] [--seed N] [--json]",
        [
            new("--train", "DIR|FILE", "normal training clips: a folder of .wav files or one file (more may follow as arguments)"),
            new("--out", "MODEL", "model file to write (safetensors; written atomically)"),
            new("--calibrate", "DIR|FILE", "normal clips not used for training whose scores set the threshold (instead of cross-fitting)"),
            new("--negatives", "DIR|FILE", "metric: normal clips of other machines the head learns to push from its centre (outlier exposure; weight --negative-weight)"),
            .. TrainingOptions,
            .. CommandSpec.ComputeOptions,
            Compute.ClipBatchOption,
            CommandSpec.Json,
        ],
        [
            "nasd fit --train fan/train --out fan.safetensors",
            "nasd fit --train pump/train --out pump-ae.safetensors --detector ae --epochs 50",
            "nasd fit --train valve/train --out valve-logmel.safetensors --detector mahalanobis --backbone none --json",
            "nasd fit --train fan/train --out fan-metric.safetensors --detector metric",
            "nasd fit --train fan/train --out fan-yamnet10.safetensors --backbone yamnet --tap layer10",
            "nasd fit --train ToyCar/train --out toycar-ad01.safetensors --detector ae --init ad01.safetensors --epochs 0",
        ],
        Run, MinPositionals: 0, MaxPositionals: int.MaxValue);

    static int Run(ParsedArgs args)
    {
        string train = args.String("--train") ?? throw new UsageException("fit: --train DIR|FILE is required");
        string output = args.String("--out") ?? throw new UsageException("fit: --out MODEL is required");
        var settings = Settings(args) with
        {
            Calibration = args.String("--calibrate") is string c ? [c] : null, Negatives = args.String("--negatives") is string n ? [n] : null,
        };
        if (settings.Negatives is not null && settings.Detector != DetectorCatalog.Metric.Name)
            throw new UsageException($"fit: --negatives applies to --detector {DetectorCatalog.Metric.Name}");
        var files = DetectorRunner.CollectWavs([train, .. args.Positionals]);
        using var backend = Compute.OpenBackend(args);
        using var progress = ProgressLine.For(args);
        DetectorModelInfo info;
        List<string> skipped;
        // The training input cannot make this model: a tap the backbone lacks, clips without spread for a covariance.
        try { (info, skipped) = DetectorRunner.Fit(files, output, settings, backend, progress, w => Console.Error.WriteLine($"nasd: warning: {w}")); }
        catch (ArgumentException e) { throw new InputException(e.Message); }
        foreach (var s in skipped) Console.Error.WriteLine($"nasd: warning: skipped {s}");
        if (args.Flag("--json"))
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                model = output, detector = info.Detector, features = info.Features, clips = info.TrainingClips, skipped,
                threshold = info.Threshold.Threshold, threshold_method = info.Threshold.Method, percentile = info.Threshold.Percentile,
                threshold_source = ThresholdJson(info.ThresholdOrigin),
                summary = info.TrainingSummary,
            }));
        }
        else
        {
            Console.Out.WriteLine($"trained {info.Detector} on {info.TrainingClips} clips ({info.Features}): {info.TrainingSummary}");
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"threshold {info.Threshold.Threshold:G6} ({info.Threshold.Method}, {info.Threshold.Percentile:P0} point of scores from {info.ThresholdOrigin.Describe()})"));
            Console.Out.WriteLine($"wrote {output}");
        }
        return ExitCode.Ok;
    }

    /// <summary>A threshold's provenance as score --json, fit --json and calibrate --json print it.</summary>
    internal static object ThresholdJson(ThresholdProvenance p) => new
    {
        source = p.Source, clips = p.Clips, folds = p.Folds == 0 ? (int?)null : p.Folds, folder = p.Folder, calibrated_utc = p.CalibratedUtc,
        machine_type = p.MachineType, scores = p.Scores, description = p.Describe(),
    };

    /// <summary>--detector's value, checked against the catalogue.</summary>
    internal static string Detector(ParsedArgs args, string defaultName = DetectorCatalog.DefaultName)
    {
        string name = args.String("--detector") ?? defaultName;
        return DetectorCatalog.Find(name) is null
            ? throw new UsageException($"{args.Command}: unknown detector '{name}'", $"--detector takes {DetectorCatalog.Names}")
            : name;
    }

    /// <summary>Everything to train from the command line; the detector's own options are read by its catalogue entry.</summary>
    internal static FitSettings Settings(ParsedArgs args, string defaultDetector = DetectorCatalog.DefaultName)
    {
        string detector = Detector(args, defaultDetector);
        ChannelMix mix;
        try { mix = ChannelMix.Parse(args.String("--channel") ?? "0"); }
        catch (ArgumentException e) { throw new UsageException($"fit: --channel: {e.Message}"); }
        double percentile = args.Double("--percentile", 0.9);
        if (!(percentile > 0 && percentile < 1)) throw new UsageException($"fit: --percentile must be between 0 and 1, got {percentile}");
        var (backbone, taps, int8) = BackboneChoice(args, detector);
        if (!(args.Double("--lr", 1e-3) > 0)) throw new UsageException($"{args.Command}: --lr must be above 0, got {args.String("--lr")}");
        var settings = new FitSettings(detector, (ulong)args.Int("--seed", 0, 0, int.MaxValue), percentile, CacheDirectory(args), mix,
            Backbone: backbone, Taps: taps, Int8Activations: int8, Folds: args.Int("--folds", CrossFitting.DefaultFolds, 1, 100), Batch: Compute.ClipBatch(args));
        try { return DetectorCatalog.Configure(args, settings); }
        catch (ArgumentException e) { throw new UsageException($"{args.Command}: {e.Message}"); }
    }

    /// <summary>--backbone's help: <paramref name="what"/> a file gives, then the shipped backbones' names.</summary>
    internal static string BackboneHelp(string what) =>
        $"{what}; {ShippedYamNet.Name} = Google's YAMNet shipped with nasd (float activations); {DetectorCatalog.ShippedBackboneName} (= shipped-v1) = NativeASD's own ResNet; none = log-mel features";

    /// <summary>--tap's defaults for the shipped backbones, as help shows them.</summary>
    internal static string TapDefaults =>
        $"{ShippedYamNet.Name}: {string.Join(",", ShippedYamNet.File.DefaultTaps)}; {DetectorCatalog.ShippedBackboneName}: {string.Join(",", ShippedBackbone.DefaultTaps)}";

    /// <summary>
    /// --backbone, --tap and --float-activations: without --backbone the detector's default (<see cref="DetectorCatalog.BackboneFor"/>);
    /// a shipped backbone brings its default taps, and the shipped YAMNet float activations.
    /// </summary>
    internal static (string? Path, IReadOnlyList<string>? Taps, bool Int8Activations) BackboneChoice(ParsedArgs args, string detector)
    {
        string backbone = args.String("--backbone") ?? DetectorCatalog.BackboneFor(detector, args.String("--detector") is not null);
        string? taps = args.String("--tap");
        bool int8 = !args.Flag("--float-activations");
        if (backbone == "none")
            return taps is null ? (null, null, int8) : throw new UsageException($"{args.Command}: --tap needs --backbone W");
        try
        {
            if (ShippedBackbone.Named(backbone) is { } shipped)
            {
                backbone = ShippedBackbone.Locate(shipped);
                taps ??= string.Join(",", shipped.DefaultTaps);
                if (shipped.FloatActivations) int8 = false;
            }
        }
        catch (FileNotFoundException e) { throw new InputException(e.Message); }
        if (taps is null) throw new UsageException($"{args.Command}: --backbone needs --tap NAME[,NAME…]", "'nasd embed --backbone W --tap list' prints the taps");
        return (backbone, taps.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries), int8);
    }

    internal static string? CacheDirectory(ParsedArgs args)
    {
        if (args.Flag("--no-cache")) return null;
        if (args.String("--cache") is string dir) return dir;
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(string.IsNullOrEmpty(home) ? Path.GetTempPath() : home, ".cache", "nasd", "features");
    }
}
