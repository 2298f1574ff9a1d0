using System.Globalization;
using System.Text;

namespace NativeASD.Detection.Evaluation;

/// <summary>
/// The metrics of one section under a year's rules (NaN where the test clips do not define one):
/// <see cref="AucSource"/>/<see cref="AucTarget"/> and <see cref="Pauc"/> as that year's evaluator computes them;
/// <see cref="PaucSource"/>/<see cref="PaucTarget"/> are 2021's per-domain pAUCs (NaN for later years).
/// </summary>
public sealed record SectionScores(string MachineType, string Section, double AucSource, double AucTarget, double Pauc,
    double PaucSource, double PaucTarget)
{
    /// <summary>The values that enter the official score, in the evaluator's order: (name, value).</summary>
    public IEnumerable<(string Name, double Value)> Entries(int year) => year == 2021
        ? [("auc_source", AucSource), ("auc_target", AucTarget), ("pauc_source", PaucSource), ("pauc_target", PaucTarget)]
        : [("auc_source", AucSource), ("auc_target", AucTarget), ("pauc", Pauc)];
}

/// <summary>The official score of an evaluation: the harmonic mean over every section's entries (see <see cref="OfficialScore"/>),
/// how many entries it took, and the entries the test clips left undefined (e.g. a domain without normal test clips).</summary>
public sealed record OfficialScores(int Year, IReadOnlyList<SectionScores> Sections, double Score, int Entries, IReadOnlyList<string> Missing);

/// <summary>
/// DCASE 2021–2024 official scores, as the organisers' evaluators compute them (dcase2021_task2_evaluator,
/// dcase2022/2023_task2_evaluator; 2024 reuses 2023's):
/// <list type="bullet">
/// <item>2021: per section and domain, AUC and pAUC (FPR ≤ 0.1) on that domain's test clips only; official score = harmonic
/// mean of all those AUCs and pAUCs over machine types, sections and domains.</item>
/// <item>2022–2024: per section, AUC(source) on the source normal clips against every anomalous clip of the section,
/// AUC(target) likewise with the target normal clips, and one pAUC on all clips of the section; official score =
/// harmonic mean over all AUC(source), AUC(target) and pAUC values of all machine types and sections.</item>
/// </list>
/// As in the evaluators, each value is floored at the machine epsilon before the harmonic mean. Values a small test set
/// cannot define (no normal or no anomalous clip) are left out and listed in <see cref="OfficialScores.Missing"/>.
/// </summary>
public static class OfficialScore
{
    /// <summary>The section's metrics from its scored clips (labels and domains from their file names).</summary>
    public static SectionScores Section(string machineType, string section, IReadOnlyList<ScoredClip> clips, int year, double maxFpr = 0.1)
    {
        var named = clips.Select(c => (Clip: c, Name: ClipName.Parse(c.File))).Where(x => x.Clip.Anomalous is not null).ToList();
        double Auc(Func<(ScoredClip Clip, ClipName Name), bool> keep, bool partial)
        {
            var kept = named.Where(keep).ToList();
            if (!kept.Any(x => x.Clip.Anomalous == true) || !kept.Any(x => x.Clip.Anomalous == false)) return double.NaN;
            double[] s = [.. kept.Select(x => x.Clip.Score)];
            bool[] y = [.. kept.Select(x => x.Clip.Anomalous == true)];
            return partial ? RocMetrics.PartialAuc(s, y, maxFpr) : RocMetrics.Auc(s, y);
        }
        if (year == 2021)
            return new SectionScores(machineType, section,
                Auc(x => x.Name.Domain == "source", false), Auc(x => x.Name.Domain == "target", false), Auc(_ => true, true),
                Auc(x => x.Name.Domain == "source", true), Auc(x => x.Name.Domain == "target", true));
        return new SectionScores(machineType, section,
            Auc(x => x.Name.Domain == "source" || x.Clip.Anomalous == true, false),
            Auc(x => x.Name.Domain == "target" || x.Clip.Anomalous == true, false),
            Auc(_ => true, true), double.NaN, double.NaN);
    }

    /// <summary>Every section's metrics and the official score; null for 2020 (no domains, no official score).</summary>
    public static OfficialScores? Compute(IReadOnlyList<GroupResult> groups, int year, double maxFpr = 0.1)
    {
        if (!DcaseLayouts.HasDomains(year)) return null;
        var sections = groups.Where(g => g.Group.StartsWith("section_", StringComparison.Ordinal))
            .Select(g => Section(g.MachineType, g.Group, g.Clips, year, maxFpr)).ToList();
        var values = new List<double>();
        var missing = new List<string>();
        foreach (var s in sections)
            foreach (var (name, value) in s.Entries(year))
            {
                if (double.IsFinite(value)) values.Add(value);
                else missing.Add($"{s.MachineType} {s.Section} {name}");
            }
        return new OfficialScores(year, sections, HarmonicMean(values), values.Count, missing);
    }

    /// <summary>Python's sys.float_info.epsilon (2⁻⁵²), the evaluators' floor.</summary>
    public const double MachineEpsilon = 2.220446049250313e-16;

    /// <summary>scipy.stats.hmean of the values floored at the machine epsilon, as the evaluators do; NaN for none.</summary>
    public static double HarmonicMean(IReadOnlyCollection<double> values)
    {
        if (values.Count == 0) return double.NaN;
        double reciprocal = 0;
        foreach (double v in values) reciprocal += 1 / Math.Max(v, MachineEpsilon);
        return values.Count / reciprocal;
    }

    /// <summary>
    /// Rows appended to results.csv (with <paramref name="columns"/> fields each, empty beyond the values): per section
    /// and domain <c>&lt;type&gt;,section_XX_source,AUC,pAUC</c> (pAUC only where the year defines one per domain, 2021),
    /// then <c>all,official_score,SCORE</c>.
    /// </summary>
    public static string ResultRows(OfficialScores official, int columns)
    {
        var sb = new StringBuilder();
        void Row(params string[] fields) => sb.Append(string.Join(",", fields.Concat(Enumerable.Repeat("", Math.Max(0, columns - fields.Length))))).Append('\n');
        foreach (var s in official.Sections)
        {
            Row(s.MachineType, $"{s.Section}_source", Number(s.AucSource), Number(s.PaucSource));
            Row(s.MachineType, $"{s.Section}_target", Number(s.AucTarget), Number(s.PaucTarget));
        }
        Row("all", "official_score", Number(official.Score));
        return sb.ToString();
    }

    static string Number(double v) => double.IsNaN(v) ? "" : v.ToString("F6", CultureInfo.InvariantCulture);
}
