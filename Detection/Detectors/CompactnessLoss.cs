using NativeASD.Engine.Losses;
using NativeASD.Engine;

namespace NativeASD.Detection.Detectors;

/// <summary>
/// The metric head's loss: with dᵢ = ‖zᵢ − c‖² over a batch of N head outputs,
/// L = mean(d) + λ·Var(d) (population variance). The first term pulls normal data to the centre (Deep SVDD
/// compactness); the second shrinks the spread of the distances, so normal clips get uniformly small scores.
/// Gradient: ∂L/∂zᵢ = (2/N)(zᵢ − c)(1 + 2λ(dᵢ − d̄)). Computed in double on the host (the batch is small).
/// </summary>
public static class CompactnessLoss
{
    /// <param name="z">[N, D] head outputs.</param>
    /// <param name="centre">[D], fixed.</param>
    public static LossResult Compute(Tensor z, ReadOnlySpan<float> centre, float varianceWeight)
    {
        if (z.Rank != 2 || z.Dim(1) != centre.Length)
            throw new ArgumentException($"compactness loss: outputs {Kernels.Layout.Format(z.Shape)} do not match a centre of {centre.Length}");
        int n = z.Dim(0), d = z.Dim(1);
        var values = z.ToArray();
        var dist = new double[n];
        for (int i = 0; i < n; i++)
        {
            double s = 0;
            for (int j = 0; j < d; j++)
            {
                double diff = values[i * d + j] - centre[j];
                s += diff * diff;
            }
            dist[i] = s;
        }
        double mean = dist.Average();
        double variance = dist.Sum(v => (v - mean) * (v - mean)) / n;
        var grad = new float[values.Length];
        for (int i = 0; i < n; i++)
        {
            double g = 2.0 / n * (1 + 2 * varianceWeight * (dist[i] - mean));
            for (int j = 0; j < d; j++) grad[i * d + j] = (float)(g * (values[i * d + j] - centre[j]));
        }
        return new LossResult((float)(mean + varianceWeight * variance), Tensor.FromSpan(grad, [n, d], z.Backend));
    }
}
