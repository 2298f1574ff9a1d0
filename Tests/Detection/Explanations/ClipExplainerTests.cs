using NativeASD.Detection.Backbones;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Explanations;
using NativeASD.Detection.Features;
using NativeASD.Detection.Synth;
using NativeASD.Engine.Audio;

namespace NativeASD.Tests.Detection.Explanations;

/// <summary>The explanation must point at an injected fault: its second, and a band inside its frequency range.</summary>
public class ClipExplainerTests
{
    const int Rate = 16000;
    const double Seconds = 5, FaultStart = 2, FaultLowHz = 2000, FaultHighHz = 3000;

    /// <summary>Normal fan clips of one machine, and a further normal clip with a 1 s noise burst in 2–3 kHz from 2 s to 3 s.</summary>
    static (List<AudioClip> Train, AudioClip Faulty) Clips()
    {
        var generator = new MachineSoundGenerator(new SynthOptions(Seed: 11, Seconds: Seconds));
        var train = Enumerable.Range(0, 12).Select(i => new AudioClip(generator.Generate(new SynthClip("fan", 0, "train", i, AnomalyKind.None)), Rate, $"train_{i}.wav")).ToList();
        var samples = generator.Generate(new SynthClip("fan", 0, "test", 0, AnomalyKind.None));
        double rms = Math.Sqrt(samples.Average(v => (double)v * v));
        // 200 sinusoids spread over 2.1–2.9 kHz with random phases: noise confined to the band, 10 ms ramps at both ends.
        var rng = new Random(5);
        var freqs = Enumerable.Range(0, 200).Select(_ => 2100 + 800 * rng.NextDouble()).ToArray();
        var phases = freqs.Select(_ => 2 * Math.PI * rng.NextDouble()).ToArray();
        int start = (int)(FaultStart * Rate), length = Rate, ramp = Rate / 100;
        var burst = new double[length];
        for (int i = 0; i < length; i++)
            for (int k = 0; k < freqs.Length; k++) burst[i] += Math.Sin(2 * Math.PI * freqs[k] * i / Rate + phases[k]);
        double burstRms = Math.Sqrt(burst.Average(v => v * v));
        for (int i = 0; i < length; i++)
        {
            double envelope = Math.Min(1, Math.Min(i, length - 1 - i) / (double)ramp);
            samples[start + i] += (float)(0.7 * rms * envelope * burst[i] / burstRms);
        }
        return (train, new AudioClip(samples, Rate, "faulty.wav"));
    }

    static void AssertPointsAtTheFault(string detectorName) =>
        AssertPointsAtTheFault(detectorName, new BackboneExtractor(ShippedBackbone.Locate(), ShippedBackbone.DefaultTaps), band: true);

    static void AssertPointsAtTheFault(string detectorName, BackboneExtractor backbone, bool band)
    {
        var (train, faulty) = Clips();
        var settings = new FitSettings(detectorName, Metric: new MetricOptions(Epochs: 10));
        using var extractor = backbone;
        var detector = DetectorCatalog.Create(settings, null);
        try
        {
            detector.Fit(train.Select(extractor.Extract).ToList());
            var e = ClipExplainer.Explain(detector, extractor, faulty);
            Assert.Equal(5, e.Segments.Count);
            Assert.Equal(64, e.Bands.Count);
            // The segment that holds most of the 1 s fault: 2–3 s for the ResNet's 1 s segments, YAMNet's patch-aligned 1.99–2.98 s.
            static double Overlap(SegmentContribution s) => Math.Min(s.EndSeconds, FaultStart + 1) - Math.Max(s.StartSeconds, FaultStart);
            Assert.True(e.TopSegment == e.Segments.MaxBy(Overlap) && Overlap(e.TopSegment) >= 0.95,
                $"{detectorName}: top segment {e.TopSegment.StartSeconds}–{e.TopSegment.EndSeconds} s; contributions {string.Join(", ", e.Segments.Select(s => s.Contribution.ToString("G3")))}");
            if (band) Assert.True(e.TopBand.CentreHz >= FaultLowHz && e.TopBand.CentreHz <= FaultHighHz,
                $"{detectorName}: top band {e.TopBand.Band} at {e.TopBand.CentreHz:F0} Hz ({e.TopBand.LowHz:F0}–{e.TopBand.HighHz:F0})");
        }
        finally { (detector as IDisposable)?.Dispose(); }
    }

    [Fact]
    // Only the second: on YAMNet's layer14 the top band is band 1 (185 Hz), not the fault's 2–3 kHz — a known gap
    // (docs/dcase-layouts.md, "Explanations"), not yet fixed.
    public void TheDefaultDetectorsExplanationPointsAtTheFaultsSecond() => AssertPointsAtTheFault(DetectorCatalog.DefaultName,
        new BackboneExtractor(ShippedBackbone.Locate(ShippedYamNet.File), ShippedYamNet.File.DefaultTaps, int8Activations: false), band: false);

    [Fact]
    public void TheMetricDetectorsExplanationPointsAtTheFaultsSecondAndBand() => AssertPointsAtTheFault("metric");

    [Fact]
    public void TheLayoutDefaultsExplanationPointsAtTheFaultsSecondAndBand() => AssertPointsAtTheFault(DetectorCatalog.LayoutDefaultName);

    [Fact]
    public void BandEdgesFollowTheMelScaleAndContributionsAreScoreDropsUnderTheEdit()
    {
        var preset = NativeASD.Engine.Frontend.FrontendPreset.Get("dcase2020");
        var edges = ClipExplainer.BandEdges(preset, preset.MelBins);
        Assert.Equal(preset.FMin, edges[0].Low, 6);
        Assert.Equal(preset.EffectiveFMax, edges[^1].High, 6);
        for (int b = 1; b < edges.Length; b++)
        {
            Assert.Equal(edges[b - 1].Centre, edges[b].Low, 9);     // neighbouring triangles overlap by half
            Assert.True(edges[b].Centre > edges[b - 1].Centre);
        }
        // On log-mel statistics: each contribution is exactly the score minus the score of the edited spectrogram.
        var (train, faulty) = Clips();
        using var extractor = new LogMelStatisticsExtractor();
        var detector = new MahalanobisDetector();
        detector.Fit(train.Select(extractor.Extract).ToList());
        var e = ClipExplainer.Explain(detector, extractor, faulty);
        Assert.Equal(detector.Score(extractor.Extract(faulty)), e.Score, 9);
        // The top band's edit: in the top segment's frames (2–3 s), that band takes its values from the next segment (3–4 s).
        var s = extractor.Spectrogram(faulty);
        int frames = s.GetLength(0), band = e.TopBand.Band, top = e.TopSegment.Segment;
        int f0 = top * frames / 5, f1 = (top + 1) * frames / 5;
        var edited = (float[,])s.Clone();
        for (int t = f0; t < f1; t++) edited[t, band] = s[t - f0 + f1, band];
        Assert.Equal(e.Score - detector.Score(extractor.FromSpectrogram(edited, faulty)), e.TopBand.Contribution, 9);
        Assert.Equal(2, top);
        Assert.Equal("kind,index,start,end,unit,contribution", ExplanationCsv.Format(e).Split('\n')[0]);
        Assert.Equal(1 + 1 + e.Segments.Count + e.Bands.Count, ExplanationCsv.Format(e).TrimEnd('\n').Split('\n').Length);
    }
    /// <summary>The extractor as it is, but without <see cref="FeatureExtractor.SelfContainedPatches"/>: every edit is scored whole.</summary>
    sealed class WholeClips(FeatureExtractor inner) : FeatureExtractor
    {
        public override string Configuration => inner.Configuration;
        public override int SampleRate => inner.SampleRate;
        public override NativeASD.Engine.Frontend.FrontendPreset Preset => inner.Preset;
        public override ClipFeatures Extract(string path) => inner.Extract(path);
        public override float[,] Spectrogram(AudioClip clip) => inner.Spectrogram(clip);
        public override ClipFeatures FromSpectrogram(float[,] spectrogram, AudioClip clip) => inner.FromSpectrogram(spectrogram, clip);
    }

    [Fact]
    public void OnYamnetPatchesScoringOnlyThePatchesAnEditTouchesGivesTheContributionsOfScoringTheWholeClip()
    {
        var (train, faulty) = Clips();
        using var yamnet = new BackboneExtractor(ShippedBackbone.Locate(ShippedYamNet.File), ShippedYamNet.File.DefaultTaps, int8Activations: false);
        var detector = new MahalanobisDetector();
        detector.Fit(train.Select(yamnet.Extract).ToList());
        var patchwise = ClipExplainer.Explain(detector, yamnet, faulty);
        var whole = ClipExplainer.Explain(detector, new WholeClips(yamnet), faulty);
        Assert.Equal(whole.Score, patchwise.Score);
        double tolerance = 1e-4 * whole.Score;
        foreach (var (a, b) in whole.Segments.Zip(patchwise.Segments)) Assert.Equal(a.Contribution, b.Contribution, tolerance);
        foreach (var (a, b) in whole.Bands.Zip(patchwise.Bands)) Assert.Equal(a.Contribution, b.Contribution, tolerance);
    }
}
