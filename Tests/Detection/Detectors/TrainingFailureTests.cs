using NativeASD.Detection.Detectors;
using NativeASD.Detection.Features;

namespace NativeASD.Tests.Detection.Detectors;

/// <summary>Fits that cannot work say why in terms of the input: identical clips, a learning rate that diverges.</summary>
public sealed class TrainingFailureTests
{
    static ClipFeatures Clip(string name, params float[] v) => ClipFeatures.Single(name, v);

    [Fact]
    public void MahalanobisOnIdenticalClipsNamesThem()
    {
        var same = Enumerable.Range(0, 4).Select(i => Clip($"/data/normal_id_00_{i:D8}.wav", 1, 2, 3, 4)).ToList();
        var e = Assert.Throws<ArgumentException>(() => new MahalanobisDetector().Fit(same));
        Assert.Contains("silent or identical", e.Message);
        Assert.Contains("normal_id_00_00000000.wav", e.Message);
        Assert.Contains("normal_id_00_00000003.wav", e.Message);
    }

    [Fact]
    public void AHugeLearningRateIsReportedAsDivergence()
    {
        var random = new Random(1);
        var clips = Enumerable.Range(0, 8).Select(i =>
        {
            var v = new float[16 * 8];
            for (int j = 0; j < v.Length; j++) v[j] = (float)random.NextDouble();
            return new ClipFeatures($"c{i}.wav", v, 16, 8, [8]);
        }).ToList();
        var detector = new MetricDetector(new MetricOptions(Width: 16, Depth: 1, OutputSize: 4, Epochs: 5, BatchSize: 16, LearningRate: 1e30f), null);
        var e = Assert.Throws<TrainingDivergedException>(() => detector.Fit(clips));
        Assert.Matches(@"^training diverged at epoch \d+: loss (NaN|∞|-∞|Infinity|-Infinity); lower --lr$", e.Message);
    }
}
