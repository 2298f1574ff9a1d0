using NativeASD.Engine.Losses;
using NativeASD.Engine;

namespace NativeASD.Detection.Detectors;

/// <summary>
/// The metric head's loss: with dᵢ = ‖zᵢ − c‖² over the N normal rows of a batch,
/// L = mean(d) + λ·Var(d) (population variance). The first term pulls normal data to the centre (Deep SVDD
/// compactness); the second shrinks the spread of the distances, so normal clips get uniformly small scores.
/// Gradient: ∂L/∂zᵢ = (2/N)(zᵢ − c)(1 + 2λ(dᵢ − d̄)).
/// <para>Outlier exposure: M further rows of other machines (negatives) add η·mean(1/(dⱼ + ε)), Deep SAD's term for
/// labelled anomalies (Ruff et al. 2020, ε = 1e-6), which pushes them away from the centre without bound on the scale;
/// ∂/∂zⱼ = −(2η/M)(zⱼ − c)/(dⱼ + ε)².</para>
/// Computed in double on the host (the batch is small).
/// </summary>
public static class CompactnessLoss
{
    /// <summary>ε of the negatives' term: keeps 1/d finite for a negative on the centre.</summary>
    public const double NegativeEpsilon = 1e-6;

    /// <param name="z">[N, D] head outputs of normal rows.</param>
    /// <param name="centre">[D], fixed.</param>
    public static LossResult Compute(Tensor z, ReadOnlySpan<float> centre, float varianceWeight) =>
        Compute(z, centre, varianceWeight, z.Rank == 2 ? z.Dim(0) : 0, 0);

    /// <param name="z">[N + M, D] head outputs: <paramref name="normalRows"/> normal rows, then M negatives.</param>
    /// <param name="centre">[D], fixed.</param>
    /// <param name="negativeWeight">η of the negatives' term.</param>
    public static LossResult Compute(Tensor z, ReadOnlySpan<float> centre, float varianceWeight, int normalRows, float negativeWeight)
    {
        if (z.Rank != 2 || z.Dim(1) != centre.Length)
            throw new ArgumentException($"compactness loss: outputs {Kernels.Layout.Format(z.Shape)} do not match a centre of {centre.Length}");
        int rows = z.Dim(0), d = z.Dim(1), n = normalRows, m = rows - normalRows;
        if (n < 1 || m < 0) throw new ArgumentException($"compactness loss: {normalRows} normal rows of {rows}");
        var values = z.ToArray();
        var dist = new double[rows];
        for (int i = 0; i < rows; i++)
        {
            double s = 0;
            for (int j = 0; j < d; j++)
            {
                double diff = values[i * d + j] - centre[j];
                s += diff * diff;
            }
            dist[i] = s;
        }
        double mean = 0;
        for (int i = 0; i < n; i++) mean += dist[i];
        mean /= n;
        double variance = 0;
        for (int i = 0; i < n; i++) variance += (dist[i] - mean) * (dist[i] - mean);
        variance /= n;
        double loss = mean + varianceWeight * variance;
        var grad = new float[values.Length];
        for (int i = 0; i < rows; i++)
        {
            double g;
            if (i < n) g = 2.0 / n * (1 + 2 * varianceWeight * (dist[i] - mean));
            else
            {
                double inverse = 1 / (dist[i] + NegativeEpsilon);
                loss += negativeWeight * inverse / m;
                g = -2.0 * negativeWeight / m * inverse * inverse;
            }
            for (int j = 0; j < d; j++) grad[i * d + j] = (float)(g * (values[i * d + j] - centre[j]));
        }
        return new LossResult((float)loss, Tensor.FromSpan(grad, [rows, d], z.Backend));
    }
}
