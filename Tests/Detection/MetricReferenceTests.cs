using System.Text.Json;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Evaluation;
using NativeASD.Detection.Thresholds;

namespace NativeASD.Tests.Detection;

/// <summary>AUC/pAUC, Ledoit–Wolf Mahalanobis and the gamma threshold against sklearn/SciPy (Tests/Reference/make_metric_references.py).</summary>
public class MetricReferenceTests
{
    static readonly JsonElement Root = JsonDocument.Parse(File.ReadAllText(Fixtures.PathOf("metrics", "metrics.json"))).RootElement;

    static double[] Doubles(JsonElement e) => e.EnumerateArray().Select(v => v.GetDouble()).ToArray();

    public static TheoryData<int> RocCases => new(Enumerable.Range(0, Root.GetProperty("roc").GetArrayLength()));
    public static TheoryData<int> LedoitCases => new(Enumerable.Range(0, Root.GetProperty("ledoit").GetArrayLength()));
    public static TheoryData<int> GammaCases => new(Enumerable.Range(0, Root.GetProperty("gamma").GetArrayLength()));

    [Theory, MemberData(nameof(RocCases))]
    public void AucAndPartialAucEqualSklearnWithTies(int index)
    {
        var c = Root.GetProperty("roc")[index];
        var scores = Doubles(c.GetProperty("scores"));
        var labels = c.GetProperty("labels").EnumerateArray().Select(v => v.GetInt32() == 1).ToArray();
        Assert.Equal(c.GetProperty("auc").GetDouble(), RocMetrics.Auc(scores, labels), 1e-9);
        foreach (var p in c.GetProperty("pauc").EnumerateObject())
            Assert.Equal(p.Value.GetDouble(), RocMetrics.PartialAuc(scores, labels, double.Parse(p.Name, System.Globalization.CultureInfo.InvariantCulture)), 1e-9);
    }

    [Theory, MemberData(nameof(LedoitCases))]
    public void LedoitWolfMahalanobisEqualsSklearn(int index)
    {
        var c = Root.GetProperty("ledoit")[index];
        int rows = c.GetProperty("rows").GetInt32(), dim = c.GetProperty("dim").GetInt32();
        var x = Doubles(c.GetProperty("x")).Select(v => (float)v).ToArray();
        var test = Doubles(c.GetProperty("test")).Select(v => (float)v).ToArray();
        var model = LedoitWolfGaussian.Fit(x, rows, dim);
        Assert.Equal(c.GetProperty("shrinkage").GetDouble(), model.Shrinkage, 1e-9);
        var mean = Doubles(c.GetProperty("mean"));
        for (int j = 0; j < dim; j++) Assert.Equal(mean[j], model.Mean[j], 1e-9);
        var expected = Doubles(c.GetProperty("distances"));
        for (int t = 0; t < expected.Length; t++)
        {
            double got = model.Distance(test.AsSpan(t * dim, dim));
            Assert.True(Math.Abs(got - expected[t]) <= 1e-4 * expected[t], $"test row {t}: {got} vs sklearn {expected[t]}");
        }
    }

    [Theory, MemberData(nameof(GammaCases))]
    public void GammaFitAndQuantileEqualScipy(int index)
    {
        var c = Root.GetProperty("gamma")[index];
        var scores = Doubles(c.GetProperty("scores"));
        foreach (var p in c.GetProperty("ppf").EnumerateObject())
        {
            double percentile = double.Parse(p.Name, System.Globalization.CultureInfo.InvariantCulture);
            var fit = GammaThreshold.Fit(scores, percentile);
            Assert.Equal("gamma-mle", fit.Method);
            // SciPy solves the shape equation with a root finder to ~1e-12; quantiles then agree to ~1e-9 relative.
            Assert.True(Math.Abs(fit.Shape - c.GetProperty("shape").GetDouble()) <= 1e-7 * fit.Shape, $"shape {fit.Shape} vs {c.GetProperty("shape").GetDouble()}");
            Assert.True(Math.Abs(fit.Scale - c.GetProperty("scale").GetDouble()) <= 1e-7 * fit.Scale, $"scale {fit.Scale}");
            Assert.True(Math.Abs(fit.Threshold - p.Value.GetDouble()) <= 1e-7 * fit.Threshold, $"ppf({percentile}) {fit.Threshold} vs {p.Value.GetDouble()}");
        }
    }
}

public class MetricEdgeCaseTests
{
    [Fact]
    public void PerfectAndInvertedRankings()
    {
        double[] s = [0.1, 0.2, 0.8, 0.9];
        bool[] y = [false, false, true, true];
        Assert.Equal(1.0, RocMetrics.Auc(s, y));
        Assert.Equal(1.0, RocMetrics.PartialAuc(s, y));
        Assert.Equal(0.0, RocMetrics.Auc(s, y.Select(v => !v).ToArray()));
    }

    [Fact]
    public void AllTiedScoresGiveChance()
    {
        Assert.Equal(0.5, RocMetrics.Auc([1, 1, 1, 1], [false, true, false, true]));
        Assert.Equal(0.5, RocMetrics.PartialAuc([1, 1, 1, 1], [false, true, false, true]), 12);
    }

    [Fact]
    public void OneClassOrNaNIsRejectedClearly()
    {
        var e = Assert.Throws<ArgumentException>(() => RocMetrics.Auc([0.1, 0.2], [false, false]));
        Assert.Contains("both normal and anomalous", e.Message);
        Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => RocMetrics.Auc([double.NaN, 0.2], [false, true])).Message);
    }

    [Fact]
    public void SingleTrainingClipHasNoCovariance()
    {
        var e = Assert.Throws<ArgumentException>(() => LedoitWolfGaussian.Fit(new float[4], 1, 4));
        Assert.Contains("at least 2 training clips", e.Message);
    }

    [Fact]
    public void IdenticalTrainingRowsAreNotPositiveDefinite()
    {
        var x = Enumerable.Repeat(new float[] { 1, 2, 3 }, 5).SelectMany(r => r).ToArray();
        Assert.Contains("no spread", Assert.Throws<ArgumentException>(() => LedoitWolfGaussian.Fit(x, 5, 3)).Message);
    }

    [Fact]
    public void NonPositiveScoresFallBackToTheEmpiricalQuantile()
    {
        var fit = GammaThreshold.Fit([-1, 0, 1, 2, 3], 0.5);
        Assert.Equal("empirical", fit.Method);
        Assert.Equal(1.0, fit.Threshold);
    }
}
