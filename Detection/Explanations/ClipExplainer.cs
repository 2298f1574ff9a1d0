using NativeASD.Detection.Detectors;
using NativeASD.Detection.Features;
using NativeASD.Engine.Audio;
using NativeASD.Engine.Frontend;

namespace NativeASD.Detection.Explanations;

/// <summary>How much one time segment contributes: the score falls by <see cref="Contribution"/> when the next segment's frames take its place.</summary>
public sealed record SegmentContribution(int Segment, double StartSeconds, double EndSeconds, double Contribution);

/// <summary>How much one frequency band of the frontend contributes during the top segment (band edges in Hz; NaN for cepstral bands).</summary>
public sealed record BandContribution(int Band, double LowHz, double CentreHz, double HighHz, double Contribution);

/// <summary>Why a clip scored as it did: its score, and the contribution of every segment and every band.</summary>
public sealed record Explanation(string Source, double Score, IReadOnlyList<SegmentContribution> Segments, IReadOnlyList<BandContribution> Bands)
{
    public SegmentContribution TopSegment => Segments.MaxBy(s => s.Contribution)!;
    public BandContribution TopBand => Bands.MaxBy(b => b.Contribution)!;
}

/// <summary>
/// Occlusion explanations for any detector and feature extractor: the clip's frontend output (its log-mel, [frames,
/// bands]) is edited with the clip's own content and scored again.
/// <list type="bullet">
/// <item>Over time: the frames are cut into equal segments of about 1 s (by default); each segment in turn is replaced by
/// the frames of the next segment (circularly: the last by the first), so the edit puts real content of the same clip in
/// its place; contribution = original score − score after the edit.</item>
/// <item>Over frequency, inside the segment that contributes most: each band in turn takes, in that segment's frames
/// only, its values from the next segment; contribution = original score − score after the edit.</item>
/// </list>
/// A large positive contribution means: without what happened in this second (in this band during the top second), the
/// clip would look more normal to the model. It says where the evidence sits in the model's input, not what the fault
/// is; a fault that fills the whole clip evenly is in the replacement too, so it shows in neither panel; neighbouring mel
/// bands overlap, so a narrow fault shows in two or three adjacent bands. Cost: one scoring per segment and per band;
/// for an extractor of self-contained patches (YAMNet) each scoring recomputes only the patches that overlap the edited
/// frames (about 4 of a 10 s window's 19 for a 1 s segment) and keeps the clip's other rows.
/// </summary>
public static class ClipExplainer
{
    public static Explanation Explain(IAnomalyDetector detector, FeatureExtractor extractor, AudioClip clip, double segmentSeconds = 1)
    {
        if (!(segmentSeconds > 0 && segmentSeconds <= 3600)) throw new ArgumentOutOfRangeException(nameof(segmentSeconds), $"explain: segment length must be in (0, 3600] s, got {segmentSeconds}");
        var spectrogram = extractor.Spectrogram(clip);
        int frames = spectrogram.GetLength(0), bands = spectrogram.GetLength(1);
        var features = extractor.FromSpectrogram(spectrogram, clip);
        double score = detector.Score(features);
        var patches = PatchRows.For(extractor, features, frames);
        // Original score minus the score after the frames [f0, f1) of the chosen bands take the values of the frames from n0 on.
        double Without(int f0, int f1, int n0, int b0, int b1)
        {
            var edited = (float[,])spectrogram.Clone();
            for (int t = f0; t < f1; t++)
            {
                int from = Math.Min(frames - 1, n0 + (t - f0));
                for (int b = b0; b < b1; b++) edited[t, b] = spectrogram[from, b];
            }
            return score - detector.Score(patches?.Edited(edited, f0, f1) ?? extractor.FromSpectrogram(edited, clip));
        }

        var preset = extractor.Preset;
        double framesPerSecond = (double)preset.SampleRate / preset.Hop;
        // Equal parts of about segmentSeconds each (a centred frontend's extra frame joins the last part).
        int count = Math.Clamp((int)Math.Round(frames / (segmentSeconds * framesPerSecond)), 1, frames);
        int Start(int s) => (int)((long)(s % count) * frames / count);
        var segments = new List<SegmentContribution>();
        for (int s = 0; s < count; s++)
            segments.Add(new SegmentContribution(s, Math.Round(Start(s) / framesPerSecond, 3),
                Math.Round(Math.Min((s + 1 == count ? frames : Start(s + 1)) / framesPerSecond, clip.Seconds), 3),
                Without(Start(s), s + 1 == count ? frames : Start(s + 1), Start(s + 1), 0, bands)));

        int top = segments.MaxBy(x => x.Contribution)!.Segment;
        int topEnd = top + 1 == count ? frames : Start(top + 1);
        var edges = BandEdges(preset, bands);
        var perBand = new List<BandContribution>();
        for (int b = 0; b < bands; b++)
            perBand.Add(new BandContribution(b, edges[b].Low, edges[b].Centre, edges[b].High, Without(Start(top), topEnd, Start(top + 1), b, b + 1)));
        return new Explanation(clip.Source, score, segments, perBand);
    }

    /// <summary>
    /// The rows of a clip of self-contained patches (one row per patch of <c>PatchFrames</c> frames, <c>PatchHop</c>
    /// apart): an edit of frames [f0, f1) changes only the rows of the patches that overlap it.
    /// </summary>
    sealed class PatchRows(FeatureExtractor extractor, ClipFeatures original, PatchSpan span)
    {
        readonly int patchFrames = extractor.Preset.PatchFrames, patchHop = extractor.Preset.PatchHop;

        public static PatchRows? For(FeatureExtractor extractor, ClipFeatures features, int frames)
        {
            var preset = extractor.Preset;
            if (extractor.SelfContainedPatches is not { } span || frames < preset.PatchFrames) return null;
            return features.Rows == (frames - preset.PatchFrames) / preset.PatchHop + 1 ? new PatchRows(extractor, features, span) : null;
        }

        /// <summary>The clip's features with the rows of the patches overlapping frames [f0, f1) computed from <paramref name="edited"/>.</summary>
        public ClipFeatures Edited(float[,] edited, int f0, int f1)
        {
            int first = Math.Max(0, FloorDiv(f0 - patchFrames, patchHop) + 1), last = Math.Min(original.Rows - 1, (f1 - 1) / patchHop);
            if (first > last) return original;
            int count = last - first + 1, bands = edited.GetLength(1);
            var part = new float[(count - 1) * patchHop + patchFrames, bands];
            Buffer.BlockCopy(edited, first * patchHop * bands * sizeof(float), part, 0, part.Length * sizeof(float));
            // A clip as long as the patches' samples: the extractor reads its length (one patch is one segment).
            var clip = new AudioClip(new float[(count - 1) * span.HopSamples + span.Samples], extractor.SampleRate, original.Source);
            var rows = extractor.FromSpectrogram(part, clip);
            if (rows.Rows != count) throw new InvalidOperationException($"{original.Source}: {count} patches gave {rows.Rows} feature rows");
            var values = (float[])original.Values.Clone();
            Array.Copy(rows.Values, 0, values, first * original.Dimension, rows.Values.Length);
            return original with { Values = values };
        }

        static int FloorDiv(int a, int b) => a >= 0 ? a / b : -((-a + b - 1) / b);
    }

    /// <summary>The band that contributes most to <paramref name="clip"/>'s score during its top segment (for live readings).</summary>
    public static BandContribution TopBand(IAnomalyDetector detector, FeatureExtractor extractor, AudioClip clip) =>
        Explain(detector, extractor, clip).TopBand;

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
