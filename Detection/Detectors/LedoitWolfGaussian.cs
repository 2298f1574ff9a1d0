using System.Numerics.Tensors;

namespace NativeASD.Detection.Detectors;

/// <summary>
/// A Gaussian with a Ledoit–Wolf shrunk covariance, fitted exactly as scikit-learn's <c>LedoitWolf().fit(X)</c>
/// (mean-centred, biased empirical covariance shrunk towards μ·I with the closed-form optimal weight), kept as its
/// Cholesky factor so distances are triangular solves, never an explicit inverse. All in double precision.
/// </summary>
public sealed class LedoitWolfGaussian
{
    /// <summary>Feature dimension d.</summary>
    public int Dimension { get; }
    /// <summary>Mean of the training rows, length d.</summary>
    public double[] Mean { get; }
    /// <summary>Shrinkage weight in [0, 1] (sklearn's <c>shrinkage_</c>).</summary>
    public double Shrinkage { get; }
    /// <summary>Lower-triangular Cholesky factor L of the shrunk covariance, row-major d×d (upper part zero).</summary>
    public double[] Cholesky { get; }

    public LedoitWolfGaussian(double[] mean, double shrinkage, double[] cholesky)
    {
        if (cholesky.Length != (long)mean.Length * mean.Length)
            throw new ArgumentException($"ledoit-wolf: mean has {mean.Length} entries but the Cholesky factor {cholesky.Length} (expected {mean.Length}²)");
        Dimension = mean.Length; Mean = mean; Shrinkage = shrinkage; Cholesky = cholesky;
    }

    /// <summary>Fits rows of <paramref name="x"/> ([n, d] row-major). Needs n ≥ 2: one row has no covariance.</summary>
    public static LedoitWolfGaussian Fit(ReadOnlySpan<float> x, int rows, int dimension)
    {
        if (dimension <= 0 || rows < 0 || x.Length != (long)rows * dimension)
            throw new ArgumentException($"ledoit-wolf: {x.Length} values do not form [{rows}, {dimension}]");
        if (rows < 2)
            throw new ArgumentException($"ledoit-wolf: needs at least 2 training clips to estimate a covariance, got {rows}");
        int n = rows, d = dimension;
        var mean = new double[d];
        for (int r = 0; r < n; r++)
            for (int j = 0; j < d; j++)
            {
                float v = x[r * d + j];
                if (!float.IsFinite(v)) throw new ArgumentException($"ledoit-wolf: row {r}, feature {j} is {v}");
                mean[j] += v;
            }
        for (int j = 0; j < d; j++) mean[j] /= n;
        var centred = new double[(long)n * d];
        for (int r = 0; r < n; r++)
            for (int j = 0; j < d; j++) centred[(long)r * d + j] = x[r * d + j] - mean[j];

        // Empirical covariance S = XᵀX / n (upper triangle by rank-1 row updates, mirrored).
        var cov = new double[(long)d * d];
        Parallel.For(0, d, i =>
        {
            var row = cov.AsSpan(i * d + i, d - i);
            for (int r = 0; r < n; r++)
            {
                double xi = centred[(long)r * d + i];
                if (xi != 0) TensorPrimitives.MultiplyAdd(centred.AsSpan(r * d + i, d - i), xi, row, row);
            }
            TensorPrimitives.Divide(row, n, row);
        });
        for (int i = 0; i < d; i++)
            for (int j = i + 1; j < d; j++) cov[(long)j * d + i] = cov[(long)i * d + j];

        double shrinkage = ShrinkageOf(centred, n, d, cov, out double mu);
        for (long k = 0; k < cov.LongLength; k++) cov[k] *= 1 - shrinkage;
        for (int i = 0; i < d; i++) cov[(long)i * d + i] += shrinkage * mu;
        return new LedoitWolfGaussian(mean, shrinkage, Factor(cov, d));
    }

    /// <summary>sklearn's <c>ledoit_wolf_shrinkage</c> on centred data; μ = trace(S)/d.</summary>
    static double ShrinkageOf(double[] centred, int n, int d, double[] cov, out double mu)
    {
        mu = 0;
        for (int i = 0; i < d; i++) mu += cov[(long)i * d + i];
        double traceSum = mu;
        mu /= d;
        if (d == 1) return 0;
        // β_ = Σ_ij (X²ᵀX²)_ij = Σ_r (Σ_j x_rj²)²;  δ_ = Σ_ij S_ij².
        double betaSum = 0;
        for (int r = 0; r < n; r++)
        {
            double rowSquares = TensorPrimitives.SumOfSquares(new ReadOnlySpan<double>(centred, r * d, d));
            betaSum += rowSquares * rowSquares;
        }
        double deltaSum = TensorPrimitives.SumOfSquares<double>(cov);
        double beta = (betaSum / n - deltaSum) / ((double)d * n);
        double delta = (deltaSum - 2 * mu * traceSum + d * mu * mu) / d;
        beta = Math.Min(beta, delta);
        return beta == 0 ? 0 : beta / delta;
    }

    /// <summary>In-place-style Cholesky (row-oriented, dot products vectorised); fails clearly when not positive definite.</summary>
    static double[] Factor(double[] a, int d)
    {
        var l = new double[(long)d * d];
        for (int i = 0; i < d; i++)
        {
            var li = new ReadOnlySpan<double>(l, i * d, i);
            for (int j = 0; j <= i; j++)
            {
                double sum = a[(long)i * d + j] - TensorPrimitives.Dot(li[..j], new ReadOnlySpan<double>(l, j * d, j));
                if (i == j)
                {
                    if (!(sum > 0))
                        throw new ArgumentException($"ledoit-wolf: the shrunk covariance is not positive definite (pivot {i} is {sum:G3}); the training features have no spread");
                    l[(long)i * d + i] = Math.Sqrt(sum);
                }
                else l[(long)i * d + j] = sum / l[(long)j * d + j];
            }
        }
        return l;
    }

    /// <summary>√((x − m)ᵀ Σ⁻¹ (x − m)) for one feature vector of length d: the norm of its whitened vector.</summary>
    public double Distance(ReadOnlySpan<float> x)
    {
        var y = new double[Dimension];
        Whiten(x, y);
        double sum = 0;
        foreach (double v in y) sum += v * v;
        return Math.Sqrt(sum);
    }

    /// <summary>y = L⁻¹(x − m) (forward substitution), so that ‖y‖² is the squared Mahalanobis distance and the training
    /// rows, whitened, have the identity as their shrunk covariance.</summary>
    public void Whiten(ReadOnlySpan<float> x, Span<double> y)
    {
        if (x.Length != Dimension || y.Length != Dimension) throw new ArgumentException($"mahalanobis: vector has {x.Length} features, the model {Dimension}");
        int d = Dimension;
        for (int i = 0; i < d; i++)
        {
            double v = x[i] - Mean[i] - TensorPrimitives.Dot(new ReadOnlySpan<double>(Cholesky, i * d, i), y[..i]);
            y[i] = v / Cholesky[(long)i * d + i];
        }
    }
}
