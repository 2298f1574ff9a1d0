using System.Globalization;
using System.Net;
using System.Text;
using NativeASD.Detection.Evaluation;

namespace NativeASD.Cli.Reporting;

/// <summary>The report's DCASE 2021–2024 part: the official score and a table of AUC per section and domain and pAUC.</summary>
public static class OfficialScoreHtml
{
    public static string Section(OfficialScores? official)
    {
        if (official is null) return "";
        bool perDomainPauc = official.Year == 2021;
        var sb = new StringBuilder();
        sb.Append(Invariant($"<h2>Official score (DCASE {official.Year} rules)</h2>\n<p class=\"official\">Official score <b>{Cell(official.Score)}</b>: harmonic mean of {official.Entries} values ("))
          .Append(perDomainPauc ? "AUC and pAUC per section and domain, each on that domain's test clips" : "AUC(source) and AUC(target) per section, each domain's normal clips against all anomalous clips of the section, and pAUC on all clips of the section")
          .Append(").</p>\n");
        if (official.Missing.Count > 0)
            sb.Append("<p>Left out, undefined on these test clips: ").Append(WebUtility.HtmlEncode(string.Join("; ", official.Missing))).Append(".</p>\n");
        sb.Append("<table><tr><th>machine type</th><th>section</th><th>AUC source</th><th>AUC target</th>")
          .Append(perDomainPauc ? "<th>pAUC source</th><th>pAUC target</th>" : "<th>pAUC</th>").Append("</tr>\n");
        foreach (var s in official.Sections)
            sb.Append(Invariant($"<tr><td>{WebUtility.HtmlEncode(s.MachineType)}</td><td>{WebUtility.HtmlEncode(s.Section)}</td><td>{Cell(s.AucSource)}</td><td>{Cell(s.AucTarget)}</td>"))
              .Append(perDomainPauc ? $"<td>{Cell(s.PaucSource)}</td><td>{Cell(s.PaucTarget)}</td>" : $"<td>{Cell(s.Pauc)}</td>").Append("</tr>\n");
        sb.Append("</table>\n");
        return sb.ToString();
    }

    static string Cell(double v) => double.IsFinite(v) ? v.ToString("F4", CultureInfo.InvariantCulture) : "–";

    static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
