using NativeASD.Engine.Audio;
using NativeASD.Engine.Frontend;
using NativeASD.Detection.Features;

namespace NativeASD.Detection.Monitoring;

/// <summary>
/// The feature rows of a live stream for an extractor whose rows are self-contained patches
/// (<see cref="FeatureExtractor.SelfContainedPatches"/>, e.g. YAMNet), each patch computed once. Patches lie on a grid
/// fixed to the stream: patch j covers stream samples [j·hop, j·hop + length). A window's features are the rows of the
/// newest complete patches, as many as a clip of the window's length has (<see cref="Count"/>), so consecutive windows
/// share all but their newest patches: a 1 s hop over a 10 s window runs the backbone on 2 or 3 patches of 0.96 s
/// instead of 19.
/// <para>Against extracting each window as a clip, only where the patches start differs (a clip's grid starts at its
/// first sample): the patches may start up to one patch hop earlier (<see cref="Lookback"/>), and the window's last
/// samples after the newest complete patch wait for the next reading. When the hop is a multiple of the patch hop the
/// rows are the clip's. Always the clip's number of rows: a mean over fewer patches would score higher.</para>
/// <para>Memory is fixed: the rows of one window's patches, in a ring.</para>
/// </summary>
sealed class StreamPatches
{
    readonly FeatureExtractor extractor;
    readonly PatchSpan span;
    readonly int capacity;           // rows per window, as in a clip of the window's length
    float[]? rows;                   // row of patch j at slot j % capacity; sized when the first row's width is known
    int dimension;
    int[] levels = [];
    long computed;                   // patches 0 … computed − 1 are done (or were skipped: outside every later window)

    public StreamPatches(FeatureExtractor extractor, PatchSpan span, int windowSamples)
    {
        if (windowSamples < span.Samples)
            throw new ArgumentException($"monitor: a window of {windowSamples} samples is shorter than one {span.Samples}-sample patch of {extractor.Preset.Name}");
        this.extractor = extractor;
        this.span = span;
        capacity = (windowSamples - span.Samples) / span.HopSamples + 1;
    }

    /// <summary>Patches a window's features have: those of a clip of the window's length.</summary>
    public int Count => capacity;

    /// <summary>Samples before the window the oldest of its patches may start at: the history a reading needs is the window and these.</summary>
    public int Lookback => span.HopSamples;

    /// <summary>
    /// The features of the window ending at stream sample <paramref name="end"/>, given the <paramref name="history"/> of
    /// samples that ends there (the window and <see cref="Lookback"/> samples before it, or all samples so far when
    /// fewer): computes the patches that became complete since the last call, then gathers the newest <see cref="Count"/> rows.
    /// </summary>
    public ClipFeatures Window(ReadOnlySpan<float> history, long end, int sampleRate, string source)
    {
        long start = end - history.Length;
        long last = (end - span.Samples) / span.HopSamples;             // the newest complete patch
        long first = last - capacity + 1;                               // ≥ 0: the first window holds exactly the clip's patches
        long from = Math.Max(first, computed);
        if (from <= last) Compute(history, start, from, last, sampleRate, source);
        computed = last + 1;

        int count = (int)(last - first + 1);
        var values = new float[count * dimension];
        for (long j = first; j <= last; j++)
            Array.Copy(rows!, (int)(j % capacity) * dimension, values, (int)(j - first) * dimension, dimension);
        return new ClipFeatures(source, values, count, dimension, levels);
    }

    /// <summary>Runs patches <paramref name="from"/> … <paramref name="to"/> as one clip of their samples (its own grid is the stream's there).</summary>
    void Compute(ReadOnlySpan<float> history, long historyStart, long from, long to, int sampleRate, string source)
    {
        int offset = (int)(from * span.HopSamples - historyStart);
        int length = (int)((to - from) * span.HopSamples) + span.Samples;
        var features = extractor.Extract(new AudioClip(history.Slice(offset, length).ToArray(), sampleRate, source));
        int expected = (int)(to - from + 1);
        if (features.Rows != expected)
            throw new InvalidOperationException($"{source}: {expected} patches gave {features.Rows} feature rows");
        if (rows is null)
        {
            dimension = features.Dimension;
            levels = features.Levels;
            rows = new float[capacity * dimension];
        }
        for (int r = 0; r < expected; r++)
            features.Row(r).CopyTo(rows.AsSpan((int)((from + r) % capacity) * dimension, dimension));
    }
}
