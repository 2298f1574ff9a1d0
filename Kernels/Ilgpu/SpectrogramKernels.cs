using ILGPU;
using ILGPU.Runtime;

namespace NativeASD.Kernels.Ilgpu;

/// <summary>Scalars of the spectrogram kernels.</summary>
public struct SpectrogramParams
{
    public long FirstStart;  // offset of frame 0's window in each clip's signal
    public long Length;      // samples per clip (the clips lie back to back)
    public int Frames;       // frames per clip
    public int Hop, Win, NFft, Bins, Bands;
    public int Magnitude;    // 1: |X|, 0: |X|²
    public SpectrogramLog Log;
}

/// <summary>
/// The log stage on the device, for presets whose log needs no statistic of the whole clip (no ref=max, no top_db):
/// y = (log(x) − RefDb + NormOffset) / NormDivisor with the preset's kind of log. The default (NormDivisor 0) is no
/// stage at all: the rows stay the linear (mel) spectrum.
/// </summary>
public struct SpectrogramLog
{
    public int Kind;         // 0 none, 1 10·log10(max(x + offset, amin)) − refDb, 2 ln(x + offset), 3 ln(x) for x > 0 else 0
    public double Offset, Amin, RefDb, NormOffset, NormDivisor;
}

/// <summary>
/// The STFT → mel (→ log) stage on an ILGPU device, for a batch of clips of one length in one launch per stage: one
/// thread per (clip·frame, bin) computes the windowed DFT directly (twiddles from a table indexed by k·n mod n_fft,
/// accumulated in double), one thread per (clip·frame, band) applies the sparse mel weights and, when asked, the log.
/// A log that needs the whole clip (ref=max, top_db) and the DCT stay on the host.
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

    /// <summary>Rows [frames, bands] of the frames at <paramref name="firstStart"/> + j·hop of an already padded <paramref name="signal"/> (linear: no log).</summary>
    public void Run(ReadOnlySpan<float> signal, long firstStart, int frames, Span<float> rows)
    {
        if (rows.Length != (long)frames * _p.Bands) throw new ArgumentException($"ilgpu spectrogram: output holds {rows.Length} values, need {frames}x{_p.Bands}");
        var a = _backend.Accelerator;
        lock (_backend.Gate)
        {
            _backend.EnterDevice();
            using var y = a.Allocate1D<float>(Math.Max(1, rows.Length));
            Launch(signal, 1, firstStart, frames, y.View, default);
            ArrayView<float> yv = y.View;
            yv.SubView(0, rows.Length).CopyToCPU(rows);
        }
    }

    /// <summary>
    /// Rows of <paramref name="clips"/> clips lying back to back in <paramref name="signals"/> (each already padded, of
    /// equal length), [clips·frames, bands] into device storage <paramref name="rows"/> (e.g. a tensor [clips, 1, frames,
    /// bands]), with <paramref name="log"/> applied on the device. Nothing comes back to the host.
    /// </summary>
    public void Run(ReadOnlySpan<float> signals, int clips, long firstStart, int frames, Storage rows, SpectrogramLog log)
    {
        long need = (long)clips * frames * _p.Bands;
        if (rows is not IlgpuStorage storage || !ReferenceEquals(storage.Backend, _backend))
            throw new ArgumentException($"ilgpu spectrogram: output storage belongs to {rows.Backend.Kind}, not to this device");
        if (clips < 1 || signals.Length % clips != 0 || storage.Length < need)
            throw new ArgumentException($"ilgpu spectrogram: {signals.Length} samples are not {clips} equal clips, or storage of {storage.Length} holds fewer than {need} values");
        lock (_backend.Gate)
        {
            _backend.EnterDevice();
            Launch(signals, clips, firstStart, frames, storage.View, log);
        }
    }

    /// <summary>Under the lock: uploads the clips, runs both stages into <paramref name="rows"/>.</summary>
    void Launch(ReadOnlySpan<float> signals, int clips, long firstStart, int frames, ArrayView<float> rows, SpectrogramLog log)
    {
        var p = _p;
        (p.FirstStart, p.Length, p.Frames, p.Log) = (firstStart, signals.Length / clips, frames, log);
        var a = _backend.Accelerator;
        using var x = a.Allocate1D<float>(Math.Max(1, signals.Length));
        using var power = a.Allocate1D<double>(Math.Max(1, (long)clips * frames * p.Bins));
        ArrayView<float> xv = x.View;
        xv.SubView(0, signals.Length).CopyFromCPU(signals);
        long rowCount = (long)clips * frames;
        if (rowCount == 0) return;
        _power(new Index2D(checked((int)rowCount), p.Bins), x.View, _window.View, _cos.View, _sin.View, power.View, p);
        _mel(new Index2D(checked((int)rowCount), p.Bands), power.View, _weights.View, _bandStart.View, _bandLength.View, _bandOffset.View, rows, p);
    }

    static void PowerKernel(Index2D i, ArrayView<float> signal, ArrayView<float> window, ArrayView<double> cos, ArrayView<double> sin,
        ArrayView<double> power, SpectrogramParams p)
    {
        int frame = i.X, k = i.Y;   // frame counts over all clips: clip frame / Frames, its frame frame % Frames
        long start = frame / p.Frames * p.Length + p.FirstStart + (long)(frame % p.Frames) * p.Hop;
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
        rows[(long)frame * p.Bands + b] = Logged((float)acc, p.Log);
    }

    /// <summary>The host's log stage (AudioFrontend.Finish) on one value, rounded to float where the host rounds.</summary>
    static float Logged(float x, SpectrogramLog log)
    {
        if (log.NormDivisor == 0) return x;
        double v = x;
        if (log.Kind == 1)
        {
            v = (float)(v + log.Offset);
            if (log.Amin > 0) v = Math.Max(v, (float)log.Amin);
            v = (float)(10 * Math.Log10(v)) - log.RefDb;
        }
        else if (log.Kind == 2) v = Math.Log((float)(v + log.Offset));
        else if (log.Kind == 3) v = v > 0 ? Math.Log(v) : 0;
        return (float)((float)(v + log.NormOffset) / log.NormDivisor);
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
