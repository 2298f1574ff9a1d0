namespace NativeASD.Detection.Thresholds;

/// <summary>A gamma distribution fitted to anomaly scores of normal clips and the decision threshold taken from it.</summary>
/// <param name="Shape">k of Gamma(k, θ); NaN when the empirical fallback was used.</param>
/// <param name="Scale">θ; NaN when the empirical fallback was used.</param>
/// <param name="Percentile">Probability in (0, 1) at which the threshold sits, e.g. 0.9.</param>
/// <param name="Threshold">Scores above it are decided anomalous.</param>
/// <param name="Method"><see cref="PredictiveMethod"/> (what fit and calibrate set now), <see cref="MleMethod"/> (models
/// written before) or "empirical" (scores not all positive, or all equal).</param>
public sealed record GammaThreshold(double Shape, double Scale, double Percentile, double Threshold, string Method)
{
    public const string MleMethod = "gamma-mle", PredictiveMethod = "gamma-predictive", EmpiricalMethod = "empirical";

    /// <summary>
    /// The threshold for the score of one more normal clip, from the scores of n normal clips (what <c>fit</c>, <c>eval</c>
    /// and <c>calibrate</c> use): the <paramref name="percentile"/> point of the predictive distribution of a new score,
    /// not of the fitted gamma itself, which with few scores sits too low. For a gamma of shape k, a new score over the
    /// mean x̄ of n scores follows F(2k, 2nk) whatever the scale, so the threshold is x̄ · F⁻¹(p; 2k, 2nk); k is the
    /// maximum-likelihood shape corrected for its small-sample bias, (n − 3)/n · k̂ + 2/(3n) for n ≥ 4 (the MLE overstates
    /// k about fourfold at n = 4, narrowing the distribution). Simulated on gamma scores (k 2–50): with 4 scores the
    /// plug-in 0.9 point of <see cref="Fit"/> leaves 20 % of new scores above it, this rule 6 %; with 10 scores 14 % and
    /// 9 %; with 150 both 10 % (docs/decisions.md). Falls back to the empirical quantile as <see cref="Fit"/> does.
    /// </summary>
    public static GammaThreshold Predictive(ReadOnlySpan<double> scores, double percentile = 0.9)
    {
        var mle = Fit(scores, percentile);
        if (mle.Method != MleMethod) return mle;
        int n = scores.Length;
        double k = n >= 4 ? (n - 3.0) / n * mle.Shape + 2.0 / (3 * n) : mle.Shape;
        double mean = mle.Shape * mle.Scale;
        return new(k, mean / k, percentile, mean * SpecialFunctions.InverseF(2 * k, 2 * n * k, percentile), PredictiveMethod);
    }

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
            return new(double.NaN, double.NaN, percentile, EmpiricalQuantile(trainingScores, percentile), EmpiricalMethod);

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
        return new(k, scale, percentile, scale * SpecialFunctions.InverseGammaP(k, percentile), MleMethod);
    }

    /// <summary>Linear-interpolation quantile (numpy's default); NaN for no values.</summary>
    public static double EmpiricalQuantile(ReadOnlySpan<double> values, double q)
    {
        if (values.IsEmpty) return double.NaN;
        var sorted = values.ToArray();
        Array.Sort(sorted);
        double position = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(position);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (position - lo);
    }
}
