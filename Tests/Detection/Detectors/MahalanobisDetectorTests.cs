using NativeASD.Detection.Detectors;
using NativeASD.Detection.Features;

namespace NativeASD.Tests.Detection.Detectors;

public class MahalanobisDetectorTests
{
    static ClipFeatures Clip(string name, Random rng, int rows, float shift) =>
        new(name, Enumerable.Range(0, rows * 6).Select(_ => (float)(rng.NextDouble() + shift)).ToArray(), rows, 6, [4, 2]);

    [Fact]
    public void ScoresAnomaliesHigherAndSurvivesSaveLoadExactly()
    {
        var rng = new Random(3);
        var train = Enumerable.Range(0, 30).Select(i => Clip($"n{i}", rng, 5, 0)).ToList();
        var detector = new MahalanobisDetector();
        detector.Fit(train);
        double normal = detector.Score(Clip("n", rng, 5, 0)), anomaly = detector.Score(Clip("a", rng, 5, 1));
        Assert.True(anomaly > normal, $"{anomaly} vs {normal}");
        var loaded = MahalanobisDetector.Load(detector.Save());
        var probe = Clip("p", rng, 3, 0.5f);
        Assert.Equal(detector.Score(probe), loaded.Score(probe));
    }

    [Fact]
    public void SingleClipAndMismatchedLevelsAreClearErrors()
    {
        var rng = new Random(1);
        Assert.Contains("at least 3", Assert.Throws<ArgumentException>(() => new MahalanobisDetector().Fit([Clip("only", rng, 2, 0)])).Message);
        var detector = new MahalanobisDetector();
        detector.Fit([Clip("a", rng, 2, 0), Clip("b", rng, 2, 0), Clip("c", rng, 2, 0)]);
        var odd = new ClipFeatures("odd.wav", new float[6], 1, 6, [3, 3]);
        Assert.Contains("odd.wav", Assert.Throws<InvalidDataException>(() => detector.Score(odd)).Message);
    }

    [Fact]
    public void NaNFeaturesNameTheClip()
    {
        var bad = new ClipFeatures("bad.wav", [1, float.NaN], 1, 2, [2]);
        Assert.Contains("bad.wav", Assert.Throws<InvalidDataException>(bad.Validate).Message);
    }

    [Fact]
    public void LogMelStatisticsAreMeanThenPopulationStd()
    {
        var stats = LogMelStatistics.Compute([1, 10, 3, 10], 2, 2);
        Assert.Equal([2f, 10f, 1f, 0f], stats);
    }
}
