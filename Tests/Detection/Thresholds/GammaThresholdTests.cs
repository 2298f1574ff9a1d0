using NativeASD.Detection.Thresholds;

namespace NativeASD.Tests.Detection.Thresholds;

public class GammaThresholdTests
{
    /// <summary>x̄ · F⁻¹(p; 2k, 2nk) with the bias-corrected maximum-likelihood shape k, as SciPy computes it
    /// (<c>stats.f.ppf(p, 2k, 2nk)</c>, k = (n − 3)/n · k̂ + 2/(3n) from <c>stats.gamma.fit(x, floc=0)</c>).</summary>
    [Theory]
    [InlineData(new[] { 1.0, 2.0, 1.5, 1.2 }, 0.9, 3.8910027636908486, 2.685632037847156)]
    [InlineData(new[] { 1.0, 2.0, 1.5, 1.2 }, 0.5, 3.8910027636908486, 1.3335559150885268)]
    [InlineData(new[] { 23.94, 33.93, 36.91, 37.7 }, 0.9, 8.200898144286548, 52.1133820452539)]
    [InlineData(new[] { 23.94, 33.93, 36.91, 37.7 }, 0.99, 8.200898144286548, 75.27129345125293)]
    [InlineData(new[] { 0.5, 0.7, 0.9, 1.3, 0.8, 1.1, 0.6, 1.0, 0.95, 0.75 }, 0.9, 9.844432967962835, 1.2567539307896967)]
    public void ThePredictivePointEqualsScipy(double[] scores, double percentile, double shape, double threshold)
    {
        var fit = GammaThreshold.Predictive(scores, percentile);
        Assert.Equal(GammaThreshold.PredictiveMethod, fit.Method);
        Assert.True(Math.Abs(fit.Shape - shape) <= 1e-7 * shape, $"shape {fit.Shape} vs {shape}");
        Assert.True(Math.Abs(fit.Threshold - threshold) <= 1e-7 * threshold, $"threshold {fit.Threshold} vs {threshold}");
        Assert.Equal(scores.Average(), fit.Shape * fit.Scale, 9);
    }

    /// <summary>Few scores: above the plug-in gamma point (which leaves twice the rate above it with 4 scores); many: the same.</summary>
    [Fact]
    public void ThePredictivePointLiesAboveThePlugInPointWithFewScoresAndMeetsItWithMany()
    {
        double[] few = [23.94, 33.93, 36.91, 37.7];
        Assert.True(GammaThreshold.Predictive(few).Threshold > 1.1 * GammaThreshold.Fit(few).Threshold);
        var rng = new Random(5);
        double[] many = [.. Enumerable.Range(0, 2000).Select(_ => 10 + rng.NextDouble() * 5)];
        double plugIn = GammaThreshold.Fit(many).Threshold;
        Assert.True(Math.Abs(GammaThreshold.Predictive(many).Threshold - plugIn) < 0.005 * plugIn);
    }

    [Fact]
    public void ScoresWithoutSpreadOrNotPositiveFallBackToTheEmpiricalQuantile()
    {
        Assert.Equal(GammaThreshold.EmpiricalMethod, GammaThreshold.Predictive([36.3, 36.3]).Method);
        Assert.Equal(36.3, GammaThreshold.Predictive([36.3, 36.3]).Threshold);
        Assert.Equal(GammaThreshold.EmpiricalMethod, GammaThreshold.Predictive([-1, 0, 1, 2, 3]).Method);
    }
}
