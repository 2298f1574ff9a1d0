namespace NativeASD.Engine;

/// <summary>
/// The project's deterministic random generator (SplitMix64; not torch's Mersenne Twister / Philox, so a seed
/// gives the same numbers on every machine and backend here, but not torch's numbers). Uniform floats take the top
/// 24 bits of a draw: u = (x &gt;&gt; 40) · 2^−24 ∈ [0, 1). Normals use Box–Muller on two draws, in double.
/// Used for parameter init, dropout masks and VAE reparameterisation noise.
/// </summary>
public sealed class SeededRandom(ulong seed)
{
    ulong _state = seed;

    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1).</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1f / (1 << 24));

    /// <summary>Uniform in [low, high).</summary>
    public float Uniform(float low, float high) => low + (high - low) * NextFloat();

    /// <summary>Standard normal (Box–Muller; the second value of each pair is discarded so every call costs two draws).</summary>
    public float Normal(float mean = 0f, float std = 1f)
    {
        double u1 = ((NextUInt64() >> 11) + 1) * (1.0 / (1UL << 53)); // (0, 1]: log is finite
        double u2 = (NextUInt64() >> 11) * (1.0 / (1UL << 53));
        return mean + std * (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
    }

    public void FillUniform(Span<float> values, float low, float high)
    {
        for (int i = 0; i < values.Length; i++) values[i] = Uniform(low, high);
    }

    public void FillNormal(Span<float> values, float mean, float std)
    {
        for (int i = 0; i < values.Length; i++) values[i] = Normal(mean, std);
    }
}
