using System.Diagnostics;
using System.Globalization;
using NativeASD.Engine.Frontend;

namespace NativeASD.Bench;

/// <summary>
/// Stopwatch timing of a frontend preset on synthetic 16-bit-like noise: one clip on one thread, and a batch of
/// clips on the given threads. Prints the median ms per clip (batch: per batch and per clip) and one JSON line.
/// </summary>
internal static class FrontendQuick
{
    public static void Run(string[] args)
    {
        string preset = args.Length > 0 ? args[0] : "dcase2020";
        double seconds = args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 10;
        int batch = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 100;
        int threads = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : Environment.ProcessorCount;
        var precision = args.Length > 4 && args[4] == "double" ? FrontendPrecision.Double : FrontendPrecision.Single;
        var p = FrontendPreset.Get(preset);
        var clips = new float[Math.Max(batch, 1)][];
        var rnd = new Random(1);
        for (int c = 0; c < clips.Length; c++)
        {
            clips[c] = new float[(int)(seconds * p.SampleRate)];
            for (int i = 0; i < clips[c].Length; i++) clips[c][i] = (float)(rnd.NextDouble() * 0.2 - 0.1);
        }
        using var one = new AudioFrontend(p, threads: 1, precision);
        double single = Median(() => one.Compute(clips[0], p.SampleRate), 0.2);
        using var many = new AudioFrontend(p, threads, precision);
        double batched = Median(() => many.ComputeBatch(clips, p.SampleRate), 0.5);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{preset} {seconds} s clip ({precision}): {single * 1e3:F3} ms on 1 thread; batch of {clips.Length}: {batched * 1e3:F1} ms on {threads} threads ({batched / clips.Length * 1e3:F3} ms per clip)"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"preset\":\"{preset}\",\"seconds\":{seconds},\"precision\":\"{precision}\",\"single_ms\":{single * 1e3:F4},\"batch\":{clips.Length},\"threads\":{threads},\"batch_ms\":{batched * 1e3:F3},\"batch_per_clip_ms\":{batched / clips.Length * 1e3:F4}}}"));
    }

    /// <summary>Median seconds per call: warm-up, then 15 timed repetitions of ~<paramref name="repSeconds"/>/15 each.</summary>
    static double Median(Action call, double repSeconds)
    {
        var sw = Stopwatch.StartNew();
        int calls = 0;
        while (sw.Elapsed.TotalSeconds < 0.3 || calls < 3) { call(); calls++; }
        double per = sw.Elapsed.TotalSeconds / calls;
        int inner = Math.Max(1, (int)(repSeconds / per));
        var times = new List<double>();
        for (int r = 0; r < 15; r++)
        {
            sw.Restart();
            for (int i = 0; i < inner; i++) call();
            times.Add(sw.Elapsed.TotalSeconds / inner);
        }
        times.Sort();
        return times[times.Count / 2];
    }
}
