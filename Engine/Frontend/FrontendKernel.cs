using System.Numerics;
using System.Runtime.Intrinsics;

namespace NativeASD.Engine.Frontend;

/// <summary>
/// Frames → (mel) spectrum rows for one precision T, a batch of <see cref="LaneSpectrum{T}.Lanes"/> frames at a time:
/// power, optional magnitude, sparse mel bands, all on vector lanes; then one row per frame in float.
/// Each frame's result is independent of the batch it ran in, so output does not depend on threads or batching.
/// </summary>
internal sealed unsafe class FrontendKernel<T> : IFrontendKernel where T : unmanaged, IFloatingPointIeee754<T>
{
    readonly LaneSpectrum<T> _spectrum;
    readonly bool _magnitude;
    readonly bool _mel;
    readonly int[] _bandStart = [];
    readonly int[] _bandLength = [];
    readonly T[] _bandWeights = [];
    readonly int[] _bandOffset = [];
    public int Bands { get; }

    [ThreadStatic] static T[]? s_scratch;

    public FrontendKernel(FrontendPreset p)
    {
        var window = Window.Create(p.Window, p.EffectiveWinLength, p.PeriodicWindow);
        _spectrum = new LaneSpectrum<T>(p.NFft, window);
        _magnitude = p.Spectrum == SpectrumKind.Magnitude;
        _mel = p.MelBins > 0;
        if (_mel)
        {
            var fb = MelFilterbank.Create(p);
            Bands = fb.Bands;
            _bandStart = fb.Start;
            _bandLength = [.. fb.Weights.Select(w => w.Length)];
            _bandOffset = new int[Bands];
            var weights = new List<T>();
            for (int b = 0; b < Bands; b++) { _bandOffset[b] = weights.Count; weights.AddRange(fb.Weights[b].Select(T.CreateChecked)); }
            _bandWeights = [.. weights];
        }
        else Bands = _spectrum.Bins;
    }

    public int Lanes => LaneSpectrum<T>.Lanes;

    /// <summary>Rows for frames [first, first + count) of <paramref name="signal"/> (already padded) into <paramref name="output"/> (row-major, <see cref="Bands"/> wide).</summary>
    public void Rows(float* signal, long firstStart, int hop, int first, int count, float* output)
    {
        int L = Lanes, bins = _spectrum.Bins;
        int need = 2 * _spectrum.ScratchLength + bins * L + Bands * L;
        var scratch = s_scratch;
        if (scratch is null || scratch.Length < need) s_scratch = scratch = GC.AllocateUninitializedArray<T>(need, pinned: true);
        Span<long> starts = stackalloc long[L];
        fixed (T* s = scratch)
        {
            T* a = s, b = s + _spectrum.ScratchLength, power = b + _spectrum.ScratchLength, bands = power + bins * L;
            for (int f0 = 0; f0 < count; f0 += L)
            {
                int n = Math.Min(L, count - f0);
                for (int l = 0; l < L; l++) starts[l] = l < n ? firstStart + (long)(first + f0 + l) * hop : -1;
                _spectrum.Power(signal, starts, a, b, power);
                if (_magnitude)
                    for (int k = 0; k < bins; k++) Vector256.Sqrt(Vector256.Load(power + k * L)).Store(power + k * L);
                T* rows = power;
                if (_mel)
                {
                    ApplyMel(power, bands);
                    rows = bands;
                }
                float* o = output + (long)f0 * Bands;
                for (int l = 0; l < n; l++)
                    for (int k = 0; k < Bands; k++) o[(long)l * Bands + k] = float.CreateTruncating(rows[k * L + l]);
            }
        }
    }

    void ApplyMel(T* power, T* bands)
    {
        int L = Lanes;
        fixed (T* w = _bandWeights)
            for (int m = 0; m < Bands; m++)
            {
                var acc = Vector256<T>.Zero;
                T* p = power + (long)_bandStart[m] * L;
                T* wm = w + _bandOffset[m];
                for (int j = 0; j < _bandLength[m]; j++) acc += Vector256.Create(wm[j]) * Vector256.Load(p + j * L);
                acc.Store(bands + m * L);
            }
    }
}

/// <summary>The precision-independent face of <see cref="FrontendKernel{T}"/>.</summary>
internal unsafe interface IFrontendKernel
{
    int Bands { get; }
    int Lanes { get; }
    void Rows(float* signal, long firstStart, int hop, int first, int count, float* output);
}
