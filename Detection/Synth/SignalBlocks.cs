namespace NativeASD.Detection.Synth;

/// <summary>Building blocks of the synthetic machines: noises, resonators, tones with drifting frequency, envelopes.</summary>
public static class SignalBlocks
{
    /// <summary>White Gaussian noise.</summary>
    public static double[] White(int length, SynthRandom rng)
    {
        var x = new double[length];
        for (int i = 0; i < length; i++) x[i] = rng.Normal();
        return x;
    }

    /// <summary>Pink (1/f) noise: Paul Kellet's economy filter on white noise — the usual factory-floor background colour.</summary>
    public static double[] Pink(int length, SynthRandom rng)
    {
        var x = new double[length];
        double b0 = 0, b1 = 0, b2 = 0;
        for (int i = 0; i < length; i++)
        {
            double w = rng.Normal();
            b0 = 0.99765 * b0 + w * 0.0990460;
            b1 = 0.96300 * b1 + w * 0.2965164;
            b2 = 0.57000 * b2 + w * 1.0526913;
            x[i] = b0 + b1 + b2 + w * 0.1848;
        }
        return x;
    }

    /// <summary>Band-pass biquad (RBJ cookbook, constant 0 dB peak gain), applied in place.</summary>
    public static void BandPass(double[] x, double centreHz, double q, int rate)
    {
        double w0 = 2 * Math.PI * Math.Min(centreHz, 0.45 * rate) / rate;
        double alpha = Math.Sin(w0) / (2 * q);
        double a0 = 1 + alpha;
        double b0 = alpha / a0, b2 = -alpha / a0, a1 = -2 * Math.Cos(w0) / a0, a2 = (1 - alpha) / a0;
        double x1 = 0, x2 = 0, y1 = 0, y2 = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double y = b0 * x[i] + b2 * x2 - a1 * y1 - a2 * y2;
            x2 = x1; x1 = x[i]; y2 = y1; y1 = y;
            x[i] = y;
        }
    }

    /// <summary>
    /// Phase of a tone whose frequency follows <paramref name="frequency"/>(t) (integrated, so drift is smooth);
    /// writes 2π∫f dt into <paramref name="phase"/>.
    /// </summary>
    public static double[] IntegratePhase(double[] frequency, int rate, double startPhase)
    {
        var phase = new double[frequency.Length];
        double p = startPhase;
        for (int i = 0; i < frequency.Length; i++)
        {
            phase[i] = p;
            p += 2 * Math.PI * frequency[i] / rate;
        }
        return phase;
    }

    /// <summary>A slowly wandering multiplier around 1: smoothed random walk with standard deviation ≈ <paramref name="depth"/>.</summary>
    public static double[] SlowWander(int length, int rate, double depth, double cornerHz, SynthRandom rng)
    {
        var x = new double[length];
        double a = Math.Exp(-2 * Math.PI * cornerHz / rate);
        double state = rng.Normal() * depth;
        double gain = depth * Math.Sqrt(1 - a * a);
        for (int i = 0; i < length; i++)
        {
            state = a * state + gain * rng.Normal();
            x[i] = 1 + state;
        }
        return x;
    }

    /// <summary>Adds a decaying resonance (a struck mode) starting at <paramref name="start"/>: A·e^(−t/τ)·sin(2πft).</summary>
    public static void AddRing(double[] x, int start, double amplitude, double frequency, double decaySeconds, int rate)
    {
        int length = Math.Min(x.Length - start, (int)(decaySeconds * 6 * rate));
        double w = 2 * Math.PI * frequency / rate, decay = Math.Exp(-1.0 / (decaySeconds * rate));
        double env = amplitude;
        for (int i = 0; i < length; i++)
        {
            if (start + i >= 0) x[start + i] += env * Math.Sin(w * i);
            env *= decay;
        }
    }

    /// <summary>Adds a burst of band-limited noise with a raised-cosine envelope.</summary>
    public static void AddNoiseBurst(double[] x, int start, int length, double amplitude, double centreHz, double q, int rate, SynthRandom rng)
    {
        if (length <= 0) return;
        var burst = White(length, rng);
        BandPass(burst, centreHz, q, rate);
        for (int i = 0; i < length; i++)
        {
            int at = start + i;
            if (at < 0 || at >= x.Length) continue;
            double env = 0.5 - 0.5 * Math.Cos(2 * Math.PI * (i + 0.5) / length);
            x[at] += amplitude * env * burst[i];
        }
    }

    public static double Rms(double[] x)
    {
        double s = 0;
        foreach (double v in x) s += v * v;
        return Math.Sqrt(s / Math.Max(1, x.Length));
    }

    /// <summary>Scales x in place to the given RMS (no-op for silence).</summary>
    public static void ScaleToRms(double[] x, double targetRms)
    {
        double rms = Rms(x);
        if (rms == 0) return;
        double g = targetRms / rms;
        for (int i = 0; i < x.Length; i++) x[i] *= g;
    }
}
