using NativeASD.Detection.Thresholds;

namespace NativeASD.Tests.Detection.Thresholds;

public class SpecialFunctionsTests
{
    /// <summary>The binomial upper tail against sums of exact binomial coefficients (float64), its edges, and a large n.</summary>
    [Theory]
    [InlineData(3, 4, 0.1)]
    [InlineData(13, 30, 0.1)]
    [InlineData(8, 30, 0.1)]
    [InlineData(1, 7, 0.1)]
    [InlineData(20, 40, 0.5)]
    public void BinomialUpperTailMatchesTheExactSum(int k, int n, double p)
    {
        double exact = 0, choose = 1;   // C(n, j), built up exactly in double for these n
        for (int j = 0; j <= n; j++)
        {
            if (j >= k) exact += choose * Math.Pow(p, j) * Math.Pow(1 - p, n - j);
            choose = choose * (n - j) / (j + 1);
        }
        Assert.Equal(exact, SpecialFunctions.BinomialUpperTail(k, n, p), exact * 1e-10);   // relative
    }

    [Fact]
    public void BinomialUpperTailEdges()
    {
        Assert.Equal(0.0037, SpecialFunctions.BinomialUpperTail(3, 4, 0.1), 12);   // 4 · 0.1³ · 0.9 + 0.1⁴
        Assert.Equal(1, SpecialFunctions.BinomialUpperTail(0, 30, 0.1));
        Assert.Equal(0, SpecialFunctions.BinomialUpperTail(31, 30, 0.1));
        Assert.Equal(0, SpecialFunctions.BinomialUpperTail(1, 30, 0));
        Assert.Equal(1, SpecialFunctions.BinomialUpperTail(30, 30, 1));
        Assert.Equal(1 - Math.Pow(0.9, 20000), SpecialFunctions.BinomialUpperTail(1, 20000, 0.1), 12);   // (0.9)^n underflows; the terms do not overflow
        Assert.InRange(SpecialFunctions.BinomialUpperTail(2000, 20000, 0.1), 0.49, 0.51);   // the mean: about one half
    }

    /// <summary>Against SciPy (<c>special.betainc</c>, <c>stats.f.ppf</c>), including shapes as large as a near-constant score set gives.</summary>
    [Fact]
    public void IncompleteBetaAndTheFQuantileEqualScipy()
    {
        Assert.Equal(0.3916181205415503, SpecialFunctions.BetaRegularized(3.5, 20, 0.12), 1e-12);
        Assert.Equal(0.7407408279886063, SpecialFunctions.BetaRegularized(2e4, 8e5, 0.0245), 1e-6);
        Assert.Equal(1.7368859807801427, SpecialFunctions.InverseF(7, 300, 0.9), 1e-10);
        Assert.Equal(0, SpecialFunctions.BetaRegularized(2, 3, 0));
        Assert.Equal(1, SpecialFunctions.BetaRegularized(2, 3, 1));
    }
}
