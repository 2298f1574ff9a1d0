using System.Globalization;
using NativeASD.Engine.Audio;
using NativeASD.Detection.Synth;

namespace NativeASD.Bench;

/// <summary>
/// <c>monitor-stream OUTDIR SECONDS ANOMALY_START [ANOMALY_SECONDS] [CLIP_SECONDS] [TRAIN_CLIPS]</c>: writes a generated
/// fan recording for <c>nasd monitor</c> runs — OUTDIR/train/*.wav (normal clips of CLIP_SECONDS to fit a model on) and
/// OUTDIR/stream.raw and a 60 s normal OUTDIR/calibration.raw (16-bit little-endian mono PCM at 16 kHz, SECONDS long, a bearing fault from ANOMALY_START for
/// ANOMALY_SECONDS) — one clip at a time, so an hour costs the memory of one clip. Same machine and seed as
/// Tests/Detection/Monitoring/MonitorTests.cs.
/// </summary>
public static class MonitorStream
{
    public static void Run(string[] args)
    {
        if (args.Length < 3) throw new ArgumentException("usage: monitor-stream OUTDIR SECONDS ANOMALY_START [ANOMALY_SECONDS=10] [CLIP_SECONDS=2] [TRAIN_CLIPS=40]");
        double At(int i, double fallback) => args.Length > i ? double.Parse(args[i], CultureInfo.InvariantCulture) : fallback;
        string dir = args[0];
        double seconds = At(1, 0), start = At(2, 0), length = At(3, 10), clipSeconds = At(4, 2);
        int trainClips = (int)At(5, 40);
        var options = new SynthOptions(Seed: 11, Seconds: clipSeconds, Severity: 3);
        string train = Directory.CreateDirectory(Path.Combine(dir, "train")).FullName;
        var generator = new MachineSoundGenerator(options);
        for (int i = 0; i < trainClips; i++)
        {
            var clip = new SynthClip("fan", 0, "train", i, AnomalyKind.None);
            WavWriter.Write(Path.Combine(train, clip.FileName), generator.Generate(clip), options.SampleRate);
        }
        var plan = new MachineSoundStreamPlan("fan", 0, seconds, start, length, AnomalyKind.Bearing, clipSeconds);
        WriteRaw(Path.Combine(dir, "stream.raw"), options, plan);
        WriteRaw(Path.Combine(dir, "calibration.raw"), options, plan with { Seconds = 60, AnomalySeconds = 0, Split = "calibration" });
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"wrote {trainClips} training clips to {train}, {seconds} s of PCM to stream.raw (bearing fault {start}–{start + length} s) and 60 s of normal PCM to calibration.raw"));
    }

    static void WriteRaw(string path, SynthOptions options, MachineSoundStreamPlan plan)
    {
        using var raw = new FileStream(path, FileMode.Create, FileAccess.Write);
        byte[] bytes = [];
        foreach (var block in MachineSoundStream.Blocks(options, plan))
        {
            if (bytes.Length < 2 * block.Length) bytes = new byte[2 * block.Length];
            RawPcmReader.Encode(block, bytes);
            raw.Write(bytes, 0, 2 * block.Length);
        }
    }
}
