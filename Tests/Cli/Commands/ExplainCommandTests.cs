using System.Text.Json;
using System.Text.RegularExpressions;
using SkiaSharp;

namespace NativeASD.Tests.Cli.Commands;

/// <summary>score --explain writes a PNG and a CSV per clip; eval --report --explain puts a section per flagged clip into
/// report.html, whose images are real plots of the expected size (decoded and checked pixel by pixel).</summary>
public sealed class ExplainCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-explain").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void ScoreExplainAndReportSectionsAreRealPlots()
    {
        string data = Path.Combine(_dir, "d"), output = Path.Combine(_dir, "o");
        Assert.Equal(0, NasdProcess.Run("synth", "--out", data, "--layout", "dcase2023", "--types", "valve", "--train", "8", "--target-train", "3",
            "--test", "2", "--seconds", "3", "--severity", "3").ExitCode);
        var eval = NasdProcess.Run("eval", "--data", data, "--out", output, "--detector", "smahalanobis", "--backbone", "none", "--no-cache",
            "--report", "--explain", "2", "--json");
        Assert.True(eval.ExitCode == 0, eval.Stderr);
        string html = File.ReadAllText(Path.Combine(output, "report.html"));
        var images = Regex.Matches(html, "<img class=\"explanation\" width=\"(\\d+)\" height=\"(\\d+)\"[^>]*src=\"data:image/png;base64,([^\"]+)\"");
        Assert.InRange(images.Count, 1, 2);
        Assert.Equal(images.Count, Regex.Matches(html, "<h3 class=\"explained\">").Count);
        foreach (Match m in images)
        {
            using var bitmap = SKBitmap.Decode(Convert.FromBase64String(m.Groups[3].Value));
            Assert.Equal(int.Parse(m.Groups[1].Value), bitmap.Width);
            Assert.Equal(int.Parse(m.Groups[2].Value), bitmap.Height);
            CheckPlot(bitmap);
        }

        string model = Directory.GetFiles(Path.Combine(output, "models"), "*.safetensors").Single();
        string clip = Directory.GetFiles(Path.Combine(data, "valve", "test"), "*anomaly*.wav").First();
        var score = NasdProcess.Run("score", "--model", model, clip, "--explain", Path.Combine(_dir, "why"), "--json");
        Assert.True(score.ExitCode == 0, score.Stderr);
        using var json = JsonDocument.Parse(score.Stdout);
        var explanation = json.RootElement.GetProperty("clips")[0].GetProperty("explanation");
        string png = explanation.GetProperty("png").GetString()!;
        Assert.Equal(Path.Combine(_dir, "why", Path.GetFileNameWithoutExtension(clip) + ".explain.png"), png);
        using (var bitmap = SKBitmap.Decode(png)) CheckPlot(bitmap);
        var csv = File.ReadAllLines(explanation.GetProperty("csv").GetString()!);
        Assert.Equal("kind,index,start,end,unit,contribution", csv[0]);
        Assert.Equal(3, csv.Count(l => l.StartsWith("segment,", StringComparison.Ordinal)));
        Assert.Equal(128, csv.Count(l => l.StartsWith("band,", StringComparison.Ordinal)));
        Assert.InRange(explanation.GetProperty("top_band").GetProperty("index").GetInt32(), 0, 127);
    }

    /// <summary>A drawn plot, not a blank image: mostly white, with blue and green bars and the orange-red top bar in both panels.</summary>
    static void CheckPlot(SKBitmap bitmap)
    {
        Assert.Equal((720, 600), (bitmap.Width, bitmap.Height));
        int white = 0, orange = 0, orangeTop = 0, orangeBottom = 0, other = 0;
        for (int y = 0; y < bitmap.Height; y++)
            for (int x = 0; x < bitmap.Width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                if (c.Red > 245 && c.Green > 245 && c.Blue > 245) white++;
                else if (c.Red > 230 && c.Green is > 50 and < 110 && c.Blue < 40)
                {
                    orange++;
                    if (y < 300) orangeTop++; else orangeBottom++;
                }
                else other++;
            }
        Assert.True(white > bitmap.Width * bitmap.Height / 2, $"{white} white pixels");
        Assert.True(orangeTop > 20 && orangeBottom > 5, $"top bars: {orangeTop} and {orangeBottom} orange-red pixels");
        Assert.True(other > 2000, $"{other} drawn pixels");
    }
}
