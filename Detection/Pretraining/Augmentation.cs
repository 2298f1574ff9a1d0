using NativeASD.Detection.Synth;

namespace NativeASD.Detection.Pretraining;

/// <summary>
/// Waveform augmentation for pretraining, so the network learns the machine rather than the recording: circular time
/// shift, gain, added white or pink noise at a random SNR, and mixing in another example at a lower level (the label
/// stays the louder machine's, as on a factory floor). Every draw comes from the caller's generator: deterministic.
/// </summary>
public sealed record Augmentation(double GainDb = 6, double NoiseProbability = 0.5, double MinSnrDb = 5, double MaxSnrDb = 30,
    double MixProbability = 0.3, double MinMixDb = -20, double MaxMixDb = -8, bool TimeShift = true)
{
    public static Augmentation None { get; } = new(0, 0, 0, 0, 0, 0, 0, TimeShift: false);

    /// <summary>Augments <paramref name="x"/> in place; <paramref name="other"/> gives the example to mix in (same length).</summary>
    public void Apply(float[] x, SynthRandom rng, Func<float[]> other)
    {
        int n = x.Length;
        if (n == 0) return;
        double rms = Rms(x);
        if (MixProbability > 0 && rng.Uniform() < MixProbability && rms > 0)
        {
            var y = other();
            double yRms = Rms(y);
            if (yRms > 0)
            {
                double g = rms / yRms * Math.Pow(10, rng.Uniform(MinMixDb, MaxMixDb) / 20);
                for (int i = 0; i < n; i++) x[i] += (float)(g * y[i]);
            }
        }
        if (NoiseProbability > 0 && rng.Uniform() < NoiseProbability && rms > 0)
        {
            var noise = rng.Uniform() < 0.5 ? SignalBlocks.White(n, rng) : SignalBlocks.Pink(n, rng);
            double g = rms / Math.Max(SignalBlocks.Rms(noise), 1e-12) * Math.Pow(10, -rng.Uniform(MinSnrDb, MaxSnrDb) / 20);
            for (int i = 0; i < n; i++) x[i] += (float)(g * noise[i]);
        }
        int shift = TimeShift ? rng.Int(0, n) : 0;
        if (shift > 0)
        {
            var copy = (float[])x.Clone();
            for (int i = 0; i < n; i++) x[(i + shift) % n] = copy[i];
        }
        if (GainDb > 0)
        {
            float gain = (float)Math.Pow(10, rng.Uniform(-GainDb, GainDb) / 20);
            for (int i = 0; i < n; i++) x[i] *= gain;
        }
    }

    static double Rms(float[] x)
    {
        double s = 0;
        foreach (float v in x) s += (double)v * v;
        return Math.Sqrt(s / x.Length);
    }
}
