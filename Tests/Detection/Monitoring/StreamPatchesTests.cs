using NativeASD.Engine.Audio;
using NativeASD.Engine.Frontend;
using NativeASD.Detection.Backbones;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Features;
using NativeASD.Detection.Monitoring;
using NativeASD.Detection.Synth;

namespace NativeASD.Tests.Detection.Monitoring;

/// <summary>
/// A stream through the shipped YAMNet (self-contained 0.96 s patches): the monitor computes each patch once and a
/// window takes the rows of its newest patches, as many as a clip of its length has. Checked against extracting
/// patches and windows as clips.
/// </summary>
public sealed class StreamPatchesTests
{
    const int Rate = 16000;
    static readonly PatchSpan Yamnet = FrontendPreset.Yamnet.SelfContainedPatches!.Value;

    /// <summary>Counts the patch rows the monitor asks the backbone for.</summary>
    sealed class CountingExtractor(FeatureExtractor inner) : FeatureExtractor
    {
        public int Rows { get; private set; }
        public override string Configuration => inner.Configuration;
        public override int SampleRate => inner.SampleRate;
        public override FrontendPreset Preset => inner.Preset;
        public override PatchSpan? SelfContainedPatches => inner.SelfContainedPatches;
        public override ClipFeatures Extract(string path) => inner.Extract(path);
        public override float[,] Spectrogram(AudioClip clip) => inner.Spectrogram(clip);
        public override ClipFeatures FromSpectrogram(float[,] spectrogram, AudioClip clip)
        {
            var features = inner.FromSpectrogram(spectrogram, clip);
            Rows += features.Rows;
            return features;
        }
    }

    /// <summary>Scores a window by echoing its features, so the test sees what the detector was given.</summary>
    sealed class RecordingDetector : IAnomalyDetector
    {
        public List<ClipFeatures> Seen { get; } = [];
        public string Kind => "recording";
        public string Fit(IReadOnlyList<ClipFeatures> normal, IProgress<DetectorProgress>? progress = null) => throw new NotSupportedException();
        public double Score(ClipFeatures clip) { Seen.Add(clip); return 0; }
        public DetectorState Save() => throw new NotSupportedException();
    }

    static BackboneExtractor NewYamnet() =>
        new(ShippedBackbone.Locate(ShippedYamNet.File), ShippedYamNet.File.DefaultTaps, int8Activations: false);

    static float[] Stream(double seconds) =>
        new MachineSoundGenerator(new SynthOptions(Seed: 5, Seconds: seconds)).Generate(new SynthClip("pump", 0, "test", 0, AnomalyKind.None));

    static (List<ClipFeatures> Windows, int RowsComputed) Run(float[] stream, int window, int hop, int block)
    {
        using var yamnet = NewYamnet();
        var counting = new CountingExtractor(yamnet);
        var detector = new RecordingDetector();
        var monitor = new SlidingWindowMonitor(detector, counting, new MonitorSettings(window, hop, Threshold: 1));
        for (int i = 0; i < stream.Length; i += block)
            monitor.Push(stream.AsSpan(i, Math.Min(block, stream.Length - i)), _ => { });
        return (detector.Seen, counting.Rows);
    }

    [Fact]
    public void TheYamnetPresetsPatchesAreNinetySixFramesOfTenMillisecondsAndTheOthersDependOnTheClip()
    {
        Assert.Equal(new PatchSpan(95 * 160 + 400, 48 * 160), Yamnet);
        Assert.Null(FrontendPreset.StAed.SelfContainedPatches);       // dB relative to the clip's maximum
        Assert.Null(FrontendPreset.Panns16k.SelfContainedPatches);    // no patches
        using var yamnet = NewYamnet();
        Assert.Equal(Yamnet, yamnet.SelfContainedPatches);
    }

    [Fact]
    public void WithAHopOfWholePatchHopsEveryWindowHasTheRowsOfExtractingItAsAClip()
    {
        var stream = Stream(6);
        int window = 3 * Rate, hop = 2 * Yamnet.HopSamples;
        var (windows, rows) = Run(stream, window, hop, block: 3001);
        using var yamnet = NewYamnet();
        Assert.Equal((stream.Length - window) / hop + 1, windows.Count);
        for (int k = 0; k < windows.Count; k++)
        {
            var whole = yamnet.Extract(new AudioClip(stream.AsSpan(k * hop, window).ToArray(), Rate, "window"));
            Assert.Equal(whole.Rows, windows[k].Rows);
            Assert.Equal(whole.Levels, windows[k].Levels);
            for (int i = 0; i < whole.Values.Length; i++)
                Assert.True(Math.Abs(whole.Values[i] - windows[k].Values[i]) <= 1e-5f * (1 + Math.Abs(whole.Values[i])),
                    $"window {k}, value {i}: {windows[k].Values[i]} against {whole.Values[i]} extracted whole");
        }
        // Each patch of the stream once, not each window's patches.
        long patchesInStream = (stream.Length - Yamnet.Samples) / Yamnet.HopSamples + 1;
        Assert.Equal(patchesInStream, rows);
    }

    [Fact]
    public void WithASecondHopAWindowHasTheClipsNumberOfTheNewestPatchesOnTheStreamsGrid()
    {
        var stream = Stream(6);
        int window = 3 * Rate, hop = Rate;
        var (windows, _) = Run(stream, window, hop, block: 16000);
        using var yamnet = NewYamnet();
        Assert.Equal(4, windows.Count);   // ending at 3, 4, 5, 6 s
        int count = yamnet.Extract(new AudioClip(new float[window], Rate, "clip")).Rows;
        Assert.Equal(5, count);
        for (int k = 0; k < windows.Count; k++)
        {
            long end = (long)k * hop + window, last = (end - Yamnet.Samples) / Yamnet.HopSamples, first = last - count + 1;
            Assert.Equal(count, windows[k].Rows);
            Assert.True(first * Yamnet.HopSamples > end - window - Yamnet.HopSamples, $"window {k}: patch {first} starts more than a patch hop before the window");
            for (long j = first; j <= last; j++)
            {
                var patch = yamnet.Extract(new AudioClip(stream.AsSpan((int)(j * Yamnet.HopSamples), Yamnet.Samples).ToArray(), Rate, "patch"));
                var row = windows[k].Row((int)(j - first));
                for (int i = 0; i < row.Length; i++)
                    Assert.True(Math.Abs(patch.Values[i] - row[i]) <= 1e-5f * (1 + Math.Abs(patch.Values[i])),
                        $"window {k}, patch {j}, value {i}: {row[i]} against {patch.Values[i]} extracted alone");
            }
        }
    }

    [Fact]
    public void ReadingsDoNotDependOnHowTheStreamIsSplit()
    {
        var stream = Stream(5);
        var a = Run(stream, 3 * Rate, Rate / 2, block: 16000).Windows;
        var b = Run(stream, 3 * Rate, Rate / 2, block: 777).Windows;
        Assert.Equal(5, a.Count);
        for (int k = 0; k < a.Count; k++) Assert.Equal(a[k].Values, b[k].Values);
    }

    [Fact]
    public void AWindowShorterThanOnePatchIsRefused()
    {
        using var yamnet = NewYamnet();
        var e = Assert.Throws<ArgumentException>(() => new SlidingWindowMonitor(new RecordingDetector(), yamnet, new MonitorSettings(Rate / 2, Rate / 4, 1)));
        Assert.Contains("shorter than one 15600-sample patch of yamnet", e.Message);
    }
}
