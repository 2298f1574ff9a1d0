using System.Globalization;
using System.Net;
using System.Text;
using NativeASD.Engine.IO;
using NativeASD.Detection.Evaluation;
using NativeASD.Weights;
using ScottPlot;

namespace NativeASD.Cli.Reporting;

/// <summary>
/// <c>report.html</c> of an evaluation: the results table, and per machine ID a ROC curve and a score histogram (normal
/// vs anomalous, with the decision threshold), drawn by ScottPlot as PNGs and embedded as base64 data URIs, so the file
/// is self-contained and opens without a network.
/// </summary>
public static class EvalReport
{
    const int Width = 480, Height = 360;

    /// <param name="explanations">Explained flagged clips: a section each after the plots (none by default).</param>
    public static string Write(EvalResult result, string title, IReadOnlyList<NativeASD.Detection.Explanations.Explanation>? explanations = null)
    {
        string path = Path.Combine(result.OutputDirectory, "report.html");
        string html = Html(result, title, explanations);
        AtomicFile.Write(path, s => s.Write(Encoding.UTF8.GetBytes(html)));
        return path;
    }

    public static string Html(EvalResult result, string title, IReadOnlyList<NativeASD.Detection.Explanations.Explanation>? explanations = null)
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(Encode(title)).Append("</title>\n<style>")
          .Append("body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}")
          .Append("td,th{border:1px solid #bbb;padding:.25em .6em;text-align:right}th{background:#eee}td:first-child,td:nth-child(2){text-align:left}")
          .Append("tr.avg td{font-weight:bold;background:#f6f6f6}.plots{display:flex;flex-wrap:wrap;gap:1em}img{border:1px solid #ddd}")
          .Append("</style></head><body>\n<h1>").Append(Encode(title)).Append("</h1>\n");
        sb.Append(Invariant($"<p>Mean AUC {Cell(result.MeanAuc)}, mean pAUC {Cell(result.MeanPartialAuc)} (mean of the machine-type averages).</p>\n"));
        sb.Append(Invariant($"<p>Decisions at each model's threshold: false-alarm rate {Cell(result.Decisions.FalseAlarmRate)} on {result.Decisions.NormalClips} normal test clips, detection rate {Cell(result.Decisions.DetectionRate)} on {result.Decisions.AnomalousClips} anomalous ones (means of the machine-type averages).</p>\n"));
        sb.Append("<table><tr><th>machine type</th><th>id</th><th>AUC</th><th>pAUC</th><th>false-alarm rate</th><th>detection rate</th><th>precision</th><th>F1</th><th>train clips</th><th>test clips</th><th>threshold</th></tr>\n");
        foreach (var type in result.Types)
        {
            foreach (var g in result.Groups.Where(g => g.MachineType == type.MachineType))
                sb.Append(Invariant($"<tr><td>{Encode(g.MachineType)}</td><td>{Encode(g.Group)}</td><td>{Cell(g.Auc)}</td><td>{Cell(g.PartialAuc)}</td>{DecisionCells(g.Decisions)}<td>{g.TrainClips}</td><td>{g.TestClips}</td><td>{g.Threshold:G5} <small>({Encode(g.ThresholdSource.Describe())})</small></td></tr>\n"));
            sb.Append(Invariant($"<tr class=\"avg\"><td>{Encode(type.MachineType)}</td><td>average</td><td>{Cell(type.Auc)}</td><td>{Cell(type.PartialAuc)}</td>{DecisionCells(type.Decisions)}<td></td><td></td><td></td></tr>\n"));
        }
        sb.Append(Invariant($"<tr class=\"avg\"><td>all</td><td>average</td><td>{Cell(result.MeanAuc)}</td><td>{Cell(result.MeanPartialAuc)}</td>{DecisionCells(result.Decisions)}<td></td><td></td><td></td></tr>\n</table>\n"));
        sb.Append(OfficialScoreHtml.Section(result.Official));

        foreach (var g in result.Groups)
        {
            sb.Append("<h2>").Append(Encode($"{g.MachineType} {g.Group}")).Append("</h2>\n<div class=\"plots\">");
            if (double.IsFinite(g.Auc)) sb.Append(Image(RocPng(g), $"ROC curve of {g.MachineType} {g.Group}"));
            sb.Append(Image(HistogramPng(g), $"score histogram of {g.MachineType} {g.Group}"));
            sb.Append("</div>\n");
        }
        sb.Append(ExplanationPlot.Html(explanations ?? []));
        sb.Append("</body></html>\n");
        return sb.ToString();
    }

    /// <summary>ROC curve (FPR → TPR) with the chance diagonal.</summary>
    public static byte[] RocPng(GroupResult g)
    {
        var (fpr, tpr) = RocMetrics.Curve([.. g.Clips.Select(c => c.Score)], [.. g.Clips.Select(c => c.Anomalous == true)]);
        var plot = new Plot();
        var chance = plot.Add.Scatter(new double[] { 0, 1 }, new double[] { 0, 1 });
        chance.Color = Colors.Gray;
        chance.LinePattern = LinePattern.Dashed;
        chance.MarkerSize = 0;
        var roc = plot.Add.Scatter(fpr, tpr);
        roc.LineWidth = 2;
        roc.MarkerSize = 0;
        roc.LegendText = Invariant($"AUC {g.Auc:F3}, pAUC {g.PartialAuc:F3}");
        plot.Axes.SetLimits(0, 1, 0, 1);
        plot.Title($"{g.MachineType} {g.Group}: ROC");
        plot.XLabel("false positive rate");
        plot.YLabel("true positive rate");
        plot.ShowLegend(Alignment.LowerRight);
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    /// <summary>Histograms of normal and anomalous test scores on shared bins, and the threshold as a vertical line.</summary>
    public static byte[] HistogramPng(GroupResult g)
    {
        double[] scores = [.. g.Clips.Select(c => c.Score)];
        double lo = Math.Min(scores.Min(), g.Threshold), hi = Math.Max(scores.Max(), g.Threshold);
        if (hi <= lo) hi = lo + 1;
        int binCount = Math.Clamp(scores.Length / 2, 8, 40);
        double width = (hi - lo) / binCount;
        var plot = new Plot();
        foreach (var (label, anomalous, color) in new[] { ("normal", (bool?)false, Colors.SteelBlue), ("anomalous", true, Colors.OrangeRed), ("unlabelled", null, Colors.Gray) })
        {
            var values = g.Clips.Where(c => c.Anomalous == anomalous).Select(c => c.Score).ToList();
            if (values.Count == 0) continue;
            var counts = new double[binCount];
            foreach (double v in values) counts[Math.Clamp((int)((v - lo) / width), 0, binCount - 1)]++;
            var bars = plot.Add.Bars(Enumerable.Range(0, binCount).Select(b => new Bar
            {
                Position = lo + (b + 0.5) * width, Value = counts[b], Size = width, FillColor = color.WithAlpha(0.55), LineWidth = 0,
            }).ToList());
            bars.LegendText = $"{label} ({values.Count})";
        }
        var threshold = plot.Add.VerticalLine(g.Threshold);
        threshold.Color = Colors.Black;
        threshold.LinePattern = LinePattern.Dashed;
        threshold.LegendText = Invariant($"threshold {g.Threshold:G4}");
        plot.Axes.Margins(bottom: 0);
        plot.Title($"{g.MachineType} {g.Group}: scores");
        plot.XLabel("anomaly score");
        plot.YLabel("clips");
        plot.ShowLegend(Alignment.UpperRight);
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    static string Image(byte[] png, string alt) =>
        $"<img width=\"{Width}\" height=\"{Height}\" alt=\"{Encode(alt)}\" src=\"data:image/png;base64,{Convert.ToBase64String(png)}\">";

    static string DecisionCells(DecisionMetrics d) =>
        $"<td>{Cell(d.FalseAlarmRate)}</td><td>{Cell(d.DetectionRate)}</td><td>{Cell(d.Precision)}</td><td>{Cell(d.F1)}</td>";

    static string Cell(double v) => double.IsFinite(v) ? v.ToString("F4", CultureInfo.InvariantCulture) : "–";

    static string Encode(string s) => WebUtility.HtmlEncode(s);

    static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
