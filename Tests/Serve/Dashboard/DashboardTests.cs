using NativeASD.Serve.Store;
using SkiaSharp;

namespace NativeASD.Tests.Serve.Dashboard;

/// <summary>The dashboard as a browser shows it: headless chromium on a live server with two machines, one in alarm.</summary>
public sealed class DashboardTests
{
    [SkippableFact]
    public async Task The_page_shows_every_machine_with_its_plot_and_the_open_alarm()
    {
        HeadlessChromium.Require();
        var clips = ServeKit.Clips;
        await using var server = await ServeKit.InProcessServer.StartAsync();
        await server.AddMachine("press-1", clips.Model);
        await server.AddMachine("press-2", clips.Model);
        await ServeKit.StreamAsync(server.Url, "press-1", ServeKit.PcmOf(clips.LongAnomalous), realTime: false);
        await ServeKit.StreamAsync(server.Url, "press-2", ServeKit.PcmOf(clips.LongNormal), realTime: false);
        // Half an hour of earlier readings, as a machine that has been listening leaves them (the streams above took a second).
        long now = ServeStore.NowMs();
        var rng = new Random(1);
        foreach (var name in new[] { "press-1", "press-2" })
            for (int minute = 30; minute > 0; minute--)
                server.Store.AddReading(new ReadingRecord(0, name, now - minute * 60_000, 0, 20 + 4 * rng.NextDouble(), 27, false, false, 1, "stream"));
        server.Store.FlushReadings();

        string folder = ServeKit.TempFolder("chromium");
        // ?live=0: no event stream, so the page settles and chromium's virtual time can run out.
        string url = $"{server.Url}/?live=0";
        string dom = HeadlessChromium.Run(url, Path.Combine(folder, "profile"), "--virtual-time-budget=5000", "--dump-dom");
        Assert.Contains("data-machine=\"press-1\"", dom);
        Assert.Contains("data-machine=\"press-2\"", dom);
        Assert.Contains("data-alarm=", dom);
        Assert.Contains("<audio", dom);

        string shot = Path.Combine(folder, "dashboard.png");
        HeadlessChromium.Run(url, Path.Combine(folder, "profile"), "--virtual-time-budget=5000", "--window-size=1200,800", $"--screenshot={shot}");
        using var bitmap = SKBitmap.Decode(shot);
        Assert.NotNull(bitmap);
        // The plots: the score line (#2b6cb0) and the dashed threshold (#d64533) are drawn, in the machine rows' area.
        int line = 0, threshold = 0;
        for (int y = 0; y < bitmap.Height; y++)
            for (int x = 0; x < bitmap.Width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                if (Near(c, 0x2b, 0x6c, 0xb0)) line++;
                if (Near(c, 0xd6, 0x45, 0x33)) threshold++;
            }
        Assert.True(line > 100, $"score lines: {line} pixels");
        Assert.True(threshold > 100, $"threshold lines and alarm marks: {threshold} pixels");
    }

    static bool Near(SKColor c, byte r, byte g, byte b) => Math.Abs(c.Red - r) < 24 && Math.Abs(c.Green - g) < 24 && Math.Abs(c.Blue - b) < 24;
}
