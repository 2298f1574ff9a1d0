using System.Numerics;
using System.Runtime.Intrinsics;

namespace NativeASD.Engine.Frontend;

/// <summary>
/// The windowed DFT power |X[k]|², k = 0..n_fft/2, of a batch of <see cref="Lanes"/> frames at once (one frame per
/// vector lane). Power-of-two n_fft: the real signal is packed as n_fft/2 complex points and split after a half-length
/// FFT. Any other n_fft (400, 480, …): Bluestein's chirp-z, a convolution done with power-of-two FFTs; its chirp is
/// built from n² mod 2n in integers so the phases stay exact in double.
/// </summary>
internal sealed unsafe class LaneSpectrum<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Lanes => Vector256<T>.Count;
    public int NFft { get; }
    public int Bins => NFft / 2 + 1;
    public int WinLength => _window.Length;
    /// <summary>T elements each of the two scratch buffers needs.</summary>
    public int ScratchLength { get; }

    readonly T[] _window;
    readonly LaneFft<T> _fft;
    readonly bool _pow2;
    readonly T[] _split;          // pow2: cos, sin of 2πk/n_fft for k < n_fft/2
    readonly T[] _chirp = [];     // Bluestein: window·exp(−iπn²/N) per input sample (re, im)
    readonly T[] _kernel = [];    // Bluestein: FFT of the conjugate chirp / M (re, im)

    public LaneSpectrum(int nFft, double[] window)
    {
        if (window.Length > nFft) throw new ArgumentException($"stft: window length {window.Length} exceeds n_fft {nFft}");
        NFft = nFft;
        _window = [.. window.Select(T.CreateChecked)];
        _pow2 = BitOperations.IsPow2(nFft) && nFft >= 2;
        if (_pow2)
        {
            int h = nFft / 2;
            _fft = new LaneFft<T>(h);
            _split = new T[2 * h];
            for (int k = 0; k < h; k++)
            {
                _split[2 * k] = T.CreateChecked(Math.Cos(2 * Math.PI * k / nFft));
                _split[2 * k + 1] = T.CreateChecked(Math.Sin(2 * Math.PI * k / nFft));
            }
            ScratchLength = nFft * Lanes;
        }
        else
        {
            int m = (int)BitOperations.RoundUpToPowerOf2((uint)(2 * nFft - 1));
            _fft = new LaneFft<T>(m);
            _split = [];
            ScratchLength = 2 * m * Lanes;
            var chirp = new double[2 * nFft];
            for (int n = 0; n < nFft; n++)
            {
                double a = -Math.PI * ((long)n * n % (2L * nFft)) / nFft;
                chirp[2 * n] = Math.Cos(a); chirp[2 * n + 1] = Math.Sin(a);
            }
            _chirp = new T[2 * window.Length];
            for (int n = 0; n < window.Length; n++)
            {
                _chirp[2 * n] = T.CreateChecked(window[n] * chirp[2 * n]);
                _chirp[2 * n + 1] = T.CreateChecked(window[n] * chirp[2 * n + 1]);
            }
            _kernel = ChirpKernel(nFft, m, chirp);
        }
    }

    /// <summary>FFT_M of b[n] = conj(chirp[|n|]) wrapped around M, divided by M, computed in double.</summary>
    static T[] ChirpKernel(int n, int m, double[] chirp)
    {
        int L = LaneFft<double>.Lanes;
        var fft = new LaneFft<double>(m);
        var a = new double[2 * m * L];
        var b = new double[2 * m * L];
        void Put(int i, double re, double im) { for (int l = 0; l < L; l++) { a[2 * i * L + l] = re; a[2 * i * L + L + l] = im; } }
        for (int i = 0; i < n; i++)
        {
            Put(i, chirp[2 * i], -chirp[2 * i + 1]);
            if (i > 0) Put(m - i, chirp[2 * i], -chirp[2 * i + 1]);
        }
        var kernel = new T[2 * m];
        fixed (double* pa = a, pb = b)
        {
            double* r = fft.Forward(pa, pb);
            for (int i = 0; i < m; i++)
            {
                kernel[2 * i] = T.CreateChecked(r[2 * i * L] / m);
                kernel[2 * i + 1] = T.CreateChecked(r[2 * i * L + L] / m);
            }
        }
        return kernel;
    }

    /// <summary>
    /// Power of the frames starting at <paramref name="starts"/>[l] in <paramref name="signal"/> (a negative start
    /// leaves lane l empty). Writes <see cref="Bins"/> vectors to <paramref name="power"/> (bin k at k·L).
    /// </summary>
    public void Power(float* signal, ReadOnlySpan<long> starts, T* bufA, T* bufB, T* power)
    {
        if (_pow2) LoadReal(signal, starts, bufA);
        else LoadChirped(signal, starts, bufA);
        if (_pow2) SplitReal(_fft.Forward(bufA, bufB), power);
        else Bluestein(bufA, bufB, power);
    }

    void LoadReal(float* signal, ReadOnlySpan<long> starts, T* buf)
    {
        int L = Lanes, w = _window.Length;
        new Span<T>(buf, NFft * L).Clear();
        fixed (T* win = _window)
            for (int l = 0; l < L; l++)
            {
                if (starts[l] < 0) continue;
                float* s = signal + starts[l];
                T* d = buf + l;
                for (int p = 0; p < w; p++) d[(long)p * L] = T.CreateTruncating(s[p]) * win[p];
            }
    }

    void LoadChirped(float* signal, ReadOnlySpan<long> starts, T* buf)
    {
        int L = Lanes, w = _window.Length;
        new Span<T>(buf, ScratchLength).Clear();
        fixed (T* c = _chirp)
            for (int l = 0; l < L; l++)
            {
                if (starts[l] < 0) continue;
                float* s = signal + starts[l];
                T* d = buf + l;
                for (int p = 0; p < w; p++)
                {
                    T x = T.CreateTruncating(s[p]);
                    d[(long)p * 2 * L] = x * c[2 * p];
                    d[(long)p * 2 * L + L] = x * c[2 * p + 1];
                }
            }
    }

    /// <summary>X[k] = E[k] + W^k·O[k] from the half-length transform Z of the packed even/odd samples.</summary>
    void SplitReal(T* z, T* power)
    {
        int L = Lanes, h = NFft / 2;
        var half = Vector256.Create(T.CreateChecked(0.5));
        var z0r = Vector256.Load(z); var z0i = Vector256.Load(z + L);
        ((z0r + z0i) * (z0r + z0i)).Store(power);
        ((z0r - z0i) * (z0r - z0i)).Store(power + (long)h * L);
        fixed (T* tw = _split)
            for (int k = 1; k < h; k++)
            {
                T* a = z + (long)k * 2 * L, b = z + (long)(h - k) * 2 * L;
                var ar = Vector256.Load(a); var ai = Vector256.Load(a + L);
                var br = Vector256.Load(b); var bi = Vector256.Load(b + L);
                var er = (ar + br) * half; var ei = (ai - bi) * half;
                // O = (Z[k] − conj(Z[h−k])) / 2i
                var or = (ai + bi) * half; var oi = (br - ar) * half;
                var c = Vector256.Create(tw[2 * k]); var s = Vector256.Create(tw[2 * k + 1]);
                // W^k = c − i·s
                var xr = er + c * or + s * oi;
                var xi = ei + c * oi - s * or;
                (xr * xr + xi * xi).Store(power + (long)k * L);
            }
    }

    void Bluestein(T* a, T* b, T* power)
    {
        int L = Lanes, m = _fft.Length;
        T* spec = _fft.Forward(a, b);
        T* other = spec == a ? b : a;
        fixed (T* kern = _kernel)
            for (int i = 0; i < m; i++)
            {
                T* p = spec + (long)i * 2 * L;
                var xr = Vector256.Load(p); var xi = Vector256.Load(p + L);
                var kr = Vector256.Create(kern[2 * i]); var ki = Vector256.Create(kern[2 * i + 1]);
                // conj(X·K): the inverse FFT as a forward FFT of the conjugate; |·| is unaffected by the final conjugation.
                (xr * kr - xi * ki).Store(p);
                (-(xr * ki + xi * kr)).Store(p + L);
            }
        T* c = _fft.Forward(spec, other);
        for (int k = 0; k < Bins; k++)
        {
            var cr = Vector256.Load(c + (long)k * 2 * L); var ci = Vector256.Load(c + (long)k * 2 * L + L);
            (cr * cr + ci * ci).Store(power + (long)k * L);
        }
    }
}
