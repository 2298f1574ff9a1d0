using NativeASD.Engine;
namespace NativeASD.Detection.Synth;

/// <summary>
/// The project's <see cref="SeededRandom"/> (SplitMix64, the same on every machine and .NET version) with the double
/// precision draws the generator needs, and streams derived from (seed, names…) so every clip can be generated
/// independently, in any order, in parallel.
/// </summary>
public sealed class SynthRandom(ulong seed)
{
    readonly SeededRandom _bits = new(seed);
    double? _spareNormal;

    /// <summary>A stream for one named thing (machine type, ID, split, clip index) under a base seed.</summary>
    public static SynthRandom For(long seed, params object[] path)
    {
        ulong h = 0xcbf29ce484222325UL ^ (ulong)seed;
        foreach (var part in path)
            foreach (char c in part.ToString() + "/")
            {
                h ^= c;
                h *= 0x100000001b3UL;
            }
        return new SynthRandom(Mix(h));
    }

    /// <summary>SplitMix64's finaliser, used to spread the path hash over the seed space.</summary>
    static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
        return z ^ (z >> 31);
    }

    public ulong NextULong() => _bits.NextUInt64();

    /// <summary>Uniform in [0, 1).</summary>
    public double Uniform() => (NextULong() >> 11) * (1.0 / (1UL << 53));

    public double Uniform(double lo, double hi) => lo + (hi - lo) * Uniform();

    /// <summary>Uniform integer in [lo, hi).</summary>
    public int Int(int lo, int hi) => lo + (int)(Uniform() * (hi - lo));

    /// <summary>Log-uniform in [lo, hi): for frequencies and scale factors.</summary>
    public double LogUniform(double lo, double hi) => lo * Math.Pow(hi / lo, Uniform());

    /// <summary>Standard normal (Box–Muller, both values used).</summary>
    public double Normal()
    {
        if (_spareNormal is double spare) { _spareNormal = null; return spare; }
        double u = 1 - Uniform(), v = Uniform();
        double r = Math.Sqrt(-2 * Math.Log(u));
        _spareNormal = r * Math.Sin(2 * Math.PI * v);
        return r * Math.Cos(2 * Math.PI * v);
    }

    public T Pick<T>(IReadOnlyList<T> items) => items[Int(0, items.Count)];
}
