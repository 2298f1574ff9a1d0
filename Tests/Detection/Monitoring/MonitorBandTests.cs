using NativeASD.Detection.Detectors;
using NativeASD.Detection.Features;
using NativeASD.Detection.Monitoring;
using NativeASD.Detection.Synth;

namespace NativeASD.Tests.Detection.Monitoring;

/// <summary>Anomalous monitor readings name the band that contributed most; normal ones carry none.</summary>
public class MonitorBandTests
{
    [Fact]
    public void AnomalousWindowsCarryTheirTopBandAndTheJsonLineShowsIt()
    {
        var generator = new MachineSoundGenerator(new SynthOptions(Seed: 4, Seconds: 2));
        using var extractor = new LogMelStatisticsExtractor(threads: 1);
        var detector = new MahalanobisDetector();
        detector.Fit(Enumerable.Range(0, 20).Select(i => extractor.Extract(new NativeASD.Engine.Audio.AudioClip(
            generator.Generate(new SynthClip("pump", 0, "train", i, AnomalyKind.None)), 16000, $"normal_{i}.wav"))).ToList());
        var stream = generator.Generate(new SynthClip("pump", 0, "test", 0, AnomalyKind.Clogging));

        List<MonitorReading> Run(double threshold)
        {
            var readings = new List<MonitorReading>();
            new SlidingWindowMonitor(detector, extractor, new MonitorSettings(16000, 8000, threshold, 1)).Push(stream, readings.Add);
            return readings;
        }
        var flagged = Run(threshold: 0);
        Assert.Equal(3, flagged.Count);
        Assert.All(flagged, r => Assert.NotNull(r.TopBand));
        Assert.All(Run(threshold: 1e12), r => Assert.Null(r.TopBand));

        var band = flagged[0].TopBand!;
        var window = new NativeASD.Engine.Audio.AudioClip(stream[..16000], 16000, "w");
        Assert.Equal(NativeASD.Detection.Explanations.ClipExplainer.TopBand(detector, extractor, window), band);
        string line = MonitorReadingJson.Line(flagged[0]);
        using var json = System.Text.Json.JsonDocument.Parse(line);
        Assert.Equal(band.Band, json.RootElement.GetProperty("band").GetProperty("index").GetInt32());
        Assert.Equal(Math.Round(band.LowHz, 1), json.RootElement.GetProperty("band").GetProperty("low_hz").GetDouble());
        Assert.DoesNotContain("band", MonitorReadingJson.Line(flagged[0] with { TopBand = null }));
    }
}
