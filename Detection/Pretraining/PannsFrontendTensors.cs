using NativeASD.Engine.Frontend;
using NativeASD.Engine.Architectures;

namespace NativeASD.Detection.Pretraining;

/// <summary>
/// The frozen frontend tensors a PANNs checkpoint carries (torchlibrosa's STFT as two conv kernels and the mel matrix),
/// computed for a preset, so a model we train is a complete PANNs-layout checkpoint: conv_real[k,0,n] = w[n]·cos(2πkn/N),
/// conv_imag[k,0,n] = −w[n]·sin(2πkn/N) (w = periodic Hann), melW = librosa's Slaney mel matrix [N/2+1, mel].
/// </summary>
public static class PannsFrontendTensors
{
    public static IReadOnlyList<NamedTensor> For(FrontendPreset preset)
    {
        int n = preset.NFft, bins = n / 2 + 1;
        if (preset.EffectiveWinLength != n) throw new ArgumentException($"frontend '{preset.Name}': PANNs checkpoints need window length = n_fft");
        var window = Window.Create(preset.Window, n, preset.PeriodicWindow);
        var real = new float[bins * n];
        var imag = new float[bins * n];
        for (int k = 0; k < bins; k++)
            for (int t = 0; t < n; t++)
            {
                double angle = 2 * Math.PI * ((long)k * t % n) / n;   // reduced first: exact phase for large k·t
                real[k * n + t] = (float)(window[t] * Math.Cos(angle));
                imag[k * n + t] = (float)(-window[t] * Math.Sin(angle));
            }
        var dense = MelFilterbank.Dense(bins, preset.SampleRate, preset.MelBins, preset.FMin, preset.EffectiveFMax, preset.MelScale, preset.MelNorm, preset.MelShape);
        var mel = new float[bins * preset.MelBins];
        for (int k = 0; k < bins; k++)
            for (int b = 0; b < preset.MelBins; b++) mel[k * preset.MelBins + b] = (float)dense[k, b];
        return
        [
            NamedTensor.Of("spectrogram_extractor.stft.conv_real.weight", real, bins, 1, n),
            NamedTensor.Of("spectrogram_extractor.stft.conv_imag.weight", imag, bins, 1, n),
            NamedTensor.Of("logmel_extractor.melW", mel, bins, preset.MelBins),
        ];
    }
}
