using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using NativeASD.Detection.Synth;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Evaluation;

namespace NativeASD.Cli.Commands;

/// <summary><c>nasd demo</c>: the whole pipeline on a fresh machine — synthetic data, evaluation, table, report.</summary>
public static class DemoCommand
{
    /// <summary>The demo's dataset: every machine type, 2 IDs, 20 normal training clips and 10 + 10 test clips of 10 s per ID.</summary>
    public static readonly SynthDatasetSpec Dataset = new(MachineSoundGenerator.MachineTypes, Ids: 2, Train: 20, Test: 10);

    public static readonly CommandSpec Spec = new(
        "demo",
        "one command end to end: generate synthetic machine sounds, evaluate the default detector, write the report",
        "demo [--data DIR] [--out DIR] [--json]",
        [
            new("--data", "DIR", "evaluate this dataset instead of generating one (DCASE layout)"),
            new("--out", "DIR", "output folder (data/ when generated, CSVs, results.csv, report.html)", "nasd-demo"),
            FitCommand.DetectorChoice,
            new("--backbone", "W|yamnet|shipped|shipped-v1|none", FitCommand.BackboneHelp("features: a backbone's taps"), DetectorCatalog.BackboneDefault),
            new("--tap", "NAME[,NAME…]", $"backbone tap point(s) ({FitCommand.TapDefaults})"),
            .. CommandSpec.ComputeOptions,
            Compute.ClipBatchOption,
            Compute.BatchOption,
            CommandSpec.Json,
        ],
        [
            "nasd demo",
            "nasd demo --out /tmp/demo",
            "nasd demo --data dcase2020/dev --out demo-dcase",
        ],
        Run);

    static int Run(ParsedArgs args)
    {
        string output = args.String("--out") ?? "nasd-demo";
        string detector = FitCommand.Detector(args);
        string? data = args.String("--data");
        using var device = EvalCommand.OpenDevice(args);   // a missing device fails before the data is generated
        if (data is null)
        {
            data = Path.Combine(output, "data");
            var options = new SynthOptions();
            // The dataset is deterministic: keep an identical earlier one, so a re-run resumes instead of starting over.
            string stamp = Path.Combine(data, "synth.json");
            string expected = JsonSerializer.Serialize(new { Dataset.Types, Dataset.Ids, Dataset.Train, Dataset.Test, options });
            if (!File.Exists(stamp) || File.ReadAllText(stamp) != expected)
            {
                var clock = Stopwatch.StartNew();
                var files = SynthCommand.Generate(args, data, Dataset, options);
                Engine.IO.AtomicFile.Write(stamp, s => s.Write(System.Text.Encoding.UTF8.GetBytes(expected)));
                if (!args.Flag("--json"))
                    Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"generated {files.Count} synthetic clips in {data} ({clock.Elapsed.TotalSeconds:F1} s)"));
            }
        }
        var (backbone, taps, int8) = FitCommand.BackboneChoice(args, detector);
        var fit = new FitSettings(detector, CacheDirectory: null, Backbone: backbone, Taps: taps, Int8Activations: int8, Batch: Compute.ClipBatch(args, batchIsClipBatch: true));
        return EvalCommand.Evaluate(args, data, output, new EvalSettings(fit), report: true, $"nasd demo: {detector} on {Path.GetFileName(Path.GetFullPath(data))}", device);
    }
}
