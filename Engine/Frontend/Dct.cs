namespace NativeASD.Engine.Frontend;

/// <summary>DCT-II with orthonormal scaling (torchaudio create_dct(norm='ortho'), librosa.filters.dct).</summary>
public static class Dct
{
    /// <summary>Matrix [coefficients, inputs]: row 0 is √(1/N); row k is √(2/N)·cos(πk(2n + 1)/(2N)).</summary>
    public static double[,] OrthoMatrix(int coefficients, int inputs)
    {
        if (coefficients < 1 || coefficients > inputs) throw new ArgumentException($"dct: need 1 <= coefficients <= inputs, got {coefficients} and {inputs}");
        var d = new double[coefficients, inputs];
        for (int k = 0; k < coefficients; k++)
            for (int n = 0; n < inputs; n++)
                d[k, n] = k == 0 ? Math.Sqrt(1.0 / inputs) : Math.Sqrt(2.0 / inputs) * Math.Cos(Math.PI * k * (2 * n + 1) / (2.0 * inputs));
        return d;
    }
}
