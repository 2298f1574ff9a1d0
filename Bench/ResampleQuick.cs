using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using NativeASD.Engine.Audio;

namespace NativeASD.Bench;

/// <summary>
/// <c>resample-quick [DIR|FILE]</c>: decoding one real clip (the first WAV of DIR in ordinal order; default
/// ../shared/data/dcase2020-lite), decoding + resampling it 16k→32k and 16k→8k, and resampling the same clip at 48 kHz
/// to 16 kHz. Best of 5 in thread CPU time (CLOCK_THREAD_CPUTIME_ID), which a busy shared machine inflates far less
/// than wall time.
/// </summary>
static class ResampleQuick
{
    public static void Run(string[] args)
    {
        string root = args.Length > 0 ? args[0] : Path.Combine("..", "shared", "data", "dcase2020-lite");
        string path = File.Exists(root) ? root : Directory.GetFiles(root, "*.wav", SearchOption.AllDirectories).Order(StringComparer.Ordinal).First();
        double decode = Best(() => AudioFile.Read(path).Samples.Length);
        double up = Best(() => AudioFile.Read(path, default, 32000).Samples.Length);
        double down = Best(() => AudioFile.Read(path, default, 8000).Samples.Length);
        var clip = AudioFile.Read(path);
        var x48 = Resampler.Resample(clip.Samples, clip.SampleRate, 48000);
        double from48 = Best(() => Resampler.Resample(x48, 48000, 16000).Length);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{Path.GetFileName(path)} ({clip.Seconds:F1} s), thread CPU ms: decode {decode:F2}, decode+16k→32k {up:F2}, decode+16k→8k {down:F2}, resample 48k→16k {from48:F2}"));
    }

    /// <summary>Best of 5 timed calls after one warm-up, in thread CPU milliseconds.</summary>
    static double Best(Func<int> action)
    {
        action();
        double best = double.MaxValue;
        for (int i = 0; i < 5; i++)
        {
            double start = ThreadCpuMilliseconds();
            action();
            best = Math.Min(best, ThreadCpuMilliseconds() - start);
        }
        return best;
    }

    [StructLayout(LayoutKind.Sequential)]
    struct TimeSpec { public long Seconds, Nanoseconds; }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    static extern int ClockGetTime(int clock, out TimeSpec time);

    static double ThreadCpuMilliseconds()
    {
        if (!OperatingSystem.IsLinux()) return Stopwatch.GetTimestamp() * 1000.0 / Stopwatch.Frequency;
        ClockGetTime(3 /* CLOCK_THREAD_CPUTIME_ID */, out var t);
        return t.Seconds * 1e3 + t.Nanoseconds * 1e-6;
    }
}
