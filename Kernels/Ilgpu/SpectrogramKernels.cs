using ILGPU;
using ILGPU.Runtime;

namespace NativeASD.Kernels.Ilgpu;

/// <summary>Scalars of the spectrogram kernels.</summary>
public struct SpectrogramParams
{
    public long FirstStart;  // offset of frame 0's window in the signal
    public int Hop, Win, NFft, Bins, Bands;
    public int Magnitude;    // 1: |X|, 0: |X|²
}

/// <summary>
/// The STFT → mel stage on an ILGPU device: one thread per (frame, bin) computes the windowed DFT directly
/// (twiddles from a table indexed by k·n mod n_fft, accumulated in double), one thread per (frame, band) applies the
/// sparse mel weights. Log and DCT stay on the host: they are cheap and need the whole clip (top_db).
/// </summary>
public sealed class IlgpuSpectrogramPlan : IDisposable
{
    readonly IlgpuBackend _backend;
    readonly SpectrogramParams _p;
    readonly MemoryBuffer1D<float, Stride1D.Dense> _window, _weights;
    readonly MemoryBuffer1D<double, Stride1D.Dense> _cos, _sin;
    readonly MemoryBuffer1D<int, Stride1D.Dense> _bandStart, _bandLength, _bandOffset;
    readonly Action<Index2D, ArrayView<float>, ArrayView<float>, ArrayView<double>, ArrayView<double>, ArrayView<double>, SpectrogramParams> _power;
    readonly Action<Index2D, ArrayView<double>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, SpectrogramParams> _mel;

    /// <param name="bandStart">first bin of each band; with <paramref name="bandLength"/> and the flattened
    /// <paramref name="bandWeights"/> (band b's weights from <paramref name="bandOffset"/>[b]) the sparse filterbank.
    /// A linear spectrum is the identity bank (one weight 1 per bin).</param>
    public IlgpuSpectrogramPlan(IlgpuBackend backend, int nFft, int hop, double[] window, bool magnitude,
        int[] bandStart, int[] bandLength, int[] bandOffset, float[] bandWeights)
    {
        _backend = backend;
        _p = new SpectrogramParams { Hop = hop, Win = window.Length, NFft = nFft, Bins = nFft / 2 + 1, Bands = bandStart.Length, Magnitude = magnitude ? 1 : 0 };
        var cos = new double[nFft];
        var sin = new double[nFft];
        for (int i = 0; i < nFft; i++) { cos[i] = Math.Cos(2 * Math.PI * i / nFft); sin[i] = Math.Sin(2 * Math.PI * i / nFft); }
        var a = backend.Accelerator;
        lock (backend.Gate)
        {
            backend.EnterDevice();
            _window = a.Allocate1D([.. window.Select(w => (float)w)]);
            _weights = a.Allocate1D(bandWeights.Length == 0 ? [0f] : bandWeights);
            _cos = a.Allocate1D(cos);
            _sin = a.Allocate1D(sin);
            _bandStart = a.Allocate1D(bandStart);
            _bandLength = a.Allocate1D(bandLength);
            _bandOffset = a.Allocate1D(bandOffset);
            _power = a.LoadAutoGroupedStreamKernel<Index2D, ArrayView<float>, ArrayView<float>, ArrayView<double>, ArrayView<double>, ArrayView<double>, SpectrogramParams>(PowerKernel);
            _mel = a.LoadAutoGroupedStreamKernel<Index2D, ArrayView<double>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, SpectrogramParams>(MelKernel);
        }
    }

    /// <summary>Rows [frames, bands] of the frames at <paramref name="firstStart"/> + j·hop of an already padded <paramref name="signal"/>.</summary>
    public void Run(ReadOnlySpan<float> signal, long firstStart, int frames, Span<float> rows)
    {
        if (rows.Length != (long)frames * _p.Bands) throw new ArgumentException($"ilgpu spectrogram: output holds {rows.Length} values, need {frames}x{_p.Bands}");
        var p = _p;
        p.FirstStart = firstStart;
        var a = _backend.Accelerator;
        lock (_backend.Gate)
        {
            _backend.EnterDevice();
            using var x = a.Allocate1D<float>(signal.Length);
            using var power = a.Allocate1D<double>((long)frames * p.Bins);
            using var y = a.Allocate1D<float>(Math.Max(1, rows.Length));
            ArrayView<float> xv = x.View, yv = y.View;
            xv.CopyFromCPU(signal);
            _power(new Index2D(frames, p.Bins), x.View, _window.View, _cos.View, _sin.View, power.View, p);
            _mel(new Index2D(frames, p.Bands), power.View, _weights.View, _bandStart.View, _bandLength.View, _bandOffset.View, y.View, p);
            yv.SubView(0, rows.Length).CopyToCPU(rows);
        }
    }

    static void PowerKernel(Index2D i, ArrayView<float> signal, ArrayView<float> window, ArrayView<double> cos, ArrayView<double> sin,
        ArrayView<double> power, SpectrogramParams p)
    {
        int frame = i.X, k = i.Y;
        long start = p.FirstStart + (long)frame * p.Hop;
        double re = 0, im = 0;
        for (int n = 0; n < p.Win; n++)
        {
            double x = (double)signal[start + n] * window[n];
            int t = (int)((long)k * n % p.NFft);
            re += x * cos[t];
            im -= x * sin[t];
        }
        double v = re * re + im * im;
        power[(long)frame * p.Bins + k] = p.Magnitude != 0 ? Math.Sqrt(v) : v;
    }

    static void MelKernel(Index2D i, ArrayView<double> power, ArrayView<float> weights, ArrayView<int> bandStart, ArrayView<int> bandLength,
        ArrayView<int> bandOffset, ArrayView<float> rows, SpectrogramParams p)
    {
        int frame = i.X, b = i.Y;
        long row = (long)frame * p.Bins + bandStart[b];
        int offset = bandOffset[b];
        double acc = 0;
        for (int j = 0; j < bandLength[b]; j++) acc += weights[offset + j] * power[row + j];
        rows[(long)frame * p.Bands + b] = (float)acc;
    }

    public void Dispose()
    {
        lock (_backend.Gate)
        {
            _backend.EnterDevice();
            _window.Dispose(); _weights.Dispose(); _cos.Dispose(); _sin.Dispose();
            _bandStart.Dispose(); _bandLength.Dispose(); _bandOffset.Dispose();
        }
    }
}

public sealed partial class IlgpuBackend
{
    internal object Gate => _gate;
    internal void EnterDevice() => Enter();
}
