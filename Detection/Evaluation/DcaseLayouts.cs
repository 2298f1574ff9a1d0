using System.Globalization;
using System.Text;
using NativeASD.Engine.IO;

namespace NativeASD.Detection.Evaluation;

/// <summary>
/// Which DCASE Task 2 year's rules an evaluation follows: file names, submission files and the official score.
/// <list type="bullet">
/// <item>2020: machine IDs (<c>normal_id_00_…</c>), files <c>anomaly_score_&lt;type&gt;_id_XX.csv</c>; no domains and no official score (DCASE 2020 ranked AUC and pAUC averages).</item>
/// <item>2021: sections with a source and a target domain, each domain scored apart; besides the section file, the
/// year's per-domain files <c>anomaly_score_&lt;type&gt;_section_XX_{source,target}_test.csv</c>.</item>
/// <item>2022, 2023, 2024: sections with domains mixed in one test set; files <c>anomaly_score_&lt;type&gt;_section_XX_test.csv</c>.</item>
/// </list>
/// Auto-detection (<see cref="Resolve"/>): 2020 names → 2020; section names → 2021 when no section clip carries an
/// attribute string after its number (2021's names have none), else 2022 (2022–2024 share every rule this tool applies).
/// </summary>
public static class DcaseLayouts
{
    public static readonly IReadOnlyList<int> Years = [2020, 2021, 2022, 2023, 2024];

    /// <summary>True for 2021–2024: sections and domains.</summary>
    public static bool HasDomains(int year) => year >= 2021;

    /// <summary>The year to apply: <paramref name="requested"/> when given (checked against the clip names), else detected.</summary>
    /// <exception cref="ArgumentException">An unknown year.</exception>
    /// <exception cref="InvalidDataException">A 2021–2024 year for a dataset without section names.</exception>
    public static int Resolve(int? requested, IReadOnlyList<MachineData> machines)
    {
        var clips = machines.SelectMany(m => m.Train.Concat(m.Test)).ToList();
        bool sections = clips.Any(c => c.Group.StartsWith("section_", StringComparison.Ordinal));
        if (requested is int year)
        {
            if (!Years.Contains(year)) throw new ArgumentException($"--year must be one of {string.Join(", ", Years)} or auto, got {year}");
            if (HasDomains(year) && !sections)
                throw new InvalidDataException($"--year {year} needs DCASE 2021–2024 clip names ({ClipName.SectionForm}); this dataset has none");
            return year;
        }
        if (!sections) return 2020;
        return clips.Any(c => c.Attributes is not null) ? 2022 : 2021;
    }

    /// <summary>2021's per-domain submission files for every section result (nothing for other years); returns their paths.</summary>
    public static List<string> WriteDomainFiles(string outDir, IReadOnlyList<GroupResult> groups, int year)
    {
        var written = new List<string>();
        if (year != 2021) return written;
        foreach (var g in groups.Where(g => g.Group.StartsWith("section_", StringComparison.Ordinal)))
            foreach (string domain in Domains)
            {
                var clips = g.Clips.Where(c => ClipName.Parse(c.File).Domain == domain).ToList();
                if (clips.Count == 0) continue;
                string suffix = $"{g.MachineType}_{g.Group}_{domain}_test.csv";
                string scores = Path.Combine(outDir, "anomaly_score_" + suffix), decisions = Path.Combine(outDir, "decision_result_" + suffix);
                Write(scores, clips.Select(c => string.Create(CultureInfo.InvariantCulture, $"{Path.GetFileName(c.File)},{c.Score:R}\n")));
                Write(decisions, clips.Select(c => $"{Path.GetFileName(c.File)},{(c.Decision ? 1 : 0)}\n"));
                written.Add(scores);
                written.Add(decisions);
            }
        return written;
    }

    public static readonly IReadOnlyList<string> Domains = ["source", "target"];

    static void Write(string path, IEnumerable<string> lines) =>
        AtomicFile.Write(path, s => s.Write(Encoding.UTF8.GetBytes(string.Concat(lines))));
}
