using System.Globalization;
using System.Text;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Features;
using NativeASD.Engine.Audio;
using NativeASD.Kernels;

namespace NativeASD.Detection.Explanations;

/// <summary>Explains clips under a model file: the detector and its feature extractor are loaded once, each clip is read
/// like scoring reads it (channel as at training, resampled to the frontend's rate) and explained by <see cref="ClipExplainer"/>.</summary>
public sealed class ModelExplainer : IDisposable
{
    readonly IAnomalyDetector _detector;
    readonly FeatureExtractor _extractor;
    readonly ChannelMix _mix;

    /// <param name="backbone">The model's backbone file when it moved since fitting (same SHA-256), as for scoring.</param>
    public ModelExplainer(string modelPath, IBackend? backend = null, string? backbone = null)
    {
        var (detector, info) = DetectorFile.Load(modelPath, backend);
        try
        {
            _extractor = DetectorRunner.ExtractorFor(modelPath, info, backend, backbone);
        }
        catch
        {
            (detector as IDisposable)?.Dispose();
            throw;
        }
        _detector = detector;
        _mix = FeatureConfiguration.Parse(info.Features).Mix;
        Threshold = info.Threshold.Threshold;
    }

    /// <summary>The model's decision threshold.</summary>
    public double Threshold { get; }

    public Explanation Explain(string path, double segmentSeconds = 1) =>
        ClipExplainer.Explain(_detector, _extractor, AudioFile.Read(path, _mix, _extractor.SampleRate), segmentSeconds);

    public void Dispose()
    {
        _extractor.Dispose();
        (_detector as IDisposable)?.Dispose();
    }
}

/// <summary>
/// An explanation as CSV: a header <c>kind,index,start,end,unit,contribution</c>, then one row per segment
/// (<c>segment,i,START_S,END_S,s,C</c>) and per band (<c>band,i,LOW_HZ,HIGH_HZ,Hz,C</c>); the first line after the
/// header is <c>score,,,,,SCORE</c>.
/// </summary>
public static class ExplanationCsv
{
    public static string Format(Explanation e)
    {
        var sb = new StringBuilder("kind,index,start,end,unit,contribution\n");
        sb.Append(CultureInfo.InvariantCulture, $"score,,,,,{e.Score:R}\n");
        foreach (var s in e.Segments)
            sb.Append(CultureInfo.InvariantCulture, $"segment,{s.Segment},{s.StartSeconds:0.###},{s.EndSeconds:0.###},s,{s.Contribution:R}\n");
        foreach (var b in e.Bands)
            sb.Append(CultureInfo.InvariantCulture, $"band,{b.Band},{Hz(b.LowHz)},{Hz(b.HighHz)},Hz,{b.Contribution:R}\n");
        return sb.ToString();
    }

    static string Hz(double v) => double.IsNaN(v) ? "" : v.ToString("0.#", CultureInfo.InvariantCulture);
}
