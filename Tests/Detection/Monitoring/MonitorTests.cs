using NativeASD.Engine.Audio;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Features;
using NativeASD.Detection.Monitoring;
using NativeASD.Detection.Synth;
using Xunit.Abstractions;

namespace NativeASD.Tests.Detection.Monitoring;

/// <summary>
/// A mahalanobis model fitted on 2 s normal fan clips; its threshold calibrated on a separate 60 s normal stream (the
/// largest window score: in-sample training scores of a 256-d Gaussian are optimistic); and a 150 s generated stream of
/// the same machine with a bearing fault inserted at 100 s for 10 s. Shared by the tests below (made once).
/// </summary>
public sealed class MonitorFixture : IDisposable
{
    public const int Rate = 16000, TrainClips = 100;
    public const double AnomalyStart = 100, AnomalySeconds = 10, StreamSeconds = 150;
    public static readonly SynthOptions Options = new(Seed: 11, Seconds: 2, Severity: 3);
    public static readonly MachineSoundStreamPlan Plan = new("fan", 0, StreamSeconds, AnomalyStart, AnomalySeconds, AnomalyKind.Bearing, ClipSeconds: 2);

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("nasd-monitor").FullName;
    public string Model => Path.Combine(Directory, "fan.safetensors");
    public float[] Stream { get; }
    public double Threshold { get; }

    public MonitorFixture()
    {
        string train = System.IO.Directory.CreateDirectory(Path.Combine(Directory, "train")).FullName;
        var generator = new MachineSoundGenerator(Options);
        for (int i = 0; i < TrainClips; i++)
        {
            var clip = new SynthClip("fan", 0, "train", i, AnomalyKind.None);
            WavWriter.Write(Path.Combine(train, clip.FileName), generator.Generate(clip), Rate);
        }
        DetectorRunner.Fit(DetectorRunner.CollectWavs([train]), Model, new FitSettings("mahalanobis"));
        Stream = Quantised(MachineSoundStream.Blocks(Options, Plan));
        var calibration = Quantised(MachineSoundStream.Blocks(Options, Plan with { Seconds = 60, AnomalySeconds = 0, Split = "calibration" }));
        Threshold = MonitorTests.Monitor(Model, calibration, 2, 1, 16000, threshold: 0).Max(r => r.Score);
    }

    /// <summary>16-bit values, so a WAV file and raw PCM of the stream hold exactly these samples.</summary>
    static float[] Quantised(IEnumerable<float[]> blocks) =>
        blocks.SelectMany(b => b).Select(x => (float)(Math.Clamp(Math.Round(x * 32768.0), -32768, 32767) / 32768)).ToArray();

    public void Dispose() => System.IO.Directory.Delete(Directory, true);
}

public sealed class MonitorTests(MonitorFixture fixture, ITestOutputHelper output) : IClassFixture<MonitorFixture>
{
    internal static List<MonitorReading> Monitor(string model, float[] stream, double windowSeconds, double hopSeconds, int blockSize, double? threshold = null, int consecutive = 3)
    {
        var (detector, info) = DetectorFile.Load(model);
        using var extractor = FeatureExtractors.FromConfiguration(info.Features, threads: 1);
        int rate = extractor.SampleRate;
        var monitor = new SlidingWindowMonitor(detector, extractor,
            new MonitorSettings((int)(windowSeconds * rate), (int)(hopSeconds * rate), threshold ?? info.Threshold.Threshold, consecutive));
        var readings = new List<MonitorReading>();
        for (int i = 0; i < stream.Length; i += blockSize)
            monitor.Push(stream.AsSpan(i, Math.Min(blockSize, stream.Length - i)), readings.Add);
        return readings;
    }

    [Fact]
    public void AnomalyIsFlaggedWithinTwoHopsAndNothingBefore()
    {
        var readings = Monitor(fixture.Model, fixture.Stream, windowSeconds: 2, hopSeconds: 1, blockSize: 4000, fixture.Threshold);
        var normal = readings.Where(r => r.Time <= MonitorFixture.AnomalyStart).Select(r => r.Score).Order().ToArray();
        output.WriteLine($"threshold {fixture.Threshold:G5} (model file: {DetectorFile.Read(fixture.Model).Info.Threshold.Threshold:G5}); normal windows: median {normal[normal.Length / 2]:G5}, max {normal[^1]:G5}");
        foreach (var r in readings.Where(r => r.Time > MonitorFixture.AnomalyStart - 5 && r.Time < MonitorFixture.AnomalyStart + 15))
            output.WriteLine($"t={r.Time} score={r.Score:G5} decision={(r.Anomalous ? 1 : 0)} alarm={r.Alarm}");
        // One reading per hop from the first full window: 2, 3, …, 150 s.
        Assert.Equal(149, readings.Count);
        Assert.Equal(2.0, readings[0].Time);
        Assert.Equal(150.0, readings[^1].Time);
        Assert.DoesNotContain(readings, r => r.Alarm && r.Time <= MonitorFixture.AnomalyStart);
        var first = readings.First(r => r.Anomalous && r.Time > MonitorFixture.AnomalyStart);
        Assert.True(first.Time <= MonitorFixture.AnomalyStart + 2, $"first anomalous window ends at {first.Time} s, more than two hops after the insertion at {MonitorFixture.AnomalyStart} s");
        var alarm = readings.First(r => r.Alarm);
        Assert.True(alarm.Time <= MonitorFixture.AnomalyStart + 4, $"alarm at {alarm.Time} s");
    }

    [Fact]
    public void ReadingsDoNotDependOnHowTheStreamIsSplit()
    {
        var stream = fixture.Stream.AsSpan(0, 20 * MonitorFixture.Rate).ToArray();
        var a = Monitor(fixture.Model, stream, 3, 0.5, blockSize: 16000);
        var b = Monitor(fixture.Model, stream, 3, 0.5, blockSize: 777);
        Assert.Equal(35, a.Count);   // windows ending at 3, 3.5, …, 20 s
        Assert.Equal(a, b);
    }

    [Fact]
    public void ExtractFromSamplesEqualsExtractFromFile()
    {
        string wav = Path.Combine(fixture.Directory, "train", "normal_id_00_00000003.wav");
        using var extractor = new StackedFramesExtractor("dcase2020", 5, threads: 1);
        var fromFile = extractor.Extract(wav);
        var fromClip = extractor.Extract(AudioFile.Read(wav, default, extractor.SampleRate));
        Assert.Equal(fromFile.Values, fromClip.Values);
        Assert.Equal(wav, fromClip.Source);
    }

    string Threshold => fixture.Threshold.ToString("R", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void StandardInputRawPcmGivesTheSameLinesAsTheWavFile()
    {
        var window = fixture.Stream.AsSpan(95 * MonitorFixture.Rate, 12 * MonitorFixture.Rate);
        var raw = new byte[2 * window.Length];
        RawPcmReader.Encode(window, raw);
        string wav = Path.Combine(fixture.Directory, "piece.wav");
        WavWriter.Write(wav, window, MonitorFixture.Rate);
        var fromFile = NasdProcess.Run("monitor", "--model", fixture.Model, "--input", wav, "--window", "2s", "--hop", "1s", "--threads", "1", "--threshold", Threshold);
        var fromStdin = NasdProcess.RunWithInput(raw, "monitor", "--model", fixture.Model, "--input", "-", "--rate", "16000", "--window", "2s", "--hop", "1s", "--threads", "1", "--threshold", Threshold);
        Assert.True(fromFile.ExitCode == 0, fromFile.Stderr);
        Assert.True(fromStdin.ExitCode == 0, fromStdin.Stderr);
        var lines = fromFile.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(11, lines.Length);
        Assert.Matches(@"^\{""time"":2,""score"":[0-9.E+-]+,""decision"":[01],""alarm"":(true|false),""consecutive"":\d+\}$", lines[0]);
        Assert.Equal(fromFile.Stdout, fromStdin.Stdout);

        // The same at 32 kHz: both paths resample to the model's 16 kHz through the streaming resampler.
        var upsampled = Resampler.Resample(window, 16000, 32000).Select(x => (float)(Math.Clamp(Math.Round(x * 32768.0), -32768, 32767) / 32768)).ToArray();
        var raw32 = new byte[2 * upsampled.Length];
        RawPcmReader.Encode(upsampled, raw32);
        string wav32 = Path.Combine(fixture.Directory, "piece32k.wav");
        WavWriter.Write(wav32, upsampled, 32000);
        var file32 = NasdProcess.Run("monitor", "--model", fixture.Model, "--input", wav32, "--window", "2s", "--hop", "1s", "--threads", "1", "--threshold", Threshold);
        var stdin32 = NasdProcess.RunWithInput(raw32, "monitor", "--model", fixture.Model, "--rate", "32000", "--window", "2s", "--hop", "1s", "--threads", "1", "--threshold", Threshold);
        Assert.True(file32.ExitCode == 0, file32.Stderr);
        Assert.Equal(11, file32.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(file32.Stdout, stdin32.Stdout);
    }

    [Fact]
    public void BadArgumentsAndShortInputAreReportedWithExitCodes()
    {
        var r = NasdProcess.Run("monitor", "--model", fixture.Model, "--window", "2s", "--hop", "5s");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("--hop", r.Stderr);
        r = NasdProcess.Run("monitor", "--model", fixture.Model, "--window", "ten");
        Assert.Equal(1, r.ExitCode);
        r = NasdProcess.Run("monitor", "--model", Path.Combine(fixture.Directory, "missing.safetensors"), "--input", "x.wav");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("missing.safetensors", r.Stderr);
        r = NasdProcess.RunWithInput(new byte[3200], "monitor", "--model", fixture.Model, "--window", "2s");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("shorter than one window", r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
    }
}
