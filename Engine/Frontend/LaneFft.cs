using System.Numerics;
using System.Runtime.Intrinsics;

namespace NativeASD.Engine.Frontend;

/// <summary>
/// Complex FFT of a power-of-two length run on <see cref="Vector256{T}"/> lanes: each lane holds a different frame,
/// so every butterfly is plain vector arithmetic with broadcast twiddles (no shuffles) and a batch of 8 (float) or
/// 4 (double) frames transforms at once. Stockham autosort, radix 4 with one radix-2 stage for odd powers of two.
/// Layout: element e of a batch is its real lanes at e·2L and imaginary lanes at e·2L + L (L = lanes).
/// Twiddles are computed in double.
/// </summary>
internal sealed unsafe class LaneFft<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Lanes => Vector256<T>.Count;
    public int Length { get; }
    readonly (int N, int Stride, int Twiddle)[] _stages;
    readonly T[] _twiddles; // per radix-4 stage and p: w^p, w^2p, w^3p as (re, im) pairs

    public LaneFft(int length)
    {
        if (length < 1 || !BitOperations.IsPow2(length)) throw new ArgumentException($"lane fft: length must be a power of two, got {length}");
        Length = length;
        var stages = new List<(int, int, int)>();
        var tw = new List<T>();
        int n = length, s = 1;
        while (n >= 4)
        {
            stages.Add((n, s, tw.Count));
            for (int p = 0; p < n / 4; p++)
                for (int k = 1; k <= 3; k++)
                {
                    double a = -2 * Math.PI * ((long)k * p % n) / n;
                    tw.Add(T.CreateChecked(Math.Cos(a)));
                    tw.Add(T.CreateChecked(Math.Sin(a)));
                }
            n /= 4; s *= 4;
        }
        if (n == 2) stages.Add((2, s, -1));
        _stages = [.. stages];
        _twiddles = [.. tw];
    }

    /// <summary>Forward transform of a batch; <paramref name="work"/> is a second buffer of the same size. Returns the buffer holding the result.</summary>
    public T* Forward(T* data, T* work)
    {
        T* x = data, y = work;
        fixed (T* tw = _twiddles)
            foreach (var (n, s, t) in _stages)
            {
                if (t < 0) Radix2(s, x, y);
                else Radix4(n, s, x, y, tw + t);
                T* t2 = x; x = y; y = t2;
            }
        return x;
    }

    static void Radix4(int n, int s, T* x, T* y, T* tw)
    {
        int L = Lanes, E = 2 * L, m = n / 4;
        long sm = (long)s * m * E, s1 = (long)s * E;
        for (int p = 0; p < m; p++)
        {
            var w1r = Vector256.Create(tw[6 * p]); var w1i = Vector256.Create(tw[6 * p + 1]);
            var w2r = Vector256.Create(tw[6 * p + 2]); var w2i = Vector256.Create(tw[6 * p + 3]);
            var w3r = Vector256.Create(tw[6 * p + 4]); var w3i = Vector256.Create(tw[6 * p + 5]);
            for (int q = 0; q < s; q++)
            {
                T* a = x + ((long)q + (long)s * p) * E;
                var ar = Vector256.Load(a); var ai = Vector256.Load(a + L);
                var br = Vector256.Load(a + sm); var bi = Vector256.Load(a + sm + L);
                var cr = Vector256.Load(a + 2 * sm); var ci = Vector256.Load(a + 2 * sm + L);
                var dr = Vector256.Load(a + 3 * sm); var di = Vector256.Load(a + 3 * sm + L);
                var apcR = ar + cr; var apcI = ai + ci;
                var amcR = ar - cr; var amcI = ai - ci;
                var bpdR = br + dr; var bpdI = bi + di;
                var bmdR = br - dr; var bmdI = bi - di;
                // j·(b − d) = (−bmdI, bmdR)
                var t1r = amcR + bmdI; var t1i = amcI - bmdR;
                var t2r = apcR - bpdR; var t2i = apcI - bpdI;
                var t3r = amcR - bmdI; var t3i = amcI + bmdR;
                T* o = y + ((long)q + (long)s * 4 * p) * E;
                (apcR + bpdR).Store(o); (apcI + bpdI).Store(o + L);
                (w1r * t1r - w1i * t1i).Store(o + s1); (w1r * t1i + w1i * t1r).Store(o + s1 + L);
                (w2r * t2r - w2i * t2i).Store(o + 2 * s1); (w2r * t2i + w2i * t2r).Store(o + 2 * s1 + L);
                (w3r * t3r - w3i * t3i).Store(o + 3 * s1); (w3r * t3i + w3i * t3r).Store(o + 3 * s1 + L);
            }
        }
    }

    /// <summary>The last stage when log2(length) is odd: n = 2, twiddle 1.</summary>
    static void Radix2(int s, T* x, T* y)
    {
        int L = Lanes, E = 2 * L;
        long s1 = (long)s * E;
        for (int q = 0; q < s; q++)
        {
            T* a = x + (long)q * E;
            var ar = Vector256.Load(a); var ai = Vector256.Load(a + L);
            var br = Vector256.Load(a + s1); var bi = Vector256.Load(a + s1 + L);
            T* o = y + (long)q * E;
            (ar + br).Store(o); (ai + bi).Store(o + L);
            (ar - br).Store(o + s1); (ai - bi).Store(o + s1 + L);
        }
    }
}
