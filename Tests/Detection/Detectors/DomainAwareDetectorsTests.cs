using NativeASD.Detection.Detectors;
using NativeASD.Detection.Features;
using NativeASD.Detection.Thresholds;

namespace NativeASD.Tests.Detection.Detectors;

public sealed class DomainAwareDetectorsTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-domains").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>Clip vectors: 30 source clips around 0 and 4 target clips around +4 in every feature (d = 6, two levels).</summary>
    static List<ClipFeatures> Training()
    {
        var rng = new Random(7);
        ClipFeatures Clip(string domain, int i, double centre) => new($"/d/section_00_{domain}_train_normal_{i:0000}_a.wav",
            [.. Enumerable.Range(0, 6).Select(_ => (float)(centre + rng.NextDouble() - 0.5))], 1, 6, [2, 4]);
        return [.. Enumerable.Range(0, 30).Select(i => Clip("source", i, 0)), .. Enumerable.Range(0, 4).Select(i => Clip("target", i, 4))];
    }

    static ClipFeatures Test(double centre) => ClipFeatures.Single("/d/section_00_target_test_normal_0000_a.wav", [.. Enumerable.Repeat((float)centre, 6)]) with { Levels = [2, 4] };

    [Fact]
    public void PooledSelectiveMahalanobisIsPlainMahalanobis()
    {
        var train = Training();
        var pooled = new SelectiveMahalanobisDetector(new DomainOptions(PoolDomains: true));
        var plain = new MahalanobisDetector();
        pooled.Fit(train);
        plain.Fit(train);
        // Equal up to float32 rounding: the pooled variant centres the float vectors on their mean before the (double) fit.
        foreach (double c in new[] { -1.0, 0.3, 2, 4.2 }) Assert.Equal(plain.Score(Test(c)), pooled.Score(Test(c)), 1e-6 * plain.Score(Test(c)));
    }

    [Fact]
    public void DomainsKeptApartScoreATargetClipByItsOwnDomain()
    {
        var train = Training();
        foreach (var (aware, pooled) in new (IAnomalyDetector, IAnomalyDetector)[]
        {
            (new KnnDetector(new DomainOptions(K: 5)), new KnnDetector(new DomainOptions(K: 5, PoolDomains: true))),
            (new SelectiveMahalanobisDetector(new DomainOptions()), new SelectiveMahalanobisDetector(new DomainOptions(PoolDomains: true))),
        })
        {
            aware.Fit(train);
            pooled.Fit(train);
            // A normal target clip: near its 4 training clips. Aware scoring sees it as normal as a source clip near 0 is to the source.
            Assert.True(aware.Score(Test(4)) < 0.5 * pooled.Score(Test(4)), $"{aware.Kind}: aware {aware.Score(Test(4))}, pooled {pooled.Score(Test(4))}");
            Assert.True(aware.Score(Test(4)) < aware.Score(Test(2)), aware.Kind);   // between the domains is anomalous for both
            Assert.True(aware.Score(Test(0)) < aware.Score(Test(-3)), aware.Kind);
        }
    }

    [Fact]
    public void KnnIsTheMinimumOverDomainsOfTheMeanDistanceToTheKNearest()
    {
        // One feature, no spread to standardise away: source clips at 0, 1, 2, target clips at 10, 11 (mean 4.8, std ≈ 4.66).
        var train = new[] { ("source", 0f), ("source", 1f), ("source", 2f), ("target", 10f), ("target", 11f) }
            .Select((x, i) => ClipFeatures.Single($"/d/section_00_{x.Item1}_train_normal_{i:0000}.wav", [x.Item2])).ToList();
        var knn = new KnnDetector(new DomainOptions(K: 2));
        knn.Fit(train);
        double std = Math.Sqrt(new[] { 0, 1, 2, 10, 11 }.Select(v => (v - 4.8) * (v - 4.8)).Average());
        // x = 9: source neighbours 2, 1 → (7 + 8)/2; target neighbours 10, 11 → (1 + 2)/2 = 1.5 → min 1.5 (in standard units).
        Assert.Equal(1.5 / std, knn.Score(ClipFeatures.Single("/d/x.wav", [9f])), 5);
    }

    [Fact]
    public void ModelsRoundTripThroughTheModelFile()
    {
        var train = Training();
        foreach (var detector in new IAnomalyDetector[] { new KnnDetector(new DomainOptions(K: 3)), new SelectiveMahalanobisDetector(new DomainOptions()) })
        {
            detector.Fit(train);
            string path = Path.Combine(_dir, detector.Kind + ".safetensors");
            var info = new DetectorModelInfo(detector.Kind, "logmel-stats:dcase2020:ch0", null, null, null,
                GammaThreshold.Fit([1.0, 2.0, 1.5, 1.2], 0.9), train.Count, "", "test", "now");
            DetectorFile.Save(path, detector, info);
            var (loaded, _) = DetectorFile.Load(path);
            foreach (double c in new[] { -1.0, 0.3, 2, 4.2 }) Assert.Equal(detector.Score(Test(c)), loaded.Score(Test(c)), 6);
        }
    }

    [Fact]
    public void TooFewClipsForACovarianceAreNamed()
    {
        var e = Assert.Throws<ArgumentException>(() => new SelectiveMahalanobisDetector(new DomainOptions()).Fit(Training().Take(2).ToList()));
        Assert.Contains("at least 3", e.Message);
        Assert.Contains("knn", e.Message);
    }
}
