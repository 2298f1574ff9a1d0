namespace NativeASD.Detection.Features;

/// <summary>
/// The classic no-backbone clip descriptor: per mel bin, the mean and the population standard deviation over time
/// of the log-mel spectrogram (128 bins → 256 values: means first, then deviations).
/// </summary>
public static class LogMelStatistics
{
    /// <param name="logMel">[frames, bins] row-major (time first).</param>
    public static float[] Compute(ReadOnlySpan<float> logMel, int frames, int bins)
    {
        if (frames < 1 || bins < 1 || logMel.Length != (long)frames * bins)
            throw new ArgumentException($"log-mel statistics: {logMel.Length} values do not form [{frames}, {bins}]");
        var sum = new double[bins];
        var squares = new double[bins];
        for (int t = 0; t < frames; t++)
            for (int b = 0; b < bins; b++)
            {
                double v = logMel[t * bins + b];
                sum[b] += v;
            }
        var result = new float[2 * bins];
        for (int b = 0; b < bins; b++) result[b] = (float)(sum[b] / frames);
        for (int t = 0; t < frames; t++)
            for (int b = 0; b < bins; b++)
            {
                double d = logMel[t * bins + b] - sum[b] / frames;
                squares[b] += d * d;
            }
        for (int b = 0; b < bins; b++) result[bins + b] = (float)Math.Sqrt(squares[b] / frames);
        return result;
    }
}
