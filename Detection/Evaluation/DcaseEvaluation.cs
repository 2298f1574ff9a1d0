using System.Globalization;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using NativeASD.Engine.IO;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Thresholds;
using NativeASD.Kernels;
using NativeASD.Weights;

namespace NativeASD.Detection.Evaluation;

/// <summary>How <see cref="DcaseEvaluation"/> runs: detector settings, one model per ID or per machine type, how many
/// machine types run at once, the pAUC range, and the DCASE year whose rules apply (null: detected from the names, see
/// <see cref="DcaseLayouts.Resolve"/>).
/// <see cref="OutlierExposure"/> (metric only): each model also sees the training clips of the other machine IDs of its type
/// as negatives — of the other machine types when its type has one model only.</summary>
public sealed record EvalSettings(FitSettings Fit, bool PerType = false, int Jobs = 1, double MaxFpr = 0.1, int? Year = null, bool OutlierExposure = false);

/// <summary>One test clip with its score, decision, and its label from the file name (null when the name has none).</summary>
public sealed record ScoredClip(string File, double Score, bool Decision, bool? Anomalous);

/// <summary>Results of one machine ID (or section): AUC and pAUC (NaN when the test clips are not labelled with both
/// classes), the decision metrics at the model's threshold, the CSVs written, and whether it was taken from a previous run.</summary>
public sealed record GroupResult(
    string MachineType, string Group, int TrainClips, int TestClips, double Auc, double PartialAuc, double Threshold,
    ThresholdProvenance ThresholdSource, string ScoreCsv, string DecisionCsv, string Model, bool Resumed, IReadOnlyList<ScoredClip> Clips)
{
    public DecisionMetrics Decisions { get; } = DecisionMetrics.Of(Clips);
}

/// <summary>Mean AUC, pAUC and decision metrics over the IDs of one machine type.</summary>
public sealed record TypeAverage(string MachineType, double Auc, double PartialAuc, DecisionMetrics Decisions);

/// <summary>A finished evaluation: per-ID results, per-type averages, the mean of the type averages (AUC, pAUC and
/// decision metrics alike), and results.csv.</summary>
public sealed record EvalResult(
    string OutputDirectory, IReadOnlyList<GroupResult> Groups, IReadOnlyList<TypeAverage> Types, double MeanAuc, double MeanPartialAuc,
    DecisionMetrics Decisions, string ResultsCsv, IReadOnlyList<string> Warnings)
{
    /// <summary>The DCASE year whose rules were applied.</summary>
    public int Year { get; init; } = 2020;

    /// <summary>Per-section domain metrics and the official score (2021–2024 layouts), or null.</summary>
    public OfficialScores? Official { get; init; }
}

/// <summary>
/// DCASE Task 2 evaluation: for each machine type of a dataset (<see cref="DatasetLayout"/>), fit one model per machine ID
/// (or per type), score the test clips, and write the submission files <c>anomaly_score_&lt;type&gt;_id_XX.csv</c>
/// (<c>file_name,score</c>) and <c>decision_result_&lt;type&gt;_id_XX.csv</c> (<c>file_name,0|1</c>) — no header, file
/// names only; for 2021–2023 names <c>…_section_XX_test.csv</c> — plus <c>results.csv</c>.
/// <para>Resumable: each finished unit (ID, or type with <see cref="EvalSettings.PerType"/>) leaves a marker
/// <c>models/&lt;unit&gt;.done.json</c> keyed by a hash of the settings and the clips (names, sizes, times); a re-run with the
/// same key skips it. Every file is written atomically and a unit's marker last, so a cancelled run leaves complete files
/// only, and its unfinished units are redone.</para>
/// </summary>
public static class DcaseEvaluation
{
    /// <summary>
    /// Runs the evaluation into <paramref name="outDir"/>. <paramref name="openBackend"/> is called once per parallel job
    /// with the threads that job may use (total threads / jobs). Cancelling <paramref name="cancel"/> stops at the next
    /// clip or epoch and throws <see cref="OperationCanceledException"/>; finished units stay finished.
    /// </summary>
    public static EvalResult Run(string dataRoot, string outDir, EvalSettings settings, Func<int, IBackend?> openBackend, int totalThreads,
        IProgress<DetectorProgress>? progress = null, CancellationToken cancel = default)
    {
        var machines = DatasetLayout.Discover(dataRoot);
        int year = DcaseLayouts.Resolve(settings.Year, machines);
        if (settings.OutlierExposure && settings.Fit.Detector != DetectorCatalog.Metric.Name)
            throw new ArgumentException($"--outlier-exposure applies to --detector {DetectorCatalog.Metric.Name}, not {settings.Fit.Detector}");
        var units = machines.Select(m => (Machine: m, Units: UnitsOf(m, settings.PerType))).ToList();
        if (settings.OutlierExposure)
        {
            var all = units.SelectMany(u => u.Units).ToList();
            units = units.Select(u => (u.Machine, Units: u.Units.Select(unit => unit with { Negatives = NegativesOf(unit, all) }).ToList())).ToList();
        }
        string models = Path.Combine(outDir, "models");
        Directory.CreateDirectory(models);
        AtomicFile.RemoveStaleTemporaries(outDir);
        AtomicFile.RemoveStaleTemporaries(models);

        string settingsJson = SettingsJson(settings);
        int jobs = Math.Clamp(settings.Jobs, 1, units.Count);
        int threadsPerJob = Math.Max(1, totalThreads / jobs);
        int totalUnits = units.Sum(u => u.Units.Count), doneUnits = 0;
        var results = new GroupResult[units.Count][];
        var warnings = new List<string>();
        var cancelling = new CancellingProgress(progress, cancel);
        try
        {
            Parallel.For(0, units.Count, new ParallelOptions { MaxDegreeOfParallelism = jobs, CancellationToken = cancel }, t =>
            {
                using var backend = openBackend(threadsPerJob);
                var list = new List<GroupResult>();
                var typeModel = new TypeModel();
                foreach (var unit in units[t].Units)
                {
                    cancel.ThrowIfCancellationRequested();
                    list.AddRange(RunUnit(unit, typeModel, outDir, models, settings, settingsJson, backend, cancelling, warnings, cancel));
                    int done = Interlocked.Increment(ref doneUnits);
                    cancelling.Report(new DetectorProgress("eval", done, totalUnits));
                }
                results[t] = [.. list];
            });
        }
        catch (AggregateException e)
        {
            var inner = e.Flatten().InnerExceptions;
            var first = cancel.IsCancellationRequested ? inner.FirstOrDefault(x => x is OperationCanceledException) ?? inner[0] : inner[0];
            ExceptionDispatchInfo.Capture(first).Throw();
            throw;
        }

        var groups = results.SelectMany(r => r).ToList();
        var types = groups.GroupBy(g => g.MachineType)
            .Select(g => new TypeAverage(g.Key, MeanOf(g.Select(x => x.Auc)), MeanOf(g.Select(x => x.PartialAuc)),
                DecisionMetrics.Mean([.. g.Select(x => x.Decisions)]))).ToList();
        double meanAuc = MeanOf(types.Select(t => t.Auc)), meanPauc = MeanOf(types.Select(t => t.PartialAuc));
        var decisions = DecisionMetrics.Mean([.. types.Select(t => t.Decisions)]);
        string resultsCsv = Path.Combine(outDir, "results.csv");
        var official = OfficialScore.Compute(groups, year, settings.MaxFpr);
        DcaseLayouts.WriteDomainFiles(outDir, groups, year);
        string table = ResultsTable(groups, types, meanAuc, meanPauc, decisions);
        WriteText(resultsCsv, official is null ? table : table + OfficialScore.ResultRows(official, table[..table.IndexOf('\n')].Count(c => c == ',') + 1));
        lock (warnings) return new EvalResult(outDir, groups, types, meanAuc, meanPauc, decisions, resultsCsv, [.. warnings]) { Year = year, Official = official };
    }

    /// <summary>results.csv: <c>machine_type,id,auc,pauc,train_clips,test_clips,threshold,false_alarm_rate,detection_rate,
    /// precision,recall,f1,threshold_source</c> (cross-fit, calibration or in-sample; "/type" appended when the machine type's
    /// model stood in for the ID's), a row per ID, a row <c>&lt;type&gt;,average</c> per type and <c>all,average</c> (mean of
    /// the type averages, as DCASE ranks). Empty cells where a value is undefined.</summary>
    public static string ResultsTable(IReadOnlyList<GroupResult> groups, IReadOnlyList<TypeAverage> types, double meanAuc, double meanPauc,
        DecisionMetrics decisions)
    {
        var sb = new StringBuilder("machine_type,id,auc,pauc,train_clips,test_clips,threshold,false_alarm_rate,detection_rate,precision,recall,f1,threshold_source\n");
        foreach (var type in types)
        {
            foreach (var g in groups.Where(g => g.MachineType == type.MachineType))
                sb.Append(CultureInfo.InvariantCulture, $"{g.MachineType},{g.Group},{Number(g.Auc)},{Number(g.PartialAuc)},{g.TrainClips},{g.TestClips},{g.Threshold:R},{Rates(g.Decisions)},{g.ThresholdSource.Column}\n");
            sb.Append(CultureInfo.InvariantCulture, $"{type.MachineType},average,{Number(type.Auc)},{Number(type.PartialAuc)},,,,{Rates(type.Decisions)},\n");
        }
        sb.Append(CultureInfo.InvariantCulture, $"all,average,{Number(meanAuc)},{Number(meanPauc)},,,,{Rates(decisions)},\n");
        return sb.ToString();
    }

    static string Rates(DecisionMetrics d) =>
        $"{Number(d.FalseAlarmRate)},{Number(d.DetectionRate)},{Number(d.Precision)},{Number(d.Recall)},{Number(d.F1)}";

    /// <summary>Submission file names: <c>anomaly_score_fan_id_00.csv</c>, or <c>anomaly_score_fan_section_00_test.csv</c>.</summary>
    public static (string Scores, string Decisions) CsvNames(string machineType, string group)
    {
        string suffix = group.StartsWith("section_", StringComparison.Ordinal) ? $"{machineType}_{group}_test" : $"{machineType}_{group}";
        return ($"anomaly_score_{suffix}.csv", $"decision_result_{suffix}.csv");
    }

    /// <summary>Reads a submission CSV (<c>file_name,value</c> lines, no header).</summary>
    public static List<(string File, double Value)> ReadSubmissionCsv(string path)
    {
        var rows = new List<(string, double)>();
        foreach (string line in File.ReadLines(path))
        {
            if (line.Length == 0) continue;
            int comma = line.LastIndexOf(',');
            if (comma <= 0 || !double.TryParse(line.AsSpan(comma + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                throw new InvalidDataException($"{path}: line '{line}' is not file_name,number");
            rows.Add((line[..comma], v));
        }
        return rows;
    }

    // ---- one unit: fit, score, write --------------------------------------------------------------------------

    /// <param name="TypeTrain">The training clips of the whole machine type (all its IDs), for the type's model (see <see cref="TypeModel"/>).</param>
    /// <param name="Negatives">Other machines' training clips the unit's model sees as negatives (outlier exposure), or empty.</param>
    sealed record Unit(string MachineType, string Name, IReadOnlyList<string> Groups, IReadOnlyList<ClipName> Train, IReadOnlyList<ClipName> Test,
        IReadOnlyList<ClipName> TypeTrain)
    {
        public IReadOnlyList<ClipName> Negatives { get; init; } = [];
    }

    /// <summary>The training clips of the other units of <paramref name="unit"/>'s machine type; of the other types when it is its type's only unit.</summary>
    static List<ClipName> NegativesOf(Unit unit, IEnumerable<Unit> all)
    {
        var others = all.Where(u => u.Name != unit.Name).ToList();
        var sameType = others.Where(u => u.MachineType == unit.MachineType).ToList();
        return [.. (sameType.Count > 0 ? sameType : others).SelectMany(u => u.Train)];
    }

    sealed record Marker(string Key, string Model, double Threshold, int TrainClips, MarkerGroup[] Groups, ThresholdProvenance? ThresholdSource);

    sealed record MarkerGroup(string Group, string ScoreCsv, string DecisionCsv);

    static List<Unit> UnitsOf(MachineData m, bool perType)
    {
        if (perType) return [new Unit(m.MachineType, m.MachineType, m.Groups, m.Train, m.Test, m.Train)];
        return m.Groups.Select(g => new Unit(m.MachineType, $"{m.MachineType}_{g}", [g],
            m.Train.Where(c => c.Group == g).ToList(), m.Test.Where(c => c.Group == g).ToList(), m.Train)).ToList();
    }

    static IEnumerable<GroupResult> RunUnit(Unit unit, TypeModel typeModel, string outDir, string models, EvalSettings settings, string settingsJson,
        IBackend? backend, IProgress<DetectorProgress> progress, List<string> warnings, CancellationToken cancel)
    {
        if (unit.Train.Count == 0) throw new IOException($"{unit.MachineType}/{string.Join(",", unit.Groups)}: no training clips");
        if (unit.Test.Count == 0) throw new IOException($"{unit.MachineType}/{string.Join(",", unit.Groups)}: no test clips");
        string key = UnitKey(unit, settingsJson);
        string markerPath = Path.Combine(models, $"{unit.Name}.done.json");
        string model = Path.Combine(models, $"model_{unit.Name}.safetensors");
        var testByGroup = unit.Groups.ToDictionary(g => g, g => unit.Test.Where(c => c.Group == g).ToList());

        if (TryResume(markerPath, key, outDir) is Marker done)
            return done.Groups.Select(g => Result(unit, g.Group, done.TrainClips, done.Threshold,
                done.ThresholdSource ?? ThresholdProvenance.Legacy(done.TrainClips), outDir, g.ScoreCsv, g.DecisionCsv, done.Model, true,
                Load(outDir, g.ScoreCsv, g.DecisionCsv), settings.MaxFpr)).ToList();

        var fitSettings = unit.Negatives.Count > 0 ? settings.Fit with { Negatives = [.. unit.Negatives.Select(c => c.File)] } : settings.Fit;
        void Warn(string w) { lock (warnings) if (!warnings.Contains(w)) warnings.Add(w); }
        if (settings.OutlierExposure && unit.Negatives.Count == 0) Warn($"{unit.Name}: no other machine to use as negatives; fitted without outlier exposure");
        DetectorModelInfo? info = null;
        List<string> skipped = [];
        ArgumentException? failure = null;
        var unitWarnings = new List<string>();   // held back: they do not apply when the type's model takes over
        try
        {
            (info, skipped) = DetectorRunner.Fit(unit.Train.Select(c => c.File).ToList(), model, fitSettings, backend,
                new Labelled(progress, $"{unit.Name} fit"), unitWarnings.Add);
        }
        catch (ArgumentException e) { failure = e; }   // the detector cannot be fitted on these clips (e.g. too few for a covariance)
        if (TypeModel.Needed(unit, fitSettings, info) &&
            typeModel.Fit(unit, models, fitSettings, backend, new Labelled(progress, $"{unit.MachineType} fit"), w => Warn($"{unit.MachineType} (the machine type's model): {w}")) is (string typePath, DetectorModelInfo typeInfo, List<string> typeSkipped))
        {
            if (File.Exists(model)) File.Delete(model);   // the ID's own model is not used
            Warn($"{unit.MachineType} {unit.Groups[0]}: scored with the machine type's model ({typeInfo.TrainingClips} training clips of all its IDs): " +
                (failure?.Message ?? $"its own {unit.Train.Count} training clip(s) are too few to cross-fit a threshold"));
            (model, info, skipped) = (typePath, typeInfo, typeSkipped);
        }
        else if (failure is not null) throw UnitError(unit, failure);
        else unitWarnings.ForEach(w => Warn($"{unit.MachineType} {string.Join(",", unit.Groups)}: {w}"));
        if (info is null) throw new InvalidOperationException("eval: a unit without a model");
        lock (warnings) warnings.AddRange(skipped.Select(s => $"skipped training clip {s}"));
        var (scores, _, unscored) = DetectorRunner.Score(model, unit.Test.Select(c => c.File).ToList(), fitSettings.CacheDirectory, backend,
            new Labelled(progress, $"{unit.Name} score"), warn: Warn, batch: fitSettings.Batch);
        if (unscored.Count > 0)
            throw new IOException($"{unscored.Count} of {unit.Test.Count} test clips of {unit.MachineType} could not be scored; first: {unscored[0]}");
        cancel.ThrowIfCancellationRequested();

        // An ID scored by its type's model reports its own training clips, as in per-type mode; the provenance gives the model's.
        int trainClips = info.ThresholdOrigin.MachineType is null ? info.TrainingClips : unit.Train.Count;

        // From here on nothing checks for cancellation: the unit's files and then its marker are written as one step.
        var byFile = scores.ToDictionary(s => s.File, StringComparer.Ordinal);
        var markerGroups = new List<MarkerGroup>();
        var results = new List<GroupResult>();
        foreach (string group in unit.Groups)
        {
            var clips = testByGroup[group].Select(c => byFile[c.File]).Select(s => new ScoredClip(s.File, s.Score, s.Anomalous, ClipName.Parse(s.File).Anomalous)).ToList();
            var (scoreName, decisionName) = CsvNames(unit.MachineType, group);
            WriteText(Path.Combine(outDir, scoreName), string.Concat(clips.Select(c => string.Create(CultureInfo.InvariantCulture, $"{Path.GetFileName(c.File)},{c.Score:R}\n"))));
            WriteText(Path.Combine(outDir, decisionName), string.Concat(clips.Select(c => $"{Path.GetFileName(c.File)},{(c.Decision ? 1 : 0)}\n")));
            markerGroups.Add(new MarkerGroup(group, scoreName, decisionName));
            results.Add(Result(unit, group, trainClips, info.Threshold.Threshold, info.ThresholdOrigin, outDir, scoreName, decisionName,
                Path.GetFileName(model), false, clips, settings.MaxFpr));
        }
        var marker = new Marker(key, Path.GetFileName(model), info.Threshold.Threshold, trainClips, [.. markerGroups], info.ThresholdOrigin);
        WriteText(markerPath, JsonSerializer.Serialize(marker));
        return results;
    }

    /// <summary>The detector cannot be fitted on a unit's clips (e.g. too few for a covariance): an input problem, named.</summary>
    static IOException UnitError(Unit unit, ArgumentException e) =>
        new($"{unit.MachineType} {string.Join(",", unit.Groups)} ({unit.Train.Count} training clips): {e.Message}", e);

    /// <summary>
    /// The model of one machine type on all its IDs' training clips (as <see cref="EvalSettings.PerType"/> fits it), for the
    /// IDs whose own clips are too few: a model that could not be fitted, or whose threshold could not be cross-fitted (1
    /// clip; a covariance that a fold of 1–2 clips cannot give) and so came from in-sample scores that flag nearly every
    /// unseen normal clip. The DCASE 2020 baseline fits one model per machine type for every ID; here only those IDs use
    /// it, and their threshold provenance says so. Fitted once per run and type, the first time an ID needs it.
    /// </summary>
    sealed class TypeModel
    {
        (string Path, DetectorModelInfo Info)? _fitted;
        bool _failed;

        /// <summary>Whether <paramref name="unit"/> (one ID) needs it: its own model could not be fitted, or its threshold fell back to
        /// in-sample scores although cross-fitting was asked for; and the type has more training clips than the ID.</summary>
        public static bool Needed(Unit unit, FitSettings settings, DetectorModelInfo? own) =>
            unit.Groups.Count == 1 && unit.TypeTrain.Count > unit.Train.Count && settings.Calibration is null &&
            (own is null || (settings.Folds >= 2 && own.ThresholdOrigin.Source == ThresholdProvenance.InSample));

        /// <summary>The type's model (its file, its info with the provenance naming the type) and, the first time, the clips it
        /// skipped; null when the detector cannot be fitted on the type's clips either.</summary>
        public (string Model, DetectorModelInfo Info, List<string> Skipped)? Fit(Unit unit, string models, FitSettings settings, IBackend? backend,
            IProgress<DetectorProgress> progress, Action<string> warn)
        {
            if (_failed) return null;
            List<string> skipped = [];
            if (_fitted is null)
            {
                string path = Path.Combine(models, $"model_{unit.MachineType}.safetensors");
                try
                {
                    (var info, skipped) = DetectorRunner.Fit(unit.TypeTrain.Select(c => c.File).ToList(), path, settings, backend, progress, warn);
                    _fitted = (path, info with { ThresholdSource = info.ThresholdOrigin with { MachineType = unit.MachineType } });
                }
                catch (ArgumentException) { _failed = true; return null; }
            }
            return (_fitted.Value.Path, _fitted.Value.Info, skipped);
        }
    }

    static GroupResult Result(Unit unit, string group, int trainClips, double threshold, ThresholdProvenance thresholdSource, string outDir, string scoreCsv, string decisionCsv,
        string model, bool resumed, List<ScoredClip> clips, double maxFpr)
    {
        double auc = double.NaN, pauc = double.NaN;
        if (clips.All(c => c.Anomalous is not null) && clips.Any(c => c.Anomalous == true) && clips.Any(c => c.Anomalous == false))
        {
            double[] s = [.. clips.Select(c => c.Score)];
            bool[] y = [.. clips.Select(c => c.Anomalous == true)];
            auc = RocMetrics.Auc(s, y);
            pauc = RocMetrics.PartialAuc(s, y, maxFpr);
        }
        int trainOfGroup = unit.Groups.Count == 1 ? trainClips : unit.Train.Count(c => c.Group == group);
        return new GroupResult(unit.MachineType, group, trainOfGroup, clips.Count, auc, pauc, threshold, thresholdSource,
            Path.Combine(outDir, scoreCsv), Path.Combine(outDir, decisionCsv), Path.Combine(outDir, "models", model), resumed, clips);
    }

    /// <summary>Scores and decisions of a finished unit, read back from its CSVs; labels from the file names.</summary>
    static List<ScoredClip> Load(string outDir, string scoreCsv, string decisionCsv)
    {
        var decisions = ReadSubmissionCsv(Path.Combine(outDir, decisionCsv)).ToDictionary(r => r.File, r => r.Value != 0, StringComparer.Ordinal);
        return ReadSubmissionCsv(Path.Combine(outDir, scoreCsv))
            .Select(r => new ScoredClip(r.File, r.Value, decisions.GetValueOrDefault(r.File), ClipName.Parse(r.File).Anomalous)).ToList();
    }

    static Marker? TryResume(string markerPath, string key, string outDir)
    {
        if (!File.Exists(markerPath)) return null;
        try
        {
            var marker = JsonSerializer.Deserialize<Marker>(File.ReadAllText(markerPath));
            if (marker is null || marker.Key != key || marker.Groups is null) return null;
            bool complete = File.Exists(Path.Combine(outDir, "models", marker.Model)) &&
                marker.Groups.All(g => File.Exists(Path.Combine(outDir, g.ScoreCsv)) && File.Exists(Path.Combine(outDir, g.DecisionCsv)));
            return complete ? marker : null;
        }
        catch (JsonException) { return null; } // a damaged marker means: redo the unit
    }

    // ---- keys, files ----------------------------------------------------------------------------------------------

    /// <summary>Everything that changes a unit's results, as JSON: detector settings (not the cache folder), mode, pAUC range.</summary>
    static string SettingsJson(EvalSettings s) => JsonSerializer.Serialize(new
    {
        s.Fit.Detector, s.Fit.Seed, s.Fit.Percentile, Channel = s.Fit.Channel.IsMean ? "mean" : s.Fit.Channel.Channel.ToString(CultureInfo.InvariantCulture),
        s.Fit.Metric, s.Fit.Autoencoder, s.Fit.Vae, s.Fit.Domains, s.PerType, s.MaxFpr, DetectorRunner.EngineVersion,
        Threshold = $"{s.Fit.Folds}-fold cross-fit, folds per ID, scores of known IDs, predictive gamma point; the machine type's model for IDs too few to cross-fit",
        s.OutlierExposure,
        s.Fit.Backbone, s.Fit.Taps, s.Fit.Init, s.Fit.Int8Activations,   // other features are another model: never resume across them
    });

    static string UnitKey(Unit unit, string settingsJson)
    {
        var sb = new StringBuilder(settingsJson).Append('\n').Append(unit.Name).Append('\n');
        // The type's training clips too: an ID with too few clips is scored by the type's model (TypeModel).
        foreach (var clip in unit.Train.Select(c => ("train", c)).Concat(unit.Test.Select(c => ("test", c)))
                     .Concat(unit.TypeTrain.Select(c => ("type", c))).Concat(unit.Negatives.Select(c => ("negative", c))))
        {
            var f = new FileInfo(clip.c.File);
            sb.Append(CultureInfo.InvariantCulture, $"{clip.Item1}|{f.Name}|{f.Length}|{f.LastWriteTimeUtc.Ticks}\n");
        }
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    static void WriteText(string path, string text) => AtomicFile.Write(path, s => s.Write(Encoding.UTF8.GetBytes(text)));

    static string Number(double v) => double.IsNaN(v) ? "" : v.ToString("F6", CultureInfo.InvariantCulture);

    static double MeanOf(IEnumerable<double> values)
    {
        var finite = values.Where(double.IsFinite).ToList();
        return finite.Count == 0 ? double.NaN : finite.Average();
    }

    /// <summary>Forwards progress and turns a cancellation request into an exception at the next report (every clip, every epoch).</summary>
    sealed class CancellingProgress(IProgress<DetectorProgress>? inner, CancellationToken cancel) : IProgress<DetectorProgress>
    {
        public void Report(DetectorProgress value)
        {
            cancel.ThrowIfCancellationRequested();
            if (inner is not null) lock (this) inner.Report(value);
        }
    }

    sealed class Labelled(IProgress<DetectorProgress> inner, string label) : IProgress<DetectorProgress>
    {
        public void Report(DetectorProgress value) => inner.Report(value with { Stage = $"{label} {value.Stage}" });
    }
}
