namespace NativeASD.Detection.Detectors;

/// <summary>
/// Per-feature standardisation fitted on training rows: mean and population deviation, accumulated in double. What a
/// near-constant feature's deviation becomes is the caller's rule (<c>deviation</c>: the metric head floors it, knn
/// leaves such features unscaled).
/// </summary>
public static class FeatureStandardisation
{
    /// <summary>Mean and deviation of the <paramref name="rows"/> (row-major, <paramref name="dim"/> features each).</summary>
    public static (float[] Mean, float[] Std) Fit(ReadOnlySpan<float> rows, int dim, Func<double, float> deviation)
    {
        int count = rows.Length / dim;
        var mean = new double[dim];
        var squares = new double[dim];
        for (int r = 0; r < count; r++)
            for (int j = 0; j < dim; j++) mean[j] += rows[r * dim + j];
        for (int j = 0; j < dim; j++) mean[j] /= count;
        for (int r = 0; r < count; r++)
            for (int j = 0; j < dim; j++) { double t = rows[r * dim + j] - mean[j]; squares[j] += t * t; }
        return ([.. mean.Select(m => (float)m)], [.. squares.Select(s => deviation(Math.Sqrt(s / count)))]);
    }

    /// <summary>(x − mean) / std in place, for every row of <paramref name="rows"/>.</summary>
    public static void Apply(Span<float> rows, float[] mean, float[] std)
    {
        int dim = mean.Length;
        for (int r = 0; r < rows.Length / dim; r++)
            for (int j = 0; j < dim; j++) rows[r * dim + j] = (rows[r * dim + j] - mean[j]) / std[j];
    }
}
