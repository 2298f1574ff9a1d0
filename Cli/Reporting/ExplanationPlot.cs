using System.Globalization;
using System.Net;
using System.Text;
using NativeASD.Detection.Explanations;
using NativeASD.Engine.IO;
using ScottPlot;
using SkiaSharp;

namespace NativeASD.Cli.Reporting;

/// <summary>
/// An explanation drawn by ScottPlot: contribution per time segment (top) and per frequency band during the top segment
/// (bottom, labelled with the bands' centre frequencies), the largest of each in orange-red; one PNG. Also the files <c>nasd score --explain</c> writes and the
/// report's section per flagged clip.
/// </summary>
public static class ExplanationPlot
{
    public const int Width = 720, PanelHeight = 300;

    public static byte[] Png(Explanation e, string title)
    {
        var top = TimePanel(e, title);
        var bottom = BandPanel(e);
        return Stack(top.GetImageBytes(Width, PanelHeight, ImageFormat.Png), bottom.GetImageBytes(Width, PanelHeight, ImageFormat.Png));
    }

    static Plot TimePanel(Explanation e, string title)
    {
        var plot = new Plot();
        var top = e.TopSegment;
        plot.Add.Bars(e.Segments.Select(s => new Bar
        {
            Position = (s.StartSeconds + s.EndSeconds) / 2, Value = s.Contribution, Size = (s.EndSeconds - s.StartSeconds) * 0.9,
            FillColor = s == top ? Colors.OrangeRed : Colors.SteelBlue, LineWidth = 0,
        }).ToList());
        plot.Title(Invariant($"{Shortened(title)}: score {e.Score:G4}, most from {top.StartSeconds:0.#}–{top.EndSeconds:0.#} s"));
        plot.XLabel("time (s)");
        plot.YLabel("score drop without segment");
        return plot;
    }

    /// <summary>One bar per band at its index (mel bands are of very unequal width in Hz), labelled with centre frequencies.</summary>
    static Plot BandPanel(Explanation e)
    {
        var plot = new Plot();
        var top = e.TopBand;
        bool hz = e.Bands.All(b => double.IsFinite(b.CentreHz));
        plot.Add.Bars(e.Bands.Select(b => new Bar
        {
            Position = b.Band, Value = b.Contribution, Size = 0.85, FillColor = b == top ? Colors.OrangeRed : Colors.SeaGreen, LineWidth = 0,
        }).ToList());
        if (hz)
        {
            int step = Math.Max(1, e.Bands.Count / 8);
            var ticks = e.Bands.Where(b => b.Band % step == 0).ToList();
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
                [.. ticks.Select(b => (double)b.Band)], [.. ticks.Select(b => b.CentreHz.ToString("0", CultureInfo.InvariantCulture))]);
        }
        var segment = e.TopSegment;
        plot.Title(Invariant($"during {segment.StartSeconds:0.#}–{segment.EndSeconds:0.#} s, most from ") +
            (hz ? Invariant($"band {top.Band}: {top.LowHz:0}–{top.HighHz:0} Hz") : $"coefficient {top.Band}"));
        plot.XLabel(hz ? "band (centre frequency, Hz)" : "coefficient");
        plot.YLabel("score drop without band");
        return plot;
    }

    /// <summary>A long clip name cut to fit the plot's title.</summary>
    static string Shortened(string name) => name.Length <= 36 ? name : name[..16] + "…" + name[^19..];

    /// <summary>Two PNGs of equal width, one above the other, as one PNG.</summary>
    static byte[] Stack(byte[] upper, byte[] lower)
    {
        using var a = SKBitmap.Decode(upper);
        using var b = SKBitmap.Decode(lower);
        using var combined = new SKBitmap(Math.Max(a.Width, b.Width), a.Height + b.Height);
        using (var canvas = new SKCanvas(combined))
        {
            canvas.Clear(SKColors.White);
            canvas.DrawBitmap(a, 0, 0);
            canvas.DrawBitmap(b, 0, a.Height);
        }
        using var image = SKImage.FromBitmap(combined);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>Writes OUT_DIR/&lt;clip&gt;.explain.png and .csv (atomically); returns the PNG's path.</summary>
    public static string WriteFiles(string outDir, Explanation e)
    {
        Directory.CreateDirectory(outDir);
        string stem = Path.Combine(outDir, Path.GetFileNameWithoutExtension(e.Source) + ".explain");
        byte[] png = Png(e, Path.GetFileName(e.Source));
        AtomicFile.Write(stem + ".png", s => s.Write(png));
        AtomicFile.Write(stem + ".csv", s => s.Write(Encoding.UTF8.GetBytes(ExplanationCsv.Format(e))));
        return stem + ".png";
    }

    /// <summary>The report's section for explained clips: per clip a heading, the two-panel plot and the top segment and band.</summary>
    public static string Html(IReadOnlyList<Explanation> explanations)
    {
        if (explanations.Count == 0) return "";
        var sb = new StringBuilder("<h2>Why flagged clips were flagged</h2>\n<p>Score drop when one second of the clip's log-mel (top), or one ")
            .Append("frequency band during the top second (bottom), is replaced by the next second's: where the model's evidence sits, not a diagnosis (see docs/dcase-layouts.md).</p>\n");
        foreach (var e in explanations)
        {
            var s = e.TopSegment;
            var b = e.TopBand;
            string name = Path.GetFileName(e.Source);
            sb.Append("<h3 class=\"explained\">").Append(WebUtility.HtmlEncode(name)).Append("</h3>\n<p>")
              .Append(Invariant($"score {e.Score:G5}; most from {s.StartSeconds:0.#}–{s.EndSeconds:0.#} s and band {b.Band}"))
              .Append(double.IsFinite(b.CentreHz) ? Invariant($" ({b.LowHz:0}–{b.HighHz:0} Hz)") : "").Append(".</p>\n")
              .Append(Invariant($"<img class=\"explanation\" width=\"{Width}\" height=\"{2 * PanelHeight}\" alt=\"explanation of {WebUtility.HtmlEncode(name)}\" src=\"data:image/png;base64,"))
              .Append(Convert.ToBase64String(Png(e, name))).Append("\">\n");
        }
        return sb.ToString();
    }

    static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
