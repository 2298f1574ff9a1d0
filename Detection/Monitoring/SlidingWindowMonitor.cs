using System.Diagnostics;
using System.Globalization;
using NativeASD.Engine.Audio;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Explanations;
using NativeASD.Detection.Features;

namespace NativeASD.Detection.Monitoring;

/// <summary>How a stream is cut and judged: window and hop in samples (at the extractor's rate), the decision threshold,
/// how many consecutive windows over it raise an alarm, and whether every anomalous window is explained (its top band:
/// one scoring per segment and band, tens of times a plain score; a server of many machines explains alarms only).</summary>
public sealed record MonitorSettings(int WindowSamples, int HopSamples, double Threshold, int Consecutive = 3, bool ExplainAnomalous = true)
{
    public void Validate()
    {
        if (WindowSamples < 1) throw new ArgumentException($"monitor: window of {WindowSamples} samples");
        if (HopSamples < 1 || HopSamples > WindowSamples) throw new ArgumentException($"monitor: hop of {HopSamples} samples must be between 1 and the window ({WindowSamples})");
        if (Consecutive < 1) throw new ArgumentException($"monitor: consecutive windows must be at least 1, got {Consecutive}");
        if (!double.IsFinite(Threshold)) throw new ArgumentException($"monitor: threshold {Threshold}");
    }
}

/// <summary>
/// One scored window: <see cref="Time"/> is the stream time (seconds) at the window's end, <see cref="Anomalous"/> is
/// score &gt; threshold, <see cref="Consecutive"/> counts anomalous windows in a row up to this one, and
/// <see cref="Alarm"/> is true while that count has reached the configured number. <see cref="TopBand"/> is, for an
/// anomalous window, the frequency band that contributed most to its score (<see cref="ClipExplainer.TopBand"/>); null otherwise.
/// </summary>
public readonly record struct MonitorReading(long Index, double Time, double Score, bool Anomalous, int Consecutive, bool Alarm,
    BandContribution? TopBand = null);

/// <summary>
/// Scores a live stream with a sliding window: samples are pushed in blocks of any size; once a window is full, and then
/// every hop, the last window's samples go through the feature extractor and the detector. For an extractor of
/// self-contained patches (YAMNet) each patch of the stream is computed once and a window takes the rows of its newest
/// patches (<see cref="StreamPatches"/>): the hop's new patches are all the work.
/// <para>Memory is fixed: a ring of one window (and, for patches, one patch hop more) and window-sized scratch copies,
/// allocated once; the frontend only ever sees one window. So hours of input need the same memory as one window.</para>
/// <para>Readings depend only on the samples, never on how the stream was split into pushes.</para>
/// </summary>
public sealed class SlidingWindowMonitor
{
    readonly IAnomalyDetector detector;
    readonly FeatureExtractor extractor;
    readonly float[] ring;           // the last WindowSamples (+ the patches' lookback) samples; sample s lives at s % ring.Length
    readonly float[] history;        // chronological copy of the ring
    readonly float[] window;         // chronological copy of the last WindowSamples, handed to the extractor
    readonly AudioClip clip;
    readonly StreamPatches? patches;  // null: every window is extracted whole
    long received;
    long index;
    int consecutive;

    public SlidingWindowMonitor(IAnomalyDetector detector, FeatureExtractor extractor, MonitorSettings settings, string source = "stream")
    {
        settings.Validate();
        this.detector = detector;
        this.extractor = extractor;
        Settings = settings;
        if (extractor.SelfContainedPatches is { } span) patches = new StreamPatches(extractor, span, settings.WindowSamples);
        ring = new float[settings.WindowSamples + (patches?.Lookback ?? 0)];
        history = new float[ring.Length];
        window = new float[settings.WindowSamples];
        clip = new AudioClip(window, extractor.SampleRate, source);
    }

    public MonitorSettings Settings { get; }

    /// <summary>Sample rate the pushed samples must have (the extractor's).</summary>
    public int SampleRate => extractor.SampleRate;

    /// <summary>Wall time the last window took from its last sample to its score (features and detector), in milliseconds.
    /// Kept out of <see cref="MonitorReading"/>, whose values depend on the samples only.</summary>
    public double LastLatencyMs { get; private set; }

    /// <summary>The samples of the last scored window, oldest first (e.g. the clip kept with an alarm); valid until the next push.</summary>
    public ReadOnlySpan<float> LastWindow => window;

    /// <summary>Samples pushed so far.</summary>
    public long SamplesReceived => received;

    /// <summary>Appends samples; calls <paramref name="onReading"/> for every window that became complete, in order.</summary>
    public void Push(ReadOnlySpan<float> samples, Action<MonitorReading> onReading)
    {
        int w = Settings.WindowSamples, hop = Settings.HopSamples;
        while (!samples.IsEmpty)
        {
            // Next window end: W, W + hop, W + 2·hop, …
            long nextEnd = received < w ? w : w + ((received - w) / hop + 1) * hop;
            int take = (int)Math.Min(samples.Length, nextEnd - received);
            Append(samples[..take]);
            samples = samples[take..];
            if (received == nextEnd) onReading(Score());
        }
    }

    void Append(ReadOnlySpan<float> samples)
    {
        int w = ring.Length;
        while (!samples.IsEmpty)
        {
            int at = (int)(received % w);
            int n = Math.Min(samples.Length, w - at);
            samples[..n].CopyTo(ring.AsSpan(at, n));
            samples = samples[n..];
            received += n;
        }
    }

    MonitorReading Score()
    {
        int n = ring.Length, at = (int)(received % n);
        // Oldest sample is at 'at': [at, n) then [0, at).
        ring.AsSpan(at).CopyTo(history);
        ring.AsSpan(0, at).CopyTo(history.AsSpan(n - at));
        history.AsSpan(n - window.Length).CopyTo(window);
        long start = Stopwatch.GetTimestamp();
        // Before the ring first fills, its oldest part holds no samples yet.
        var features = patches is null ? extractor.Extract(clip)
            : patches.Window(history.AsSpan((int)Math.Max(0, n - received)), received, clip.SampleRate, clip.Source);
        double score = detector.Score(features);
        double latency = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        if (!double.IsFinite(score))
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                $"{clip.Source}: the window ending at {(double)received / extractor.SampleRate:0.###} s scored {score}; the model or the input is damaged"));
        bool anomalous = score > Settings.Threshold;
        consecutive = anomalous ? consecutive + 1 : 0;
        LastLatencyMs = latency;
        // Only anomalous windows are explained: one extra scoring per segment and band, paid when someone will look.
        var band = anomalous && Settings.ExplainAnomalous ? ClipExplainer.TopBand(detector, extractor, clip) : null;
        return new MonitorReading(index++, (double)received / extractor.SampleRate, score, anomalous, consecutive, consecutive >= Settings.Consecutive, band);
    }
}
