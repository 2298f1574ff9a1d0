using System.Globalization;

namespace NativeASD.Detection.Detectors;

/// <summary>Training left the finite numbers (learning rate too high for the features): an input problem, not a bug.</summary>
public sealed class TrainingDivergedException(int epoch, double loss)
    : IOException(string.Create(CultureInfo.InvariantCulture, $"training diverged at epoch {epoch}: loss {loss}; lower --lr"))
{
    public int Epoch { get; } = epoch;

    /// <summary>Throws when an epoch's mean loss is NaN or infinite (epochs count from 1).</summary>
    public static void ThrowIfNotFinite(int epoch, double loss)
    {
        if (!double.IsFinite(loss)) throw new TrainingDivergedException(epoch, loss);
    }
}
