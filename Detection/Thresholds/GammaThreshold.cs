namespace NativeASD.Detection.Thresholds;

/// <summary>A gamma distribution fitted to training anomaly scores and the decision threshold taken from it.</summary>
/// <param name="Shape">k of Gamma(k, θ); NaN when the empirical fallback was used.</param>
/// <param name="Scale">θ; NaN when the empirical fallback was used.</param>
/// <param name="Percentile">Probability in (0, 1) at which the threshold sits, e.g. 0.9.</param>
/// <param name="Threshold">Scores above it are decided anomalous.</param>
/// <param name="Method">"gamma-mle" or "empirical" (scores not all positive, or all equal).</param>
public sealed record GammaThreshold(double Shape, double Scale, double Percentile, double Threshold, string Method)
{
    /// <summary>
    /// Maximum-likelihood gamma fit with location fixed at 0 (as <c>scipy.stats.gamma.fit(x, floc=0)</c>), then its
    /// <paramref name="percentile"/> quantile. The DCASE baselines fit a free location too; fixing it at 0 keeps the fit
    /// well posed for small training sets (a free location often runs off to the smallest score). When the scores are not
    /// all positive or have no spread, the empirical quantile is used instead and <see cref="Method"/> says so.
    /// </summary>
    public static GammaThreshold Fit(ReadOnlySpan<double> trainingScores, double percentile = 0.9)
    {
        if (!(percentile > 0 && percentile < 1)) throw new ArgumentOutOfRangeException(nameof(percentile), $"threshold: percentile must be in (0, 1), got {percentile}");
        if (trainingScores.Length == 0) throw new ArgumentException("threshold: no training scores");
        double mean = 0, meanLog = 0, min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (double x in trainingScores)
        {
            if (!double.IsFinite(x)) throw new ArgumentException($"threshold: a training score is {x}");
            mean += x; min = Math.Min(min, x); max = Math.Max(max, x);
            if (x > 0) meanLog += Math.Log(x);
        }
        mean /= trainingScores.Length; meanLog /= trainingScores.Length;
        if (min <= 0 || max == min || trainingScores.Length < 2)
            return new(double.NaN, double.NaN, percentile, EmpiricalQuantile(trainingScores, percentile), "empirical");

        // The MLE shape solves ln k − ψ(k) = s with s = ln(mean) − mean(ln x) > 0; Newton from Minka's closed-form start.
        double s = Math.Log(mean) - meanLog;
        double k = (3 - s + Math.Sqrt((s - 3) * (s - 3) + 24 * s)) / (12 * s);
        for (int iteration = 0; iteration < 100; iteration++)
        {
            double f = Math.Log(k) - SpecialFunctions.Digamma(k) - s;
            double df = 1 / k - SpecialFunctions.Trigamma(k);
            double next = k - f / df;
            if (next <= 0) next = k / 2;
            bool done = Math.Abs(next - k) <= 1e-14 * k;
            k = next;
            if (done) break;
        }
        double scale = mean / k;
        return new(k, scale, percentile, scale * SpecialFunctions.InverseGammaP(k, percentile), "gamma-mle");
    }

    /// <summary>Linear-interpolation quantile (numpy's default).</summary>
    static double EmpiricalQuantile(ReadOnlySpan<double> values, double q)
    {
        var sorted = values.ToArray();
        Array.Sort(sorted);
        double position = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(position);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (position - lo);
    }
}
