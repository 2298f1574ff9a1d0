using NAudio.Wave;
using NAudio.Wave.SampleProviders;
using NativeASD.Engine.Audio;
using Xunit.Abstractions;

namespace NativeASD.Tests.Engine.Audio;

/// <summary>
/// The resampler measured on pure tones and a sweep: passband ripple up to 0.9·min Nyquist, aliasing rejection of tones
/// above the output Nyquist when downsampling, timing (output k is the input at time k/toRate), stream consistency,
/// and NAudio's WDL resampler measured the same way for comparison. The numbers are printed (run with
/// <c>--logger "console;verbosity=detailed"</c>) and quoted in docs/frontend.md.
/// </summary>
public sealed class ResamplerTests(ITestOutputHelper output)
{
    const double Amplitude = 0.5;
    const double ToneSeconds = 0.25;

    public static TheoryData<int, int> Ratios => new()
    {
        { 16000, 32000 }, { 44100, 16000 }, { 48000, 16000 }, { 8000, 16000 }, { 22050, 16000 }, { 16000, 8000 },
    };

    static float[] Tone(double frequency, int rate, double seconds = ToneSeconds)
    {
        var x = new float[(int)(seconds * rate)];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(Amplitude * Math.Sin(2 * Math.PI * frequency * i / rate));
        return x;
    }

    /// <summary>Least-squares fit of a·cos + b·sin at <paramref name="frequency"/> over y[from..to): amplitude and the rms of what is left.</summary>
    static (double Amplitude, double ResidualRms) Fit(ReadOnlySpan<float> y, int from, int to, double frequency, int rate)
    {
        double cc = 0, ss = 0, cs = 0, yc = 0, ys = 0;
        for (int k = from; k < to; k++)
        {
            double w = 2 * Math.PI * frequency * k / rate, c = Math.Cos(w), s = Math.Sin(w);
            cc += c * c; ss += s * s; cs += c * s; yc += y[k] * c; ys += y[k] * s;
        }
        double det = cc * ss - cs * cs;
        double a = (yc * ss - ys * cs) / det, b = (ys * cc - yc * cs) / det;
        double residual = 0;
        for (int k = from; k < to; k++)
        {
            double w = 2 * Math.PI * frequency * k / rate;
            double r = y[k] - a * Math.Cos(w) - b * Math.Sin(w);
            residual += r * r;
        }
        return (Math.Sqrt(a * a + b * b), Math.Sqrt(residual / (to - from)));
    }

    static double Rms(ReadOnlySpan<float> y, int from, int to)
    {
        double sum = 0;
        for (int k = from; k < to; k++) sum += (double)y[k] * y[k];
        return Math.Sqrt(sum / (to - from));
    }

    static float[] Wdl(float[] input, int fromRate, int toRate)
    {
        var resampler = new WdlResamplingSampleProvider(new ArraySampleProvider(input, fromRate), toRate);
        var result = new List<float>();
        var buffer = new float[4096];
        int n;
        while ((n = resampler.Read(buffer)) > 0) result.AddRange(buffer.AsSpan(0, n));
        return [.. result];
    }

    sealed class ArraySampleProvider(float[] samples, int rate) : ISampleProvider
    {
        int position;
        public WaveFormat WaveFormat { get; } = WaveFormat.CreateIeeeFloatWaveFormat(rate, 1);
        public int Read(Span<float> buffer)
        {
            int n = Math.Min(buffer.Length, samples.Length - position);
            samples.AsSpan(position, n).CopyTo(buffer);
            position += n;
            return n;
        }
    }

    /// <summary>Ripple (max |gain dB| over passband tones), worst waveform error against the ideal output sine, and worst stopband rejection (dB).</summary>
    sealed record Measurement(double RippleDb, double MaxWaveformError, double StopbandDb, double ImageDb);

    static Measurement Measure(int fromRate, int toRate, Func<float[], float[]> resample, bool checkWaveform, int margin)
    {
        double nyquist = 0.5 * Math.Min(fromRate, toRate);
        double ripple = 0, waveform = 0, stop = double.PositiveInfinity, image = double.PositiveInfinity;
        for (int i = 0; i <= 24; i++)
        {
            double f = nyquist * (0.01 + 0.89 * i / 24);
            var y = resample(Tone(f, fromRate));
            int from = margin, to = y.Length - margin;
            var (a, residual) = Fit(y, from, to, f, toRate);
            ripple = Math.Max(ripple, Math.Abs(20 * Math.Log10(a / Amplitude)));
            image = Math.Min(image, 20 * Math.Log10(Amplitude / (Math.Sqrt(2) * residual)));
            if (checkWaveform)
                for (int k = from; k < to; k++)
                    waveform = Math.Max(waveform, Math.Abs(y[k] - Amplitude * Math.Sin(2 * Math.PI * f * k / toRate)));
        }
        if (toRate < fromRate)
            for (int i = 0; i <= 24; i++)
            {
                double f = 0.5 * toRate + (0.49 * fromRate - 0.5 * toRate) * i / 24;
                var y = resample(Tone(f, fromRate));
                double rms = Rms(y, margin, y.Length - margin);
                stop = Math.Min(stop, 20 * Math.Log10(Amplitude / (Math.Sqrt(2) * Math.Max(rms, 1e-30))));
            }
        return new Measurement(ripple, waveform, stop, image);
    }

    [Theory]
    [MemberData(nameof(Ratios))]
    public void PassbandRipple_StopbandRejection_AndTiming(int fromRate, int toRate)
    {
        var resampler = new Resampler(fromRate, toRate);
        int margin = (int)Math.Ceiling((double)resampler.Taps * toRate / fromRate) + 4;
        var ours = Measure(fromRate, toRate, x => Resampler.Resample(x, fromRate, toRate), checkWaveform: true, margin);
        var wdl = Measure(fromRate, toRate, x => Wdl(x, fromRate, toRate), checkWaveform: false, margin + toRate / 100);
        output.WriteLine($"{fromRate}->{toRate} (L/M {resampler.Up}/{resampler.Down}, {resampler.Taps} taps): " +
            $"ours ripple {ours.RippleDb:G3} dB, waveform error {ours.MaxWaveformError:G3}, residual {ours.ImageDb:F1} dB below, stopband {ours.StopbandDb:F1} dB | " +
            $"WDL ripple {wdl.RippleDb:G3} dB, residual {wdl.ImageDb:F1} dB below, stopband {wdl.StopbandDb:F1} dB");

        Assert.True(ours.RippleDb <= 0.001, $"ripple {ours.RippleDb} dB");
        Assert.True(ours.MaxWaveformError <= 5e-5, $"waveform error {ours.MaxWaveformError}");   // no time shift: matches sin(2πf·k/toRate)
        Assert.True(ours.ImageDb >= 90, $"residual (images, distortion) only {ours.ImageDb} dB below the tone");
        if (toRate < fromRate)
        {
            Assert.True(ours.StopbandDb >= 100, $"stopband rejection {ours.StopbandDb} dB");
            Assert.True(ours.StopbandDb > wdl.StopbandDb, "should reject aliases better than WDL");
        }
    }

    [Theory]
    [InlineData(44100, 16000)]
    [InlineData(16000, 32000)]
    public void Sweep_MatchesTheIdealChirpAtOutputTimes(int fromRate, int toRate)
    {
        // linear chirp 20 Hz → 0.85·min Nyquist over 1 s; the output must be the same chirp evaluated at k/toRate
        double f0 = 20, f1 = 0.85 * 0.5 * Math.Min(fromRate, toRate), T = 1;
        double Phase(double t) => 2 * Math.PI * (f0 * t + (f1 - f0) * t * t / (2 * T));
        var x = new float[(int)(T * fromRate)];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(Amplitude * Math.Sin(Phase((double)i / fromRate)));
        var y = Resampler.Resample(x, fromRate, toRate);
        int margin = (int)Math.Ceiling(new Resampler(fromRate, toRate).Taps * (double)toRate / fromRate) + 4;
        double worst = 0;
        for (int k = margin; k < y.Length - margin; k++)
            worst = Math.Max(worst, Math.Abs(y[k] - Amplitude * Math.Sin(Phase((double)k / toRate))));
        output.WriteLine($"sweep {fromRate}->{toRate}: max error {worst:G3} (amplitude {Amplitude})");
        Assert.True(worst <= 1e-4, $"sweep error {worst}");
    }

    [Theory]
    [InlineData(16000, 32000, 1000)]
    [InlineData(48000, 16000, 3000)]
    [InlineData(8000, 44100, 800)]
    public void Impulse_PeaksAtTheSameTime_Symmetrically(int fromRate, int toRate, int at)
    {
        var x = new float[4 * at];
        x[at] = 1;
        var y = Resampler.Resample(x, fromRate, toRate);
        double t = (double)at / fromRate;                    // the impulse's time
        int peak = Array.IndexOf(y, y.Max());
        Assert.True(Math.Abs((double)peak / toRate - t) <= 0.5 / toRate, $"peak at output {peak}, expected time {t}s");
        if (at * (long)toRate % fromRate == 0)
        {
            int k = (int)(at * (long)toRate / fromRate);     // an output sample falls exactly on the impulse: the response is symmetric about it
            for (int d = 1; d < 200; d++) Assert.Equal(y[k - d], y[k + d], 1e-7);
        }
    }

    [Theory]
    [InlineData(16000, 32000)]
    [InlineData(44100, 16000)]
    [InlineData(44100, 48000)]
    [InlineData(44101, 16000)]   // L = 16000 phases: rows computed on demand, not tabulated
    public void Streaming_InRandomChunks_IsBitIdentical(int fromRate, int toRate)
    {
        var rng = new Random(fromRate ^ toRate);
        var x = new float[fromRate == 44101 ? 3000 : 20000];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        var whole = Resampler.Resample(x, fromRate, toRate);
        Assert.Equal(new Resampler(fromRate, toRate).OutputLength(x.Length), whole.Length);

        var r = new Resampler(fromRate, toRate);
        var streamed = new List<float>();
        for (int offset = 0; offset < x.Length;)
        {
            int n = Math.Min(rng.Next(0, 700), x.Length - offset);
            var buffer = new float[r.OutputCapacity(n)];
            int written = r.Process(x.AsSpan(offset, n), buffer);
            streamed.AddRange(buffer.AsSpan(0, written));
            offset += n;
        }
        var tail = new float[r.FlushCapacity];
        streamed.AddRange(tail.AsSpan(0, r.Flush(tail)));
        Assert.Equal(whole, streamed);

        r.Reset();
        var again = new float[r.OutputCapacity(x.Length) + r.FlushCapacity];
        int m = r.Process(x, again);
        m += r.Flush(again.AsSpan(m));
        Assert.Equal(whole, again[..m]);
    }

    [Fact]
    public void LargePhaseCount_StillBandLimited()
    {
        // 44101 → 16000 has L = 16000: the on-demand path must give the same quality as the table
        var y = Resampler.Resample(Tone(3000, 44101, 0.1), 44101, 16000);
        int margin = (int)Math.Ceiling(new Resampler(44101, 16000).Taps * 16000.0 / 44101) + 4;
        for (int k = margin; k < y.Length - margin; k++)
            Assert.Equal(Amplitude * Math.Sin(2 * Math.PI * 3000 * k / 16000), y[k], 5e-5);
    }

    [Fact]
    public void EqualRates_PassThrough_And_Lengths()
    {
        float[] x = [0.1f, -0.2f, 0.3f];
        Assert.Equal(x, Resampler.Resample(x, 16000, 16000));
        Assert.Equal(3, new Resampler(16000, 48000).OutputLength(1));
        Assert.Equal(1, new Resampler(48000, 16000).OutputLength(1));
        Assert.Equal(2, new Resampler(48000, 16000).OutputLength(4));
        Assert.Equal(16000, Resampler.Resample(new float[44100], 44100, 16000).Length);
        Assert.Empty(Resampler.Resample([], 16000, 32000));
        Assert.Throws<ArgumentException>(() => new Resampler(0, 16000));
        Assert.Contains("resample in stages", Assert.Throws<ArgumentException>(() => new Resampler(10_000_000, 1)).Message);
        Assert.Throws<ArgumentException>(() => new Resampler(16000, 8000, new ResamplerOptions(PassbandEdge: 1.2)));
    }

    /// <summary>Two resamplers of one ratio give the same bits, also when one has run on other input and was reset, and
    /// equal the one-call <see cref="Resampler.Resample"/>: no state leaks between instances or runs.</summary>
    [Fact]
    public void Deterministic_AcrossInstances()
    {
        var x = Tone(1234, 48000);
        float[] Run(Resampler r)
        {
            var y = new float[r.OutputCapacity(x.Length) + r.FlushCapacity];
            int n = r.Process(x, y);
            n += r.Flush(y.AsSpan(n));
            return y[..n];
        }
        var fresh = new Resampler(48000, 16000);
        var used = new Resampler(48000, 16000);
        var other = Tone(3210, 48000, 0.1);
        used.Process(other, new float[used.OutputCapacity(other.Length)]);
        used.Reset();
        var expected = Run(fresh);
        Assert.Equal(expected, Run(used));
        Assert.Equal(expected, Resampler.Resample(x, 48000, 16000));
    }
}
