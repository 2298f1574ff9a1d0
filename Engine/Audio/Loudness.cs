namespace NativeASD.Engine.Audio;

/// <summary>
/// Loudness as RMS level in dBFS: 20·log10(rms) with full scale 1.0, the scale <see cref="AudioFile"/> decodes to (a
/// 16-bit sample of 32768 is 1.0), so a full-scale square wave is 0 dBFS and a full-scale sine −3.01 dBFS.
/// </summary>
public static class Loudness
{
    /// <summary>Root mean square of the samples, accumulated in double; 0 for no samples.</summary>
    public static double Rms(ReadOnlySpan<float> samples)
    {
        double sum = 0;
        foreach (float x in samples) sum += (double)x * x;
        return samples.Length == 0 ? 0 : Math.Sqrt(sum / samples.Length);
    }

    /// <summary>RMS level in dBFS; −∞ for silence.</summary>
    public static double RmsDbfs(ReadOnlySpan<float> samples) => 20 * Math.Log10(Rms(samples));

    /// <summary>The linear gain that moves a level of <paramref name="fromDbfs"/> to <paramref name="toDbfs"/>.</summary>
    public static double GainBetween(double fromDbfs, double toDbfs) => Math.Pow(10, (toDbfs - fromDbfs) / 20);
}
