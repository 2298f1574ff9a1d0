using System.Globalization;
using System.Text;
using System.Text.Json;
using NativeASD.Engine.IO;
using NativeASD.Weights;
using NativeASD.Detection.Detectors;

namespace NativeASD.Cli.Commands;

/// <summary><c>nasd score</c>: anomaly scores and decisions of clips under a trained model.</summary>
public static class ScoreCommand
{
    public static readonly CommandSpec Spec = new(
        "score",
        "score clips with a trained model: file,score,decision",
        "score --model MODEL.safetensors INPUT… [--csv OUT.csv] [--json]",
        [
            new("--model", "MODEL", "model file written by 'nasd fit'"),
            new("--backbone", "W", "the model's backbone file, when it moved since fitting (must have the same SHA-256)"),
            new("--csv", "OUT", "write file,score,decision to OUT (atomically; nothing is written when a clip fails) instead of standard output"),
            new("--cache", "DIR", "feature cache folder", "~/.cache/nasd/features"),
            new("--no-cache", null, "do not read or write cached features"),
            .. CommandSpec.ComputeOptions,
            CommandSpec.Json,
        ],
        [
            "nasd score --model fan.safetensors fan/test",
            "nasd score --model fan.safetensors clip1.wav clip2.wav --csv scores.csv",
        ],
        Run, MinPositionals: 1, MaxPositionals: int.MaxValue);

    static int Run(ParsedArgs args)
    {
        string model = args.String("--model") ?? throw new UsageException("score: --model MODEL is required");
        var files = DetectorRunner.CollectWavs(args.Positionals);
        using var backend = Compute.OpenBackend(args);
        using var progress = ProgressLine.For(args);
        var (scores, info, skipped) = DetectorRunner.Score(model, files, FitCommand.CacheDirectory(args), backend, progress, args.String("--backbone"),
            w => Console.Error.WriteLine($"nasd: warning: {w}"));
        foreach (var note in DetectorRunner.RateNotes(info, files)) Console.Error.WriteLine($"nasd: note: {note}");
        if (skipped.Count > 0)
            throw new InputException($"{skipped.Count} of {files.Count} clips could not be scored; first: {skipped[0]}", "no scores were written; fix or remove the clip");

        var csv = new StringBuilder("file,score,decision\n");
        foreach (var s in scores)
            csv.Append(CultureInfo.InvariantCulture, $"{Quote(s.File)},{s.Score:R},{(s.Anomalous ? 1 : 0)}\n");
        if (args.String("--csv") is string path)
            AtomicFile.Write(path, stream => stream.Write(Encoding.UTF8.GetBytes(csv.ToString())));
        if (args.Flag("--json"))
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                model, detector = info.Detector, threshold = info.Threshold.Threshold, percentile = info.Threshold.Percentile,
                threshold_method = info.Threshold.Method, threshold_source = FitCommand.ThresholdJson(info.ThresholdOrigin), csv = args.String("--csv"),
                clips = scores.Select(s => new { file = s.File, score = s.Score, decision = s.Anomalous ? 1 : 0 }),
            }));
        }
        else if (args.String("--csv") is string written)
            Console.Out.WriteLine($"scored {scores.Count} clips ({scores.Count(s => s.Anomalous)} anomalous at threshold {info.Threshold.Threshold.ToString("G6", CultureInfo.InvariantCulture)}); wrote {written}");
        else Console.Out.Write(csv.ToString());
        return ExitCode.Ok;
    }

    static string Quote(string field) =>
        field.IndexOfAny([',', '"', '\n']) < 0 ? field : "\"" + field.Replace("\"", "\"\"") + "\"";
}
