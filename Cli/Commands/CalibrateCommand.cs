using System.Globalization;
using System.Text.Json;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Thresholds;

namespace NativeASD.Cli.Commands;

/// <summary><c>nasd calibrate</c>: re-set a model's threshold from normal clips recorded after deployment.</summary>
public static class CalibrateCommand
{
    public static readonly CommandSpec Spec = new(
        "calibrate",
        "re-set a model's decision threshold from normal clips (e.g. recorded after deployment), in place and atomically",
        "calibrate --model MODEL.safetensors NORMAL… [--percentile P] [--out MODEL2] [--json]",
        [
            new("--model", "MODEL", "model file written by 'nasd fit'; rewritten atomically unless --out is given"),
            new("--out", "MODEL", "write the calibrated model here instead", "the model itself"),
            new("--percentile", "P", "threshold: this quantile of a gamma fit to the clips' scores", "the model's"),
            new("--backbone", "W", "the model's backbone file, when it moved since fitting (must have the same SHA-256)"),
            new("--cache", "DIR", "feature cache folder", "~/.cache/nasd/features"),
            new("--no-cache", null, "do not read or write cached features"),
            .. CommandSpec.ComputeOptions,
            CommandSpec.Json,
        ],
        [
            "nasd calibrate --model fan.safetensors line3/normal_week1",
            "nasd calibrate --model fan.safetensors line3/normal_week1 --percentile 0.99 --out fan-line3.safetensors",
        ],
        Run, MinPositionals: 1, MaxPositionals: int.MaxValue);

    static int Run(ParsedArgs args)
    {
        string model = args.String("--model") ?? throw new UsageException("calibrate: --model MODEL is required");
        string output = args.String("--out") ?? model;
        if (!File.Exists(model)) throw new InputException($"{model}: no such model file", "train one with 'nasd fit'");
        var files = DetectorRunner.CollectWavs(args.Positionals);
        using var backend = Compute.OpenBackend(args);
        using var progress = ProgressLine.For(args);
        var info = DetectorFile.Read(model).Info;
        double percentile = args.String("--percentile") is null ? info.Threshold.Percentile : args.Double("--percentile", 0.9);
        if (!(percentile > 0 && percentile < 1)) throw new UsageException($"calibrate: --percentile must be between 0 and 1, got {percentile}");
        ModelCalibration.Result result;
        try
        {
            result = ModelCalibration.Calibrate(model, files, percentile, output, backend, args.Positionals[0], args.String("--backbone"),
                FitCommand.CacheDirectory(args), progress, w => Console.Error.WriteLine($"nasd: warning: {w}"));
        }
        catch (ArgumentException e) { throw new InputException(e.Message); }   // e.g. clips the model's features cannot take
        var threshold = result.After.Threshold;
        var source = result.After.ThresholdOrigin;

        if (args.Flag("--json"))
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                model = output, previous_threshold = result.Before.Threshold.Threshold, threshold = threshold.Threshold, threshold_method = threshold.Method,
                percentile, threshold_source = FitCommand.ThresholdJson(source),
            }));
        else
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"threshold {info.Threshold.Threshold:G6} → {threshold.Threshold:G6} ({threshold.Method}, {percentile:P0} point of scores, {source.Describe()}); wrote {output}"));
        return ExitCode.Ok;
    }
}
