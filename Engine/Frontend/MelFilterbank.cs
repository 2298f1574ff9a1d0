namespace NativeASD.Engine.Frontend;

/// <summary>
/// A mel filterbank stored sparsely: each band keeps only its contiguous run of non-zero weights over the
/// linear bins, so applying it costs about two multiply-adds per bin instead of a dense [bins × bands] product.
/// Weights are built in double and match librosa.filters.mel / torchaudio melscale_fbanks (or
/// tf.signal.linear_to_mel_weight_matrix for <see cref="MelShape.TensorFlow"/>, torchaudio's kaldi get_mel_banks for
/// <see cref="MelShape.Kaldi"/>).
/// </summary>
public sealed class MelFilterbank
{
    /// <summary>First linear bin of each band.</summary>
    public int[] Start { get; }
    /// <summary>Weights of each band from <see cref="Start"/> on.</summary>
    public double[][] Weights { get; }
    public int Bands => Start.Length;
    public int LinearBins { get; }

    MelFilterbank(int linearBins, int[] start, double[][] weights) { LinearBins = linearBins; Start = start; Weights = weights; }

    public static double HzToMel(double hz, MelScale scale)
    {
        if (scale == MelScale.Htk) return 2595.0 * Math.Log10(1.0 + hz / 700.0);
        const double fSp = 200.0 / 3, minLogHz = 1000.0, minLogMel = minLogHz / fSp;
        double logStep = Math.Log(6.4) / 27.0;
        return hz >= minLogHz ? minLogMel + Math.Log(hz / minLogHz) / logStep : hz / fSp;
    }

    public static double MelToHz(double mel, MelScale scale)
    {
        if (scale == MelScale.Htk) return 700.0 * (Math.Pow(10.0, mel / 2595.0) - 1.0);
        const double fSp = 200.0 / 3, minLogHz = 1000.0, minLogMel = minLogHz / fSp;
        double logStep = Math.Log(6.4) / 27.0;
        return mel >= minLogMel ? minLogHz * Math.Exp(logStep * (mel - minLogMel)) : fSp * mel;
    }

    public static MelFilterbank Create(FrontendPreset p) =>
        Create(p.NFft / 2 + 1, p.SampleRate, p.MelBins, p.FMin, p.EffectiveFMax, p.MelScale, p.MelNorm, p.MelShape);

    /// <summary>The dense [linearBins, bands] matrix (torchaudio layout), built in double.</summary>
    public static double[,] Dense(int linearBins, int sampleRate, int bands, double fMin, double fMax,
        MelScale scale, MelNorm norm, MelShape shape)
    {
        var fb = new double[linearBins, bands];
        if (shape is MelShape.TensorFlow or MelShape.Kaldi)
        {
            // Triangles linear in HTK mel (1127·ln(1 + f/700)) between equally spaced edges. TensorFlow
            // (linear_to_mel_weight_matrix) zeroes bin 0; Kaldi (get_mel_banks) covers bins below n_fft/2 and leaves the
            // Nyquist bin's column zero (EfficientAT pads it).
            static double TfMel(double f) => 1127.0 * Math.Log(1.0 + f / 700.0);
            double lo = TfMel(fMin), hi = TfMel(fMax);
            int first = shape == MelShape.TensorFlow ? 1 : 0, end = shape == MelShape.TensorFlow ? linearBins : linearBins - 1;
            for (int k = first; k < end; k++)
            {
                double m = TfMel(sampleRate / 2.0 * k / (linearBins - 1));
                for (int b = 0; b < bands; b++)
                {
                    double e0 = lo + (hi - lo) * b / (bands + 1), e1 = lo + (hi - lo) * (b + 1) / (bands + 1), e2 = lo + (hi - lo) * (b + 2) / (bands + 1);
                    fb[k, b] = Math.Max(0, Math.Min((m - e0) / (e1 - e0), (e2 - m) / (e2 - e1)));
                }
            }
            return fb;
        }
        // librosa/torchaudio: bin frequencies linspace(0, sr/2); edges mel-spaced; triangles linear in Hz.
        var f = new double[bands + 2];
        double mMin = HzToMel(fMin, scale), mMax = HzToMel(fMax, scale);
        for (int i = 0; i < f.Length; i++) f[i] = MelToHz(mMin + (mMax - mMin) * i / (bands + 1), scale);
        double nyquist = sampleRate / 2;  // torchaudio uses sample_rate // 2
        for (int k = 0; k < linearBins; k++)
        {
            double hz = linearBins == 1 ? 0 : nyquist * k / (linearBins - 1);
            for (int b = 0; b < bands; b++)
            {
                double down = (hz - f[b]) / (f[b + 1] - f[b]), up = (f[b + 2] - hz) / (f[b + 2] - f[b + 1]);
                double w = Math.Max(0, Math.Min(down, up));
                if (norm == MelNorm.Slaney) w *= 2.0 / (f[b + 2] - f[b]);
                fb[k, b] = w;
            }
        }
        return fb;
    }

    public static MelFilterbank Create(int linearBins, int sampleRate, int bands, double fMin, double fMax,
        MelScale scale = MelScale.Slaney, MelNorm norm = MelNorm.Slaney, MelShape shape = MelShape.Librosa)
    {
        if (linearBins < 2 || bands < 1) throw new ArgumentException($"mel filterbank: need >= 2 linear bins and >= 1 band, got {linearBins} and {bands}");
        var dense = Dense(linearBins, sampleRate, bands, fMin, fMax, scale, norm, shape);
        var start = new int[bands];
        var weights = new double[bands][];
        for (int b = 0; b < bands; b++)
        {
            int first = 0, last = -1;
            for (int k = 0; k < linearBins; k++) if (dense[k, b] != 0) { if (last < 0) first = k; last = k; }
            start[b] = last < 0 ? 0 : first;
            weights[b] = new double[last < 0 ? 0 : last - first + 1];
            for (int k = first; k <= last; k++) weights[b][k - first] = dense[k, b];
        }
        return new MelFilterbank(linearBins, start, weights);
    }
}
