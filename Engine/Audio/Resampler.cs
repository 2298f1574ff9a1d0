using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeASD.Engine.Audio;

/// <summary>
/// Filter design of a <see cref="Resampler"/>, as fractions of the lower of the two Nyquist frequencies.
/// Defaults: flat (ripple ≈ 10^(−A/20)) up to 0.9·Nyquist, at least <see cref="AttenuationDb"/> = 100 dB of rejection from
/// 1.0·Nyquist up, so a downsampler does not alias and an upsampler leaves no images.
/// </summary>
public sealed record ResamplerOptions(double PassbandEdge = 0.9, double StopbandEdge = 1.0, double AttenuationDb = 100)
{
    public static ResamplerOptions Default { get; } = new();
}

/// <summary>
/// Streaming band-limited resampler for any rational ratio: a Kaiser-windowed sinc low-pass evaluated in polyphase form.
/// <para>With L/M = toRate/fromRate in lowest terms, output sample k is the band-limited value of the input at time
/// k/toRate, i.e. at input position p = k·M/L: y[k] = Σ_j x[⌊p⌋+j]·h(j − frac(p)), where h is the windowed sinc with
/// cutoff halfway between the pass and stop edges and a Kaiser window (β and length from Kaiser's formulas for the
/// requested attenuation and transition width). The L phases frac(p) = φ/L each get a row of taps, normalised to unit
/// DC gain. The filter is centred on p, so there is no time shift (no group delay to compensate); the input is taken
/// as zero before its first sample and after its last.</para>
/// <para>Streaming shape: call <see cref="Process"/> with consecutive input blocks; each call writes every output
/// whose taps are now all available (at most <see cref="OutputCapacity"/>(input.Length)) and returns the count; then
/// <see cref="Flush"/> once writes the tail (at most <see cref="FlushCapacity"/>). In total exactly
/// <see cref="OutputLength"/>(inputs) = ⌈inputs·L/M⌉ samples come out, and any split into blocks gives bit-identical
/// output because every sample is the same dot product over the same values.</para>
/// <para>Equal rates pass samples through unchanged.</para>
/// </summary>
public sealed class Resampler
{
    /// <summary>Above this many table floats (L × taps) rows are computed per output instead of stored.</summary>
    const int MaxTableFloats = 1 << 22;

    /// <summary>Longest filter accepted (a downsampling ratio of ~1000 at the default design).</summary>
    const int MaxTaps = 1 << 17;

    readonly float[]? table;        // [L, Taps]: row φ holds h(j − φ/L) for j = 1−H … Taps−H
    readonly float[] scratchRow;     // row computed on demand when there is no table
    int scratchPhase = -1;
    readonly int half;               // H: taps reach H−1 samples back from ⌊p⌋ and Taps−H forward
    readonly double cutoff, windowHalfWidth, beta, i0Beta;

    float[] history;                 // inputs from index historyStart on (index < 0 is the zero padding before the start)
    int historyCount;
    long historyStart;
    long inputCount;                 // inputs received so far
    long nextOutput;                 // k of the next output sample
    long nextBase;                   // ⌊k·M/L⌋ for k = nextOutput, kept incrementally (no 64-bit division per sample)
    int nextPhase;                   // k·M mod L
    bool flushed;

    public Resampler(int fromRate, int toRate, ResamplerOptions? options = null)
    {
        if (fromRate <= 0 || toRate <= 0)
            throw new ArgumentException($"resampler rates must be positive, got {fromRate} Hz → {toRate} Hz");
        Options = options ?? ResamplerOptions.Default;
        var o = Options;
        if (!(o.PassbandEdge > 0 && o.PassbandEdge < o.StopbandEdge && o.StopbandEdge <= 1.5) || !(o.AttenuationDb >= 20 && o.AttenuationDb <= 200))
            throw new ArgumentException($"resampler options {o}: need 0 < passband < stopband ≤ 1.5 and 20 ≤ attenuation ≤ 200 dB");
        FromRate = fromRate;
        ToRate = toRate;
        int g = (int)GreatestCommonDivisor(fromRate, toRate);
        Up = toRate / g;
        Down = fromRate / g;

        // Design in input samples: the lower Nyquist is 0.5·min(1, L/M) cycles per input sample.
        double nyquist = 0.5 * Math.Min(1.0, (double)Up / Down);
        double pass = o.PassbandEdge * nyquist, stop = o.StopbandEdge * nyquist;
        cutoff = 0.5 * (pass + stop);
        double a = o.AttenuationDb;
        beta = a > 50 ? 0.1102 * (a - 8.7) : a >= 21 ? 0.5842 * Math.Pow(a - 21, 0.4) + 0.07886 * (a - 21) : 0;
        double length = (a - 7.95) / (14.36 * (stop - pass));   // Kaiser's estimate of the filter length
        if (!(length <= MaxTaps))
            throw new ArgumentException($"resampling {fromRate} Hz → {toRate} Hz with {o} needs {length:F0} taps per output, more than {MaxTaps}; resample in stages");
        windowHalfWidth = length / 2;
        i0Beta = BesselI0(beta);
        half = (int)Math.Ceiling(windowHalfWidth);
        Taps = (2 * half + 7) & ~7;                             // a multiple of 8 for the vector dot product; extra taps are 0
        scratchRow = new float[Taps];
        history = new float[Math.Max(4 * Taps, 1024)];
        if (Up == Down) Taps = 0;
        else if ((long)Up * Taps <= MaxTableFloats)
        {
            table = new float[Up * Taps];
            for (int phase = 0; phase < Up; phase++) FillRow(phase, table.AsSpan(phase * Taps, Taps));
        }
        Reset();
    }

    public int FromRate { get; }
    public int ToRate { get; }
    /// <summary>L: toRate / gcd.</summary>
    public int Up { get; }
    /// <summary>M: fromRate / gcd.</summary>
    public int Down { get; }
    /// <summary>Taps per output sample (0 when the rates are equal).</summary>
    public int Taps { get; }
    public ResamplerOptions Options { get; }

    /// <summary>Input samples the filter needs beyond ⌊p⌋ before output k can be written.</summary>
    int Lookahead => Taps - half;

    /// <summary>Number of output samples for <paramref name="inputLength"/> inputs: ⌈n·L/M⌉ (all k with k/toRate &lt; n/fromRate).</summary>
    public long OutputLength(long inputLength) => Up == Down ? inputLength : (long)(((Int128)inputLength * Up + Down - 1) / Down);

    /// <summary>Most samples one <see cref="Process"/> call with <paramref name="inputLength"/> inputs can write.</summary>
    public int OutputCapacity(int inputLength) => (int)Math.Min(Array.MaxLength, (long)inputLength * Up / Down + 2);

    /// <summary>Most samples <see cref="Flush"/> can write.</summary>
    public int FlushCapacity => Up == Down ? 0 : (int)((long)(Lookahead + 1) * Up / Down + 2);

    /// <summary>Forgets all input: the next sample given to <see cref="Process"/> is sample 0 again.</summary>
    public void Reset()
    {
        historyStart = -(half - 1);
        historyCount = Math.Max(half - 1, 0);
        history.AsSpan(0, historyCount).Clear();
        inputCount = 0;
        nextOutput = 0;
        nextBase = 0;
        nextPhase = 0;
        flushed = false;
    }

    /// <summary>Consumes <paramref name="input"/> and writes the outputs that became computable; returns how many.</summary>
    /// <exception cref="ArgumentException"><paramref name="output"/> is shorter than <see cref="OutputCapacity"/>(input.Length).</exception>
    public int Process(ReadOnlySpan<float> input, Span<float> output)
    {
        if (flushed) throw new InvalidOperationException("the resampler was flushed; call Reset() before processing a new signal");
        if (output.Length < OutputCapacity(input.Length))
            throw new ArgumentException($"output span of {output.Length} is shorter than OutputCapacity({input.Length}) = {OutputCapacity(input.Length)}");
        if (Up == Down)
        {
            input.CopyTo(output);
            inputCount += input.Length;
            return input.Length;
        }
        Append(input);
        inputCount += input.Length;
        return Produce(output, inputCount - 1, long.MaxValue);
    }

    /// <summary>Ends the signal: writes the remaining outputs (zeros taken after the last input) up to <see cref="OutputLength"/>; returns how many.</summary>
    public int Flush(Span<float> output)
    {
        if (flushed) throw new InvalidOperationException("the resampler was already flushed; call Reset() before processing a new signal");
        flushed = true;
        if (Up == Down) return 0;
        var zeros = new float[Lookahead + 1];
        Append(zeros);
        long end = OutputLength(inputCount);
        if (output.Length < end - nextOutput)
            throw new ArgumentException($"output span of {output.Length} is shorter than the {end - nextOutput} remaining samples");
        return Produce(output, long.MaxValue, end);
    }

    /// <summary>Resamples a whole signal at once (same result as streaming it).</summary>
    public static float[] Resample(ReadOnlySpan<float> input, int fromRate, int toRate, ResamplerOptions? options = null)
    {
        var r = new Resampler(fromRate, toRate, options);
        long total = r.OutputLength(input.Length);
        if (total > Array.MaxLength) throw new ArgumentException($"{input.Length} samples at {fromRate} Hz → {total} at {toRate} Hz is too long for one array");
        var result = new float[Math.Max(total, r.OutputCapacity(input.Length))];
        int n = r.Process(input, result);
        n += r.Flush(result.AsSpan(n));
        return n == result.Length ? result : result[..n];
    }

    /// <summary>Writes outputs k = nextOutput, … while their last tap index ≤ <paramref name="lastAvailable"/> and k &lt; <paramref name="end"/>.</summary>
    int Produce(Span<float> output, long lastAvailable, long end)
    {
        int written = 0;
        int step = Down / Up, stepPhase = Down % Up, dataOffset = -(half - 1);
        while (nextOutput < end && nextBase + Lookahead <= lastAvailable)
        {
            int start = (int)(nextBase + dataOffset - historyStart);
            output[written++] = Dot(Row(nextPhase), history.AsSpan(start, Taps));
            nextOutput++;
            nextBase += step;
            nextPhase += stepPhase;
            if (nextPhase >= Up) { nextPhase -= Up; nextBase++; }
        }
        return written;
    }

    /// <summary>Adds inputs, first dropping (only when the buffer is full) those no future output needs.</summary>
    void Append(ReadOnlySpan<float> input)
    {
        int needed = historyCount + input.Length;
        if (needed > history.Length)
        {
            long oldestNeeded = nextBase - (half - 1);
            int drop = (int)Math.Clamp(oldestNeeded - historyStart, 0, historyCount);
            var target = needed - drop > history.Length ? new float[Math.Max(2 * history.Length, needed - drop)] : history;
            history.AsSpan(drop, historyCount - drop).CopyTo(target);
            history = target;
            historyCount -= drop;
            historyStart += drop;
        }
        input.CopyTo(history.AsSpan(historyCount));
        historyCount += input.Length;
    }

    ReadOnlySpan<float> Row(int phase)
    {
        if (table is not null) return table.AsSpan(phase * Taps, Taps);
        if (phase != scratchPhase) { FillRow(phase, scratchRow); scratchPhase = phase; }
        return scratchRow;
    }

    /// <summary>Row φ: h(t) at t = j − φ/L for j = 1−H … Taps−H, h = 2fc·sinc(2fc·t)·Kaiser(t), scaled to sum to 1.</summary>
    void FillRow(int phase, Span<float> row)
    {
        double[] buffer = new double[row.Length];
        double sum = 0, offset = (double)phase / Up;
        for (int i = 0; i < row.Length; i++)
        {
            double t = i - (half - 1) - offset;
            double r = t / windowHalfWidth;
            if (Math.Abs(r) >= 1) continue;
            double x = 2 * cutoff * t;
            double sinc = x == 0 ? 1 : Math.Sin(Math.PI * x) / (Math.PI * x);
            double v = 2 * cutoff * sinc * BesselI0(beta * Math.Sqrt(1 - r * r)) / i0Beta;
            buffer[i] = v;
            sum += v;
        }
        for (int i = 0; i < row.Length; i++) row[i] = (float)(buffer[i] / sum);
    }

    /// <summary>Modified Bessel function of the first kind, order 0 (power series; converges fast for β ≤ 30).</summary>
    static double BesselI0(double x)
    {
        double sum = 1, term = 1, q = x * x / 4;
        for (int k = 1; k < 500; k++)
        {
            term *= q / ((double)k * k);
            sum += term;
            if (term < 1e-17 * sum) break;
        }
        return sum;
    }

    /// <summary>Σ a[i]·b[i] in a fixed order (four 8-wide accumulators, then a fixed horizontal sum): deterministic, independent of alignment. Length is a multiple of 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        int n = a.Length;
        if (b.Length < n) throw new ArgumentException("dot: spans differ in length");
        ref float pa = ref MemoryMarshal.GetReference(a);
        ref float pb = ref MemoryMarshal.GetReference(b);
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
            int i = 0;
            for (; i + 32 <= n; i += 32)
            {
                acc0 = MultiplyAdd(Vector256.LoadUnsafe(ref pa, (nuint)i), Vector256.LoadUnsafe(ref pb, (nuint)i), acc0);
                acc1 = MultiplyAdd(Vector256.LoadUnsafe(ref pa, (nuint)(i + 8)), Vector256.LoadUnsafe(ref pb, (nuint)(i + 8)), acc1);
                acc2 = MultiplyAdd(Vector256.LoadUnsafe(ref pa, (nuint)(i + 16)), Vector256.LoadUnsafe(ref pb, (nuint)(i + 16)), acc2);
                acc3 = MultiplyAdd(Vector256.LoadUnsafe(ref pa, (nuint)(i + 24)), Vector256.LoadUnsafe(ref pb, (nuint)(i + 24)), acc3);
            }
            for (; i < n; i += 8)
                acc0 = MultiplyAdd(Vector256.LoadUnsafe(ref pa, (nuint)i), Vector256.LoadUnsafe(ref pb, (nuint)i), acc0);
            return Vector256.Sum((acc0 + acc1) + (acc2 + acc3));
        }
        float s = 0;
        for (int i = 0; i < n; i++) s += a[i] * b[i];
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> acc)
        => Fma.IsSupported ? Fma.MultiplyAdd(a, b, acc) : acc + a * b;

    static long GreatestCommonDivisor(long a, long b)
    {
        while (b != 0) (a, b) = (b, a % b);
        return a;
    }
}
