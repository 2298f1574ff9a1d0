using NativeASD.Engine.Audio;
using NativeASD.Engine.Frontend;
using NativeASD.Detection.Features;

namespace NativeASD.Detection.Monitoring;

/// <summary>
/// The feature rows of a live stream for an extractor whose rows are self-contained patches
/// (<see cref="FeatureExtractor.SelfContainedPatches"/>, e.g. YAMNet), each patch computed once. Patches lie on a grid
/// fixed to the stream: patch j covers stream samples [j·hop, j·hop + length). A window's features are the rows of the
/// patches that lie wholly inside it, so consecutive windows share all but their newest patches: a 1 s hop over a 10 s
/// window runs the backbone on 2 or 3 patches of 0.96 s instead of 19.
/// <para>Against extracting each window as a clip, only where the patches start differs (a clip's grid starts at its
/// first sample); when the hop is a multiple of the patch hop the rows are the same.</para>
/// <para>Memory is fixed: the rows of one window's patches, in a ring.</para>
/// </summary>
sealed class StreamPatches
{
    readonly FeatureExtractor extractor;
    readonly PatchSpan span;
    readonly int capacity;           // most patches wholly inside one window
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

    /// <summary>
    /// The features of the window of <paramref name="window"/>.Length samples ending at stream sample
    /// <paramref name="end"/>: computes the patches that became complete since the last call, then gathers the window's rows.
    /// </summary>
    public ClipFeatures Window(ReadOnlySpan<float> window, long end, int sampleRate, string source)
    {
        long start = end - window.Length;
        long first = CeilDiv(start, span.HopSamples);                    // first patch starting inside the window
        long last = (end - span.Samples) / span.HopSamples;             // last patch ending inside it
        long from = Math.Max(first, computed);
        if (from <= last) Compute(window, start, from, last, sampleRate, source);
        computed = last + 1;

        int count = (int)(last - first + 1);
        var values = new float[count * dimension];
        for (long j = first; j <= last; j++)
            Array.Copy(rows!, (int)(j % capacity) * dimension, values, (int)(j - first) * dimension, dimension);
        return new ClipFeatures(source, values, count, dimension, levels);
    }

    /// <summary>Runs patches <paramref name="from"/> … <paramref name="to"/> as one clip of their samples (its own grid is the stream's there).</summary>
    void Compute(ReadOnlySpan<float> window, long windowStart, long from, long to, int sampleRate, string source)
    {
        int offset = (int)(from * span.HopSamples - windowStart);
        int length = (int)((to - from) * span.HopSamples) + span.Samples;
        var features = extractor.Extract(new AudioClip(window.Slice(offset, length).ToArray(), sampleRate, source));
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

    static long CeilDiv(long a, long b) => a <= 0 ? 0 : (a + b - 1) / b;
}
