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
        "score --model MODEL.safetensors INPUT… [--csv OUT.csv] [--explain OUT_DIR] [--json]",
        [
            new("--model", "MODEL", "model file written by 'nasd fit'"),
            new("--backbone", "W", "the model's backbone file, when it moved since fitting (must have the same SHA-256)"),
            new("--csv", "OUT", "write file,score,decision to OUT (atomically; nothing is written when a clip fails) instead of standard output"),
            new("--explain", "OUT_DIR", "also write per clip OUT_DIR/<clip>.explain.png and .csv: the score's drop without each second and each frequency band (see docs/dcase-layouts.md)"),
            new("--cache", "DIR", "feature cache folder", "~/.cache/nasd/features"),
            new("--no-cache", null, "do not read or write cached features"),
            .. CommandSpec.ComputeOptions,
            Compute.ClipBatchOption,
            Compute.BatchOption,
            CommandSpec.Json,
        ],
        [
            "nasd score --model fan.safetensors fan/test",
            "nasd score --model fan.safetensors clip1.wav clip2.wav --csv scores.csv",
            "nasd score --model fan.safetensors suspicious.wav --explain why",
        ],
        Run, MinPositionals: 1, MaxPositionals: int.MaxValue);

    static int Run(ParsedArgs args)
    {
        string model = args.String("--model") ?? throw new UsageException("score: --model MODEL is required");
        int batch = Compute.ClipBatch(args, batchIsClipBatch: true);
        var files = DetectorRunner.CollectWavs(args.Positionals);
        using var backend = Compute.OpenBackend(args);
        using var progress = ProgressLine.For(args);
        var (scores, info, skipped) = DetectorRunner.Score(model, files, FitCommand.CacheDirectory(args), backend, progress, args.String("--backbone"),
            w => Console.Error.WriteLine($"nasd: warning: {w}"), batch);
        foreach (var note in DetectorRunner.RateNotes(info, files)) Console.Error.WriteLine($"nasd: note: {note}");
        if (skipped.Count > 0)
            throw new InputException($"{skipped.Count} of {files.Count} clips could not be scored; first: {skipped[0]}", "no scores were written; fix or remove the clip");

        var csv = new StringBuilder("file,score,decision\n");
        foreach (var s in scores)
            csv.Append(CultureInfo.InvariantCulture, $"{Quote(s.File)},{s.Score:R},{(s.Anomalous ? 1 : 0)}\n");
        if (args.String("--csv") is string path)
            AtomicFile.Write(path, stream => stream.Write(Encoding.UTF8.GetBytes(csv.ToString())));
        var explained = args.String("--explain") is string explainDir ? Explain(model, scores, explainDir, backend, args.String("--backbone")) : null;
        if (explained is not null) Console.Error.WriteLine($"nasd: wrote {explained.Count} explanations (PNG and CSV) to {args.String("--explain")}");
        if (args.Flag("--json"))
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                model, detector = info.Detector, threshold = info.Threshold.Threshold, percentile = info.Threshold.Percentile,
                threshold_method = info.Threshold.Method, threshold_source = FitCommand.ThresholdJson(info.ThresholdOrigin), csv = args.String("--csv"),
                clips = scores.Select(s => new
                {
                    file = s.File, score = s.Score, decision = s.Anomalous ? 1 : 0,
                    explanation = explained is null ? null : Described(explained[s.File]),
                }),
            }));
        }
        else if (args.String("--csv") is string written)
            Console.Out.WriteLine($"scored {scores.Count} clips ({scores.Count(s => s.Anomalous)} anomalous at threshold {info.Threshold.Threshold.ToString("G6", CultureInfo.InvariantCulture)}); wrote {written}");
        else Console.Out.Write(csv.ToString());
        return ExitCode.Ok;
    }

    /// <summary>--explain: an explanation per scored clip, written as PNG and CSV into <paramref name="dir"/>.</summary>
    static Dictionary<string, (NativeASD.Detection.Explanations.Explanation, string)> Explain(string model, List<ClipScore> scores, string dir,
        NativeASD.Kernels.IBackend backend, string? backbone)
    {
        using var explainer = new NativeASD.Detection.Explanations.ModelExplainer(model, backend, backbone);
        var result = new Dictionary<string, (NativeASD.Detection.Explanations.Explanation, string)>(StringComparer.Ordinal);
        foreach (var s in scores)
        {
            var e = explainer.Explain(s.File);
            result[s.File] = (e, Reporting.ExplanationPlot.WriteFiles(dir, e));
        }
        return result;
    }

    static object Described((NativeASD.Detection.Explanations.Explanation E, string Png) x) => new
    {
        png = x.Png, csv = Path.ChangeExtension(x.Png, ".csv"),
        top_segment = new { start = x.E.TopSegment.StartSeconds, end = x.E.TopSegment.EndSeconds },
        top_band = new { index = x.E.TopBand.Band, low_hz = Finite(x.E.TopBand.LowHz), high_hz = Finite(x.E.TopBand.HighHz) },
    };

    static double? Finite(double v) => double.IsFinite(v) ? v : null;

    static string Quote(string field) =>
        field.IndexOfAny([',', '"', '\n']) < 0 ? field : "\"" + field.Replace("\"", "\"\"") + "\"";
}
