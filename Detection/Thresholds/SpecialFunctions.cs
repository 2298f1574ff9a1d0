namespace NativeASD.Detection.Thresholds;

/// <summary>Gamma-family special functions in double precision (enough for fitting and quantiles, ~1e-13 relative), and the binomial tail, incomplete beta and F quantile built on them.</summary>
public static class SpecialFunctions
{
    static readonly double[] Lanczos =
    [
        0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
        -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
    ];

    /// <summary>ln Γ(x) for x > 0 (Lanczos, g = 7).</summary>
    public static double LogGamma(double x)
    {
        if (x < 0.5) return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        x -= 1;
        double a = Lanczos[0];
        double t = x + 7.5;
        for (int i = 1; i < 9; i++) a += Lanczos[i] / (x + i);
        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(a);
    }

    /// <summary>ψ(x) = d/dx ln Γ(x) for x > 0: recurrence up to x ≥ 6, then the asymptotic series.</summary>
    public static double Digamma(double x)
    {
        double result = 0;
        while (x < 6) { result -= 1 / x; x += 1; }
        double f = 1 / (x * x);
        return result + Math.Log(x) - 0.5 / x
               - f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f * (1.0 / 132)))));
    }

    /// <summary>ψ'(x) for x > 0.</summary>
    public static double Trigamma(double x)
    {
        double result = 0;
        while (x < 6) { result += 1 / (x * x); x += 1; }
        double f = 1 / (x * x);
        return result + 1 / x + f / 2
               + f / x * (1.0 / 6 - f * (1.0 / 30 - f * (1.0 / 42 - f * (1.0 / 30))));
    }

    /// <summary>P(X ≥ <paramref name="k"/>) for X ~ Binomial(<paramref name="n"/>, <paramref name="p"/>): the terms summed from k up, each from ln Γ (no overflow for large n).</summary>
    public static double BinomialUpperTail(int k, int n, double p)
    {
        if (n < 0 || !(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), $"binomial: n = {n}, p = {p}");
        if (k <= 0) return 1;
        if (k > n) return 0;
        if (p == 0) return 0;
        if (p == 1) return 1;
        double sum = 0, logChoose = LogGamma(n + 1.0);
        for (int j = k; j <= n; j++)
            sum += Math.Exp(logChoose - LogGamma(j + 1.0) - LogGamma(n - j + 1.0) + j * Math.Log(p) + (n - j) * Math.Log(1 - p));
        return Math.Min(1, sum);
    }

    /// <summary>Regularised incomplete beta I_x(a, b) for a, b > 0: the continued fraction on the side of the mean where it converges fast.</summary>
    public static double BetaRegularized(double a, double b, double x)
    {
        if (x <= 0) return 0;
        if (x >= 1) return 1;
        double logFront = LogGamma(a + b) - LogGamma(a) - LogGamma(b) + a * Math.Log(x) + b * Math.Log(1 - x);
        return x < (a + 1) / (a + b + 2)
            ? Math.Exp(logFront) * BetaFraction(a, b, x) / a
            : 1 - Math.Exp(logFront) * BetaFraction(b, a, 1 - x) / b;
    }

    /// <summary>The continued fraction of I_x(a, b) by Lentz's method; its terms need about √max(a, b) steps.</summary>
    static double BetaFraction(double a, double b, double x)
    {
        const double tiny = 1e-300;
        double c = 1, d = 1 - (a + b) * x / (a + 1);
        if (Math.Abs(d) < tiny) d = tiny;
        d = 1 / d;
        double h = d;
        for (int m = 1; m < 1_000_000; m++)
        {
            double even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
            d = 1 + even * d; if (Math.Abs(d) < tiny) d = tiny;
            c = 1 + even / c; if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d;
            h *= d * c;
            double odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
            d = 1 + odd * d; if (Math.Abs(d) < tiny) d = tiny;
            c = 1 + odd / c; if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d;
            double delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < 1e-15) break;
        }
        return h;
    }

    /// <summary>The <paramref name="p"/> quantile of the F distribution with <paramref name="d1"/> and <paramref name="d2"/>
    /// degrees of freedom: F = (d2/d1)·B/(1 − B) with B ~ Beta(d1/2, d2/2), B's quantile by bisection.</summary>
    public static double InverseF(double d1, double d2, double p)
    {
        if (!(p > 0 && p < 1) || !(d1 > 0) || !(d2 > 0)) throw new ArgumentOutOfRangeException(nameof(p), $"F quantile: p = {p}, d1 = {d1}, d2 = {d2}");
        double lo = 0, hi = 1;
        for (int i = 0; i < 200 && hi - lo > 1e-17; i++)
        {
            double mid = (lo + hi) / 2;
            if (BetaRegularized(d1 / 2, d2 / 2, mid) < p) lo = mid; else hi = mid;
        }
        double y = (lo + hi) / 2;
        return d2 / d1 * y / (1 - y);
    }

    /// <summary>Regularised lower incomplete gamma P(a, x): series for x &lt; a + 1, continued fraction otherwise.</summary>
    public static double GammaP(double a, double x)
    {
        if (x <= 0) return 0;
        double logPrefix = a * Math.Log(x) - x - LogGamma(a);
        if (x < a + 1)
        {
            double term = 1 / a, sum = term;
            for (int n = 1; n < 10000 && Math.Abs(term) > Math.Abs(sum) * 1e-17; n++)
            {
                term *= x / (a + n);
                sum += term;
            }
            return Math.Min(1, sum * Math.Exp(logPrefix));
        }
        // Lentz's method for the continued fraction of Q(a, x).
        const double tiny = 1e-300;
        double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
        for (int n = 1; n < 10000; n++)
        {
            double an = -n * (n - a);
            b += 2;
            d = an * d + b; if (Math.Abs(d) < tiny) d = tiny;
            c = b + an / c; if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d;
            double delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < 1e-16) break;
        }
        return Math.Max(0, 1 - Math.Exp(logPrefix) * h);
    }

    /// <summary>x with P(a, x) = p: bracketing bisection refined by safeguarded Newton steps.</summary>
    public static double InverseGammaP(double a, double p)
    {
        if (!(p > 0 && p < 1)) throw new ArgumentOutOfRangeException(nameof(p));
        double lo = 0, hi = Math.Max(1, a);
        while (GammaP(a, hi) < p) { lo = hi; hi *= 2; }
        double x = (lo + hi) / 2;
        for (int i = 0; i < 200; i++)
        {
            double f = GammaP(a, x) - p;
            if (f > 0) hi = x; else lo = x;
            double density = Math.Exp((a - 1) * Math.Log(x) - x - LogGamma(a));
            double next = density > 0 ? x - f / density : double.NaN;
            if (!(next > lo && next < hi)) next = (lo + hi) / 2;
            if (Math.Abs(next - x) <= 1e-15 * Math.Max(1, x)) return next;
            x = next;
        }
        return x;
    }
}
