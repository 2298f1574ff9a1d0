namespace NativeASD.Engine.Frontend;

/// <summary>Analysis windows, computed in double (torch.hann_window / hamming_window conventions).</summary>
public static class Window
{
    /// <summary>
    /// Periodic windows use denominator N (DFT-even: torch/scipy <c>fftbins=True</c>), symmetric ones N − 1.
    /// Hann: 0.5 − 0.5·cos(2πn/D); Hamming: 0.54 − 0.46·cos(2πn/D).
    /// </summary>
    public static double[] Create(WindowKind kind, int length, bool periodic = true)
    {
        if (length < 1) throw new ArgumentOutOfRangeException(nameof(length), $"window: length must be >= 1, got {length}");
        var w = new double[length];
        if (length == 1) { w[0] = 1; return w; }
        double d = periodic ? length : length - 1;
        (double a, double b) = kind == WindowKind.Hann ? (0.5, 0.5) : (0.54, 0.46);
        for (int n = 0; n < length; n++) w[n] = a - b * Math.Cos(2 * Math.PI * n / d);
        return w;
    }
}
