using NativeASD.Detection.Detectors;
using NativeASD.Detection.Features;
using NativeASD.Engine.Audio;
using NativeASD.Engine.Frontend;

namespace NativeASD.Detection.Explanations;

/// <summary>How much one time segment contributes: the score falls by <see cref="Contribution"/> when the next segment's frames take its place.</summary>
public sealed record SegmentContribution(int Segment, double StartSeconds, double EndSeconds, double Contribution);

/// <summary>How much one frequency band of the frontend contributes (band edges in Hz; NaN for cepstral bands).</summary>
public sealed record BandContribution(int Band, double LowHz, double CentreHz, double HighHz, double Contribution);

/// <summary>Why a clip scored as it did: its score, and the contribution of every segment and every band.</summary>
public sealed record Explanation(string Source, double Score, IReadOnlyList<SegmentContribution> Segments, IReadOnlyList<BandContribution> Bands)
{
    public SegmentContribution TopSegment => Segments.MaxBy(s => s.Contribution)!;
    public BandContribution TopBand => Bands.MaxBy(b => b.Contribution)!;
}

/// <summary>
/// Occlusion explanations for any detector and feature extractor: the clip's frontend output (its log-mel, [frames,
/// bands]) is edited and scored again.
/// <list type="bullet">
/// <item>Over time: the frames are cut into equal segments of about 1 s (by default); each segment in turn is replaced by
/// the frames of the next segment (circularly: the last by the first), so the edit puts real content of the same clip in
/// its place; contribution = original score − score after the edit.</item>
/// <item>Over frequency: for each band, its values in every frame are replaced by that band's median over the clip;
/// contribution = original score − score after the edit.</item>
/// </list>
/// A large positive contribution means: without what happened in this second (this band), the clip would look more
/// normal to the model. It says where the evidence sits in the model's input, not what the fault is; replacing content by
/// the clip's own median cannot remove a fault that fills the whole clip evenly, and neighbouring mel bands overlap, so a
/// narrow fault shows in two or three adjacent bands. Cost: one scoring per segment and per band.
/// </summary>
public static class ClipExplainer
{
    public static Explanation Explain(IAnomalyDetector detector, FeatureExtractor extractor, AudioClip clip, double segmentSeconds = 1)
    {
        if (!(segmentSeconds > 0 && segmentSeconds <= 3600)) throw new ArgumentOutOfRangeException(nameof(segmentSeconds), $"explain: segment length must be in (0, 3600] s, got {segmentSeconds}");
        var o = new Occlusion(detector, extractor, clip);
        var preset = extractor.Preset;
        double framesPerSecond = (double)preset.SampleRate / preset.Hop;
        // Equal parts of about segmentSeconds each (a centred frontend's extra frame joins the last part).
        int count = Math.Clamp((int)Math.Round(o.Frames / (segmentSeconds * framesPerSecond)), 1, o.Frames);
        var segments = new List<SegmentContribution>();
        for (int s = 0; s < count; s++)
        {
            int f0 = (int)((long)s * o.Frames / count), f1 = (int)((long)(s + 1) * o.Frames / count);
            // The next segment's frames (circularly) take this one's place: real content of the same clip, not a made-up frame.
            int n0 = (int)((long)((s + 1) % count) * o.Frames / count);
            double contribution = o.Without(x =>
            {
                for (int t = f0; t < f1; t++)
                {
                    int from = Math.Min(o.Frames - 1, n0 + (t - f0));
                    for (int b = 0; b < o.Bands; b++) x[t, b] = o.Original(from, b);
                }
            });
            segments.Add(new SegmentContribution(s, Math.Round(f0 / framesPerSecond, 3), Math.Round(Math.Min(f1 / framesPerSecond, clip.Seconds), 3), contribution));
        }
        return new Explanation(clip.Source, o.Score, segments, Bands(o));
    }

    /// <summary>The band that contributes most to <paramref name="clip"/>'s score (the frequency half of <see cref="Explain"/>, for live readings).</summary>
    public static BandContribution TopBand(IAnomalyDetector detector, FeatureExtractor extractor, AudioClip clip) =>
        Bands(new Occlusion(detector, extractor, clip)).MaxBy(b => b.Contribution)!;

    static List<BandContribution> Bands(Occlusion o)
    {
        var edges = BandEdges(o.Extractor.Preset, o.Bands);
        var bands = new List<BandContribution>();
        for (int b = 0; b < o.Bands; b++)
        {
            int band = b;
            double contribution = o.Without(x => { for (int t = 0; t < o.Frames; t++) x[t, band] = o.Typical[band]; });
            bands.Add(new BandContribution(b, edges[b].Low, edges[b].Centre, edges[b].High, contribution));
        }
        return bands;
    }

    /// <summary>A clip's spectrogram, its typical frame and score, and re-scoring after an edit.</summary>
    sealed class Occlusion
    {
        readonly IAnomalyDetector _detector;
        readonly AudioClip _clip;
        readonly float[,] _spectrogram;

        public Occlusion(IAnomalyDetector detector, FeatureExtractor extractor, AudioClip clip)
        {
            _detector = detector;
            _clip = clip;
            Extractor = extractor;
            _spectrogram = extractor.Spectrogram(clip);
            Frames = _spectrogram.GetLength(0);
            Bands = _spectrogram.GetLength(1);
            Typical = BandMedians(_spectrogram);
            Score = detector.Score(extractor.FromSpectrogram(_spectrogram, clip));
        }

        public FeatureExtractor Extractor { get; }
        public int Frames { get; }
        public int Bands { get; }
        public float[] Typical { get; }
        public float Original(int frame, int band) => _spectrogram[frame, band];
        public double Score { get; }

        /// <summary>Original score minus the score of the spectrogram after <paramref name="edit"/>.</summary>
        public double Without(Action<float[,]> edit)
        {
            var edited = (float[,])_spectrogram.Clone();
            edit(edited);
            return Score - _detector.Score(Extractor.FromSpectrogram(edited, _clip));
        }
    }

    static float[] BandMedians(float[,] x)
    {
        int frames = x.GetLength(0), bands = x.GetLength(1);
        var medians = new float[bands];
        var column = new float[frames];
        for (int b = 0; b < bands; b++)
        {
            for (int t = 0; t < frames; t++) column[t] = x[t, b];
            Array.Sort(column);
            medians[b] = frames % 2 == 1 ? column[frames / 2] : (column[frames / 2 - 1] + column[frames / 2]) / 2;
        }
        return medians;
    }

    /// <summary>
    /// Each band's lower edge, centre and upper edge in Hz: for a mel frontend the triangle's feet and peak (bands + 2
    /// points equally spaced on its mel scale between fmin and fmax); for a linear spectrum the FFT bin ± half a bin;
    /// NaN for cepstral (MFCC) coefficients, which are not frequencies.
    /// </summary>
    public static (double Low, double Centre, double High)[] BandEdges(FrontendPreset preset, int bands)
    {
        var edges = new (double, double, double)[bands];
        if (preset.Mfcc > 0)
        {
            Array.Fill(edges, (double.NaN, double.NaN, double.NaN));
            return edges;
        }
        if (preset.MelBins == 0)
        {
            double bin = (double)preset.SampleRate / preset.NFft;
            for (int b = 0; b < bands; b++) edges[b] = (Math.Max(0, (b - 0.5) * bin), b * bin, (b + 0.5) * bin);
            return edges;
        }
        double lo = MelFilterbank.HzToMel(preset.FMin, preset.MelScale), hi = MelFilterbank.HzToMel(preset.EffectiveFMax, preset.MelScale);
        double Point(int i) => MelFilterbank.MelToHz(lo + (hi - lo) * i / (bands + 1), preset.MelScale);
        for (int b = 0; b < bands; b++) edges[b] = (Point(b), Point(b + 1), Point(b + 2));
        return edges;
    }
}
