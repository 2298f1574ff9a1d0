using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using NativeASD.Cli.Reporting;
using NativeASD.Kernels;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Evaluation;

namespace NativeASD.Cli.Commands;

/// <summary><c>nasd eval</c>: DCASE Task 2 evaluation of a dataset folder — models, submission CSVs, results table, report.</summary>
public static class EvalCommand
{
    /// <summary>Process exit code after Ctrl+C (128 + SIGINT, as shells report it).</summary>
    public const int Interrupted = 130;

    public static readonly CommandSpec Spec = new(
        "eval",
        "DCASE evaluation: fit per machine ID, score test clips, write submission CSVs and results",
        "eval --data ROOT [--out DIR] [--detector D] [--backbone W --tap L] [--per-type] [--report] [--json]",
        [
            new("--data", "ROOT", "dataset: ROOT/<type>/train|test/*.wav (DCASE 2020 ids or 2021–23 sections), or ROOT/<type>/*.wav split half/half"),
            new("--out", "DIR", "output folder: CSVs, results.csv, models/, report.html", "nasd-eval"),
            new("--per-type", null, "one model per machine type instead of one per machine ID"),
            new("--outlier-exposure", null, "metric: each model also learns to push the other machine IDs' training clips of its type (of the other types when it is alone) from its centre"),
            new("--year", "Y", "DCASE rules for file names, submission files and the official score: 2020, 2021, 2022, 2023, 2024 or auto (from the names)", "auto"),
            new("--report", null, "also write report.html (ROC curves, score histograms, table; self-contained)"),
            new("--explain", "N", "with --report: explain the N highest-scoring flagged clips of each ID/section (score over time and frequency; see docs/dcase-layouts.md)", "0"),
            new("--jobs", "N", "machine types evaluated at once; the threads are shared out among them", "1"),
            .. FitCommand.TrainingOptions,
            .. CommandSpec.ComputeOptions,
            Compute.ClipBatchOption,
            CommandSpec.Json,
        ],
        [
            "nasd eval --data dcase2020/dev --out eval-metric --report",
            "nasd eval --data dcase2020/dev --detector mahalanobis --per-type --json",
            "nasd eval --data synth --out eval-ae --detector ae --epochs 20 --jobs 2",
        ],
        Run);

    static int Run(ParsedArgs args)
    {
        string data = args.String("--data") ?? throw new UsageException("eval: --data ROOT is required");
        string output = args.String("--out") ?? "nasd-eval";
        int? year = Year(args);
        var settings = new EvalSettings(FitCommand.Settings(args, DefaultDetector(args, data, year)), args.Flag("--per-type"), args.Int("--jobs", 1, 1, 64), Year: year,
            OutlierExposure: args.Flag("--outlier-exposure"));
        if (settings.OutlierExposure && settings.Fit.Detector != DetectorCatalog.Metric.Name)
            throw new UsageException($"eval: --outlier-exposure applies to --detector {DetectorCatalog.Metric.Name}");
        using var device = OpenDevice(args);
        return Evaluate(args, data, output, settings, args.Flag("--report"), $"nasd eval: {settings.Fit.Detector} on {Path.GetFileName(Path.GetFullPath(data))}", device);
    }

    /// <summary>Explanations of the <paramref name="top"/> highest-scoring flagged test clips of each unit, under that unit's model.</summary>
    static List<NativeASD.Detection.Explanations.Explanation> ExplainFlagged(EvalResult result, string data, int top, IBackend backend)
    {
        using var _ = backend;
        // A resumed unit's clips carry file names only (read back from its CSVs): find them in the dataset again.
        var paths = DatasetLayout.Discover(data).SelectMany(m => m.Test).GroupBy(c => Path.GetFileName(c.File)).ToDictionary(g => g.Key, g => g.First().File);
        var explanations = new List<NativeASD.Detection.Explanations.Explanation>();
        foreach (var unit in result.Groups.GroupBy(g => g.Model))
        {
            var flagged = unit.SelectMany(g => g.Clips).Where(c => c.Decision).OrderByDescending(c => c.Score).Take(top).ToList();
            if (flagged.Count == 0) continue;
            using var explainer = new NativeASD.Detection.Explanations.ModelExplainer(unit.Key, backend);
            foreach (var clip in flagged)
                explanations.Add(explainer.Explain(File.Exists(clip.File) ? clip.File : paths[Path.GetFileName(clip.File)]));
        }
        return explanations;
    }

    /// <summary>The detector when --detector is not given: <see cref="DetectorCatalog.LayoutDefaultName"/> for DCASE 2021–2024
    /// layouts (sections with domains) — or <see cref="DetectorCatalog.FewClipsLayoutDefaultName"/> when a section has
    /// fewer normal training clips than its covariance needs (as in dcase2023-lite) — the catalogue's default otherwise.</summary>
    static string DefaultDetector(ParsedArgs args, string data, int? year)
    {
        if (args.String("--detector") is not null) return DetectorCatalog.DefaultName;   // not used: --detector wins
        try
        {
            var machines = DatasetLayout.Discover(data);
            if (!DcaseLayouts.HasDomains(DcaseLayouts.Resolve(year, machines))) return DetectorCatalog.DefaultName;
            bool fewClips = machines.Any(m => m.Train.GroupBy(c => c.Group).Any(g => g.Count() < DetectorCatalog.LayoutDefaultMinClips));
            return fewClips ? DetectorCatalog.FewClipsLayoutDefaultName : DetectorCatalog.LayoutDefaultName;
        }
        // A missing or unusable dataset is reported by the evaluation itself, after the command line has been checked.
        catch (Exception e) when (e is IOException or InvalidDataException) { return DetectorCatalog.DefaultName; }
    }

    /// <summary>--year: null for auto, else one of <see cref="DcaseLayouts.Years"/>.</summary>
    internal static int? Year(ParsedArgs args)
    {
        string text = args.String("--year") ?? "auto";
        if (text == "auto") return null;
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int year) && DcaseLayouts.Years.Contains(year)
            ? year : throw new UsageException($"eval: --year takes {string.Join(", ", DcaseLayouts.Years)} or auto, got '{text}'");
    }

    /// <summary>--device when it is not the CPU, opened before any work so that a missing device fails at once (null: the CPU).</summary>
    internal static IBackend? OpenDevice(ParsedArgs args) => Compute.Device(args) == DeviceKind.Cpu ? null : Compute.OpenBackend(args);

    /// <summary>Runs the evaluation with Ctrl+C handling, prints the table (or JSON), writes the report if asked.</summary>
    /// <param name="device">the device of a non-CPU --device (<see cref="OpenDevice"/>; the evaluation disposes it), null on the CPU.</param>
    internal static int Evaluate(ParsedArgs args, string data, string output, EvalSettings settings, bool report, string title, IBackend? device)
    {
        if (!Directory.Exists(data)) throw new InputException($"{data}: no such folder", "--data takes a dataset root (ROOT/<type>/train|test)");
        var kind = Compute.Device(args);
        int threads = Compute.Threads(args);
        int totalThreads = threads > 0 ? threads : Environment.ProcessorCount;
        // One GPU is not shared between jobs; on the CPU each job gets its own backend with its share of the threads.
        if (kind != DeviceKind.Cpu) settings = settings with { Jobs = 1 };
        Func<int, IBackend?> open = perJob => device ?? Compute.Open(kind, perJob);

        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        Console.CancelKeyPress += onCancel;
        // A service manager's stop (SIGTERM) ends the run the same clean way.
        using var onTerm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM,
            context => { context.Cancel = true; cancel.Cancel(); });
        var clock = Stopwatch.StartNew();
        EvalResult result;
        try
        {
            using var progress = ProgressLine.For(args);
            result = DcaseEvaluation.Run(data, output, settings, open, totalThreads, progress, cancel.Token);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            Console.Error.WriteLine("nasd: eval interrupted; finished IDs are kept and no partial files were left (run the same command again to resume)");
            return Interrupted;
        }
        finally { Console.CancelKeyPress -= onCancel; }

        int explain = args.Int("--explain", 0, 0, 1000);
        if (explain > 0 && !report) throw new UsageException("eval: --explain N adds sections to the report; give --report too");
        var explanations = explain > 0 ? ExplainFlagged(result, data, explain, Compute.Open(kind, threads)) : [];
        string? reportPath = report ? EvalReport.Write(result, title, explanations) : null;
        foreach (var w in result.Warnings) Console.Error.WriteLine($"nasd: warning: {w}");
        if (args.Flag("--json"))
            Console.Out.WriteLine(Json(result, reportPath, clock.Elapsed.TotalSeconds));
        else
        {
            Console.Out.Write(Table(result));
            var d = result.Decisions;
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"decisions: false-alarm rate {Cell(d.FalseAlarmRate)} ({d.FalseAlarms} of {d.NormalClips} normal test clips), detection rate {Cell(d.DetectionRate)} ({d.Detections} of {d.AnomalousClips} anomalous); thresholds: {string.Join(", ", result.Groups.Select(g => g.ThresholdSource.Column).Distinct())}"));
            int resumed = result.Groups.Count(g => g.Resumed);
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{result.Groups.Count} IDs ({resumed} resumed from an earlier run) in {clock.Elapsed.TotalSeconds:F1} s; wrote {result.ResultsCsv}{(reportPath is null ? "" : $" and {reportPath}")}"));
        }
        return ExitCode.Ok;
    }

    /// <summary>The results as an aligned text table (AUC and pAUC per ID, per-type averages, overall mean).</summary>
    public static string Table(EvalResult result)
    {
        var sb = new StringBuilder();
        int typeWidth = Math.Max(14, result.Groups.Select(g => g.MachineType.Length).DefaultIfEmpty(0).Max() + 2);
        int idWidth = Math.Max(10, result.Groups.Select(g => g.Group.Length).DefaultIfEmpty(0).Max() + 2);
        void Row(string type, string id, double auc, double pauc, DecisionMetrics d) =>
            sb.Append(type.PadRight(typeWidth)).Append(id.PadRight(idWidth)).Append(Cell(auc).PadLeft(8)).Append(Cell(pauc).PadLeft(8))
              .Append(Cell(d.FalseAlarmRate).PadLeft(13)).Append(Cell(d.DetectionRate).PadLeft(11)).Append(Cell(d.F1).PadLeft(8)).Append('\n');
        sb.Append("machine type".PadRight(typeWidth)).Append("id".PadRight(idWidth)).Append("AUC".PadLeft(8)).Append("pAUC".PadLeft(8))
          .Append("false alarms".PadLeft(13)).Append("detected".PadLeft(11)).Append("F1".PadLeft(8)).Append('\n');
        foreach (var type in result.Types)
        {
            foreach (var g in result.Groups.Where(g => g.MachineType == type.MachineType)) Row(g.MachineType, g.Group, g.Auc, g.PartialAuc, g.Decisions);
            Row(type.MachineType, "average", type.Auc, type.PartialAuc, type.Decisions);
        }
        Row("all", "average", result.MeanAuc, result.MeanPartialAuc, result.Decisions);
        if (result.Official is OfficialScores official)
        {
            sb.Append('\n').Append(OfficialTable(official));
        }
        return sb.ToString();
    }

    /// <summary>Per section and domain: AUC (and 2021's per-domain pAUC), the section's pAUC, then the official score.</summary>
    static string OfficialTable(OfficialScores official)
    {
        var sb = new StringBuilder();
        int typeWidth = Math.Max(14, official.Sections.Select(s => s.MachineType.Length).DefaultIfEmpty(0).Max() + 2);
        bool perDomainPauc = official.Year == 2021;
        sb.Append("machine type".PadRight(typeWidth)).Append("section".PadRight(12)).Append("AUC src".PadLeft(9)).Append("AUC tgt".PadLeft(9));
        sb.Append(perDomainPauc ? "pAUC src".PadLeft(9) + "pAUC tgt".PadLeft(9) : "pAUC".PadLeft(9)).Append('\n');
        foreach (var s in official.Sections)
        {
            sb.Append(s.MachineType.PadRight(typeWidth)).Append(s.Section.PadRight(12)).Append(Cell(s.AucSource).PadLeft(9)).Append(Cell(s.AucTarget).PadLeft(9));
            sb.Append(perDomainPauc ? Cell(s.PaucSource).PadLeft(9) + Cell(s.PaucTarget).PadLeft(9) : Cell(s.Pauc).PadLeft(9)).Append('\n');
        }
        sb.Append(CultureInfo.InvariantCulture, $"official score (DCASE {official.Year} rules, harmonic mean of {official.Entries} values): {Cell(official.Score)}\n");
        if (official.Missing.Count > 0)
            sb.Append(CultureInfo.InvariantCulture, $"left out ({official.Missing.Count}, undefined on these test clips): {string.Join("; ", official.Missing)}\n");
        return sb.ToString();
    }

    static string Cell(double v) => double.IsFinite(v) ? v.ToString("F4", CultureInfo.InvariantCulture) : "–";

    static double? Nullable(double v) => double.IsFinite(v) ? v : null;

    static string Json(EvalResult r, string? report, double seconds) => JsonSerializer.Serialize(new
    {
        @out = r.OutputDirectory, results_csv = r.ResultsCsv, report, seconds,
        mean_auc = Nullable(r.MeanAuc), mean_pauc = Nullable(r.MeanPartialAuc),
        year = r.Year, official_score = r.Official is null ? null : Nullable(r.Official.Score),
        official = r.Official is null ? null : new
        {
            entries = r.Official.Entries, missing = r.Official.Missing,
            sections = r.Official.Sections.Select(s => new
            {
                machine_type = s.MachineType, section = s.Section, auc_source = Nullable(s.AucSource), auc_target = Nullable(s.AucTarget),
                pauc = Nullable(s.Pauc), pauc_source = Nullable(s.PaucSource), pauc_target = Nullable(s.PaucTarget),
            }),
        },
        mean_false_alarm_rate = Nullable(r.Decisions.FalseAlarmRate), mean_detection_rate = Nullable(r.Decisions.DetectionRate),
        mean_precision = Nullable(r.Decisions.Precision), mean_f1 = Nullable(r.Decisions.F1),
        types = r.Types.Select(t => new
        {
            machine_type = t.MachineType, auc = Nullable(t.Auc), pauc = Nullable(t.PartialAuc),
            false_alarm_rate = Nullable(t.Decisions.FalseAlarmRate), detection_rate = Nullable(t.Decisions.DetectionRate),
            precision = Nullable(t.Decisions.Precision), f1 = Nullable(t.Decisions.F1),
        }),
        groups = r.Groups.Select(g => new
        {
            machine_type = g.MachineType, id = g.Group, auc = Nullable(g.Auc), pauc = Nullable(g.PartialAuc),
            false_alarm_rate = Nullable(g.Decisions.FalseAlarmRate), detection_rate = Nullable(g.Decisions.DetectionRate),
            precision = Nullable(g.Decisions.Precision), recall = Nullable(g.Decisions.Recall), f1 = Nullable(g.Decisions.F1),
            normal_clips = g.Decisions.NormalClips, false_alarms = g.Decisions.FalseAlarms,
            anomalous_clips = g.Decisions.AnomalousClips, detections = g.Decisions.Detections, train_clips = g.TrainClips,
            test_clips = g.TestClips, threshold = g.Threshold, threshold_source = FitCommand.ThresholdJson(g.ThresholdSource), resumed = g.Resumed, scores_csv = g.ScoreCsv, decisions_csv = g.DecisionCsv, model = g.Model,
        }),
        warnings = r.Warnings,
    });
}
