using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Synth;

namespace NativeASD.Cli.Commands;

/// <summary><c>nasd synth</c>: a deterministic synthetic machine-sound dataset in the DCASE 2020 layout.</summary>
public static class SynthCommand
{
    public static readonly CommandSpec Spec = new(
        "synth",
        "generate synthetic machine sounds (normal and faulty) in the DCASE layout",
        "synth --out DIR [--layout dcase2020|dcase2023] [--types fan,pump,slider,valve] [--ids N] [--train N --test N] [--target-train N] [--seed S] [--seconds X] [--severity X]",
        [
            new("--out", "DIR", "dataset root to write: DIR/<type>/train/normal_id_XX_*.wav, DIR/<type>/test/{normal,anomaly}_id_XX_*.wav"),
            new("--layout", "L", "dcase2020 (machine IDs) or dcase2023 (sections with a source and a target domain: DIR/<type>/{train,test}/section_XX_{source,target}_…_speed_S.wav; the target runs at another speed)", "dcase2020"),
            new("--target-train", "N", "dcase2023: target-domain training clips per section (the source gets --train)", "5"),
            new("--types", "LIST", "machine types, comma-separated (fan, pump, slider, valve)", "fan,pump,slider,valve"),
            new("--ids", "N", "machine IDs (dcase2023: sections) per type, each with its own physical parameters", "2 (dcase2023: 1)"),
            new("--train", "N", "normal training clips per ID", "20"),
            new("--test", "N", "test clips per ID (dcase2023: per section and domain): N normal and N anomalous (the type's faults in turn)", "20"),
            new("--seed", "S", "seed: the same seed writes the same files, byte for byte", "0"),
            new("--seconds", "X", "clip length", "10"),
            new("--severity", "X", "fault strength (1 = calibrated default; higher is easier)", "1"),
            new("--threads", "N", "clips generated at once", "all cores"),
            CommandSpec.Json,
        ],
        [
            "nasd synth --out synth",
            "nasd synth --out small --types fan,valve --ids 1 --train 10 --test 5 --seconds 2",
            "nasd synth --out easy --severity 2 --seed 7",
            "nasd synth --out shifted --layout dcase2023 --train 50 --target-train 5 --test 10",
        ],
        Run);

    static int Run(ParsedArgs args)
    {
        string output = args.String("--out") ?? throw new UsageException("synth: --out DIR is required");
        var (spec, options) = Parse(args);
        var clock = Stopwatch.StartNew();
        var files = Generate(args, output, spec, options);
        if (args.Flag("--json"))
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                @out = output, layout = LayoutName(spec.Layout), types = spec.Types, ids = spec.Ids, train = spec.Train,
                target_train = spec.Layout == SynthLayout.Dcase2023 ? spec.TargetTrain : (int?)null, test = spec.Test, seed = options.Seed,
                seconds = options.Seconds, severity = options.Severity, clips = files.Count, elapsed_s = clock.Elapsed.TotalSeconds,
            }));
        else
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote {files.Count} clips ({string.Join(", ", spec.Types)}; {Counts(spec)}; {options.Seconds} s) to {output} in {clock.Elapsed.TotalSeconds:F1} s"));
        return ExitCode.Ok;
    }

    internal static (SynthDatasetSpec Spec, SynthOptions Options) Parse(ParsedArgs args)
    {
        var types = (args.String("--types") ?? string.Join(",", MachineSoundGenerator.MachineTypes))
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
        var unknown = types.FirstOrDefault(t => !MachineSoundGenerator.MachineTypes.Contains(t));
        if (unknown is not null || types.Count == 0)
            throw new UsageException($"synth: unknown machine type '{unknown}'", $"--types takes a comma-separated list of {string.Join(", ", MachineSoundGenerator.MachineTypes)}");
        var layout = (args.String("--layout") ?? "dcase2020") switch
        {
            "dcase2020" => SynthLayout.Dcase2020,
            "dcase2023" => SynthLayout.Dcase2023,
            var other => throw new UsageException($"synth: unknown --layout '{other}'", "--layout takes dcase2020 or dcase2023"),
        };
        if (layout == SynthLayout.Dcase2020 && args.String("--target-train") is not null)
            throw new UsageException("synth: --target-train applies to --layout dcase2023");
        var spec = new SynthDatasetSpec(types, args.Int("--ids", layout == SynthLayout.Dcase2023 ? 1 : 2, 1, 100), args.Int("--train", 20, 1, 100000),
            args.Int("--test", 20, 1, 100000), layout, args.Int("--target-train", 5, 1, 100000));
        double seconds = args.Double("--seconds", 10), severity = args.Double("--severity", 1);
        if (!(seconds >= 0.1 && seconds <= 600)) throw new UsageException($"synth: --seconds must be between 0.1 and 600, got {seconds}");
        if (!(severity >= 0 && severity <= 100)) throw new UsageException($"synth: --severity must be between 0 and 100, got {severity}");
        return (spec, new SynthOptions(Seed: args.Int("--seed", 0, 0, int.MaxValue), Seconds: seconds, Severity: severity));
    }

    static string LayoutName(SynthLayout layout) => layout == SynthLayout.Dcase2023 ? "dcase2023" : "dcase2020";

    static string Counts(SynthDatasetSpec spec) => spec.Layout == SynthLayout.Dcase2023
        ? $"{spec.Ids} sections each; {spec.Train} source + {spec.TargetTrain} target train, {spec.Test}+{spec.Test} test per domain"
        : $"{spec.Ids} IDs each; {spec.Train} train, {spec.Test}+{spec.Test} test per ID";

    internal static IReadOnlyList<string> Generate(ParsedArgs args, string output, SynthDatasetSpec spec, SynthOptions options)
    {
        using var progress = ProgressLine.For(args);
        var adapter = new Progress(progress);
        return SynthDataset.Write(output, spec, options, args.Int("--threads", 0, 1, 1024), adapter);
    }

    sealed class Progress(ProgressLine line) : IProgress<(int Done, int Total)>
    {
        public void Report((int Done, int Total) p) { lock (this) line.Report(new DetectorProgress("synth", p.Done, p.Total)); }
    }
}
