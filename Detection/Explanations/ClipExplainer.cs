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
/// frames (about 4 of a 10 s window's 19 for a 1 s segment) and keeps the clip's other rows, and the patches of all
/// segment edits, then of all band edits, go through the network as one batch.
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
        double[] Without(IReadOnlyList<Edit> edits)
        {
            var edited = patches?.Edited(spectrogram, edits) ?? edits.Select(e =>
            {
                var copy = (float[,])spectrogram.Clone();
                e.Apply(spectrogram, copy, 0);
                return extractor.FromSpectrogram(copy, clip);
            }).ToList();
            return [.. edited.Select(f => score - detector.Score(f))];
        }

        var preset = extractor.Preset;
        double framesPerSecond = (double)preset.SampleRate / preset.Hop;
        // Equal parts of about segmentSeconds each (a centred frontend's extra frame joins the last part).
        int count = Math.Clamp((int)Math.Round(frames / (segmentSeconds * framesPerSecond)), 1, frames);
        int Start(int s) => (int)((long)(s % count) * frames / count);
        int End(int s) => s + 1 == count ? frames : Start(s + 1);
        var bySegment = Without([.. Enumerable.Range(0, count).Select(s => new Edit(Start(s), End(s), Start(s + 1), 0, bands))]);
        var segments = Enumerable.Range(0, count).Select(s => new SegmentContribution(s, Math.Round(Start(s) / framesPerSecond, 3),
            Math.Round(Math.Min(End(s) / framesPerSecond, clip.Seconds), 3), bySegment[s])).ToList();

        int top = segments.MaxBy(x => x.Contribution)!.Segment;
        var edges = BandEdges(preset, bands);
        var byBand = Without([.. Enumerable.Range(0, bands).Select(b => new Edit(Start(top), End(top), Start(top + 1), b, b + 1))]);
        var perBand = Enumerable.Range(0, bands).Select(b => new BandContribution(b, edges[b].Low, edges[b].Centre, edges[b].High, byBand[b])).ToList();
        return new Explanation(clip.Source, score, segments, perBand);
    }

    /// <summary>Frames [F0, F1) of bands [B0, B1) take the values of the frames from N0 on (the last frame past the end).</summary>
    readonly record struct Edit(int F0, int F1, int N0, int B0, int B1)
    {
        /// <summary>Edits <paramref name="target"/>, a copy of <paramref name="spectrogram"/>'s frames from <paramref name="offset"/> on.</summary>
        public void Apply(float[,] spectrogram, float[,] target, int offset)
        {
            int frames = spectrogram.GetLength(0);
            for (int t = Math.Max(F0, offset); t < Math.Min(F1, offset + target.GetLength(0)); t++)
            {
                int from = Math.Min(frames - 1, N0 + (t - F0));
                for (int b = B0; b < B1; b++) target[t - offset, b] = spectrogram[from, b];
            }
        }
    }

    /// <summary>
    /// The rows of a clip of self-contained patches (one row per patch of <c>PatchFrames</c> frames, <c>PatchHop</c>
    /// apart): an edit of frames [f0, f1) changes only the rows of the patches that overlap it.
    /// </summary>
    sealed class PatchRows(FeatureExtractor extractor, ClipFeatures original)
    {
        readonly int patchFrames = extractor.Preset.PatchFrames, patchHop = extractor.Preset.PatchHop;

        public static PatchRows? For(FeatureExtractor extractor, ClipFeatures features, int frames)
        {
            var preset = extractor.Preset;
            if (extractor.SelfContainedPatches is null || frames < preset.PatchFrames) return null;
            return features.Rows == (frames - preset.PatchFrames) / preset.PatchHop + 1 ? new PatchRows(extractor, features) : null;
        }

        /// <summary>The clip's features after each edit: the rows of the patches an edit overlaps come from the edited
        /// frames (all edits' patches in one batch), the other rows are the clip's.</summary>
        public List<ClipFeatures> Edited(float[,] spectrogram, IReadOnlyList<Edit> edits)
        {
            int bands = spectrogram.GetLength(1);
            var ranges = edits.Select(e => (First: Math.Max(0, FloorDiv(e.F0 - patchFrames, patchHop) + 1), Last: Math.Min(original.Rows - 1, (e.F1 - 1) / patchHop))).ToList();
            var touched = Enumerable.Range(0, edits.Count).Where(i => ranges[i].First <= ranges[i].Last).ToList();
            var parts = touched.Select(i =>
            {
                var (first, last) = ranges[i];
                var part = new float[(last - first) * patchHop + patchFrames, bands];
                Buffer.BlockCopy(spectrogram, first * patchHop * bands * sizeof(float), part, 0, part.Length * sizeof(float));
                edits[i].Apply(spectrogram, part, first * patchHop);
                return part;
            }).ToList();
            var rows = parts.Count == 0 ? [] : extractor.FromPatchSpectrograms(parts, original.Source);
            var result = Enumerable.Repeat(original, edits.Count).ToList();
            for (int k = 0; k < touched.Count; k++)
            {
                var (first, last) = ranges[touched[k]];
                if (rows[k].Rows != last - first + 1) throw new InvalidOperationException($"{original.Source}: {last - first + 1} patches gave {rows[k].Rows} feature rows");
                var values = (float[])original.Values.Clone();
                Array.Copy(rows[k].Values, 0, values, first * original.Dimension, rows[k].Values.Length);
                result[touched[k]] = original with { Values = values };
            }
            return result;
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
