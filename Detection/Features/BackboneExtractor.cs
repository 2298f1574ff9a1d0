using System.Security.Cryptography;
using NativeASD.Engine;
using NativeASD.Engine.Audio;
using NativeASD.Engine.Frontend;
using NativeASD.Engine.Architectures;
using NativeASD.Kernels;
using NativeASD.Detection.Backbones;

namespace NativeASD.Detection.Features;

/// <summary>
/// Features from a pretrained backbone (the paper's transfer learning): the clip goes through the model's own frontend
/// (resampled to its rate) and network up to the deepest requested tap; each tap is averaged over frequency and pooled
/// into segments, and the taps of one segment are concatenated into one row (levels = the taps' channel counts).
/// Segments: one per patch for patch models (YAMNet: 0.96 s patches, hop 0.48 s); otherwise the time axis of every tap is
/// cut into the same number of equal parts, one per second of audio (at least 1, at most the coarsest tap's frames).
/// </summary>
public sealed class BackboneExtractor : FeatureExtractor
{
    readonly LoadedModel _model;
    readonly AudioFrontend _frontend;
    readonly string[] _taps;
    readonly ChannelMix _mix;
    readonly IBackend _backend;

    /// <param name="backend">Runs the network and the frontend (its threads, or its device): the command's --device and --threads.</param>
    /// <param name="int8Activations">Emulate the int8 runtime's activations for a model from an int8 file (see <see cref="ModelFiles.Load"/>).</param>
    public BackboneExtractor(string weightsPath, IReadOnlyList<string> taps, ChannelMix mix = default, IBackend? backend = null, bool int8Activations = true)
        : this(weightsPath, FileSha256(weightsPath), taps, mix, backend, int8Activations) { }

    /// <summary>
    /// The backbone a model was trained with: a file whose SHA-256 is not <paramref name="expectedSha256"/> is refused with
    /// <paramref name="mismatch"/>(its hash) before it is loaded; the file is hashed once.
    /// </summary>
    public static BackboneExtractor Expecting(string weightsPath, string expectedSha256, Func<string, Exception> mismatch,
        IReadOnlyList<string> taps, ChannelMix mix, IBackend? backend, bool int8Activations)
    {
        string sha = FileSha256(weightsPath);
        if (sha != expectedSha256) throw mismatch(sha);
        return new BackboneExtractor(weightsPath, sha, taps, mix, backend, int8Activations);
    }

    BackboneExtractor(string weightsPath, string sha256, IReadOnlyList<string> taps, ChannelMix mix, IBackend? backend, bool int8Activations)
    {
        _backend = backend ?? Backends.DefaultCpu;
        _model = ModelFiles.Load(weightsPath, _backend, int8Activations: int8Activations);
        foreach (var tap in taps)
            if (!_model.Model.TapNames.Contains(tap))
            {
                _model.Dispose();
                throw new ArgumentException($"{weightsPath}: {_model.Arch} has no tap '{tap}' (taps: {string.Join(", ", _model.Model.TapNames)})");
            }
        if (taps.Count == 0) throw new ArgumentException("backbone features need at least one tap");
        _taps = [.. taps];
        _mix = mix;
        WeightsPath = weightsPath;
        Sha256 = sha256;
        _frontend = new AudioFrontend(_model.Frontend, _backend);
    }

    public string WeightsPath { get; }
    public string Sha256 { get; }
    public string Arch => _model.Arch;
    public IReadOnlyList<string> Taps => _taps;
    /// <summary>The backend the network runs on.</summary>
    public IBackend Backend => _backend;
    /// <summary>The model's frontend, on the same backend (threads or device) as the network.</summary>
    public AudioFrontend Frontend => _frontend;

    /// <summary>backbone:SHA256:TAPS[:int8]:chN — ":int8" when the network emulates int8 activations (other features, so another cache key).</summary>
    public override string Configuration =>
        new FeatureConfiguration(FeatureConfiguration.Backbone, _mix, BackboneSha256: Sha256, Taps: _taps, Int8Activations: _model.Int8Activations).ToString();

    public override int SampleRate => _model.Frontend.SampleRate;

    /// <summary>Long files are streamed in blocks (<see cref="LongClip"/>), so memory does not grow with their length.</summary>
    public override ClipFeatures Extract(string path) => LongClip.Extract(path, _mix, _model.Frontend.SampleRate, Extract);

    public override AudioClip? ReadWhole(string path) => LongClip.ReadWhole(path, _mix, _model.Frontend.SampleRate);

    /// <summary>
    /// Clips of one length through the frontend and the network as one batch [N, …] (patch models: all their patches),
    /// each tap pooled (on a device: averaged over frequency there, so only [N, C, T] comes back), then each clip's rows as
    /// <see cref="Extract(AudioClip)"/> makes them. On the CPU a single clip goes <see cref="Extract(AudioClip)"/>'s way.
    /// </summary>
    public override IReadOnlyList<ClipFeatures> ExtractBatch(IReadOnlyList<AudioClip> clips)
    {
        if (clips.Count == 1 && _backend.Kind == DeviceKind.Cpu) return [Extract(clips[0])];
        var preset = _model.Frontend;
        string source = clips[0].Source;
        using var spectrograms = _frontend.ComputeTensor([.. clips.Select(c => c.Samples)], preset.SampleRate, _backend, [.. clips.Select(c => c.Source)]);
        using var x = TapFeatures.Input(preset, spectrograms, source);
        using var outputs = _model.Model.Forward(x, _taps);
        var pooled = _taps.Select(t => Pool(outputs[t], _backend.Kind != DeviceKind.Cpu, source)).ToList();
        int perClip = x.Dim(0) / clips.Count;   // patches per clip (1 without patches)
        var result = new List<ClipFeatures>(clips.Count);
        for (int i = 0; i < clips.Count; i++)
        {
            var perTap = preset.PatchFrames > 0
                ? pooled.Select(p => p.PatchRows(i * perClip, perClip)).ToList()
                : pooled.Select(p => p.Segments(i, clips[i].Seconds)).ToList();
            result.Add(Rows(perTap, 0, perTap.Min(p => p.Rows), clips[i].Source));
        }
        return result;
    }

    public override FrontendPreset Preset => _model.Frontend;

    public override float[,] Spectrogram(AudioClip clip) => _frontend.Compute(clip);

    /// <summary>Patch models with a self-contained frontend (YAMNet): the network sees each patch alone (patches are the batch).</summary>
    public override PatchSpan? SelfContainedPatches => _model.Frontend.SelfContainedPatches;

    public override ClipFeatures FromSpectrogram(float[,] features, AudioClip clip)
    {
        string path = clip.Source;
        using var x = TapFeatures.Input(_model.Frontend, features, path, _backend);
        using var outputs = _model.Model.Forward(x, _taps);
        var perTap = _taps.Select(t => Segment(outputs[t], clip.Seconds, path)).ToList();
        return Rows(perTap, 0, perTap.Min(p => p.Rows), path);
    }

    /// <summary>Patches per network call in <see cref="FromPatchSpectrograms"/>: a batch of parts runs faster than part by part,
    /// and its activations (≈ 3 MB per YAMNet patch) stay the size of a 10 s clip's.</summary>
    public const int MaxBatchPatches = 20;

    /// <summary>The parts' patches through the network in batches of up to <see cref="MaxBatchPatches"/> (patches are
    /// independent); each part gets its patches' rows.</summary>
    public override IReadOnlyList<ClipFeatures> FromPatchSpectrograms(IReadOnlyList<float[,]> parts, string source)
    {
        var preset = _model.Frontend;
        if (SelfContainedPatches is null) return base.FromPatchSpectrograms(parts, source);   // throws: not patches
        var patches = parts.Select(p => FrameStacking.Patches(p, preset.PatchFrames, preset.PatchHop)).ToList();
        if (patches.Any(p => p.GetLength(0) == 0)) throw new ArgumentException($"{source}: a part holds no whole {preset.PatchFrames}-frame patch");
        var result = new List<ClipFeatures>(parts.Count);
        for (int start = 0; start < patches.Count;)
        {
            int end = start + 1, total = patches[start].GetLength(0);
            while (end < patches.Count && total + patches[end].GetLength(0) <= MaxBatchPatches) total += patches[end++].GetLength(0);
            result.AddRange(Batch(patches[start..end], total, source));
            start = end;
        }
        return result;
    }

    List<ClipFeatures> Batch(List<float[,,]> patches, int total, string source)
    {
        var preset = _model.Frontend;
        var input = new float[total * preset.PatchFrames * preset.Bins];
        int at = 0;
        foreach (var p in patches)
        {
            Buffer.BlockCopy(p, 0, input, at * sizeof(float), p.Length * sizeof(float));
            at += p.Length;
        }
        using var x = Tensor.FromSpan(input, [total, 1, preset.PatchFrames, preset.Bins], _backend);
        using var outputs = _model.Model.Forward(x, _taps);
        // One row per patch: a batch of one patch is one segment of one patch's length.
        var perTap = _taps.Select(t => Segment(outputs[t], preset.PatchFrames * (double)preset.Hop / preset.SampleRate, source)).ToList();
        var result = new List<ClipFeatures>(patches.Count);
        int first = 0;
        foreach (var p in patches)
        {
            result.Add(Rows(perTap, first, p.GetLength(0), source));
            first += p.GetLength(0);
        }
        return result;
    }

    /// <summary>Rows <paramref name="first"/> … + <paramref name="rows"/> of every tap, the taps of one row side by side.</summary>
    static ClipFeatures Rows(List<(float[] Values, int Rows, int Channels)> perTap, int first, int rows, string path)
    {
        var levels = perTap.Select(p => p.Channels).ToArray();
        int dim = levels.Sum();
        var data = new float[rows * dim];
        int at = 0;
        int all = perTap.Min(p => p.Rows);
        foreach (var (values, segRows, channels) in perTap)
        {
            for (int r = 0; r < rows; r++)
            {
                // Taps of equal segment counts line up; otherwise map row r to the proportional segment.
                int src = (int)((long)(first + r) * segRows / all);
                Array.Copy(values, src * channels, data, r * dim + at, channels);
            }
            at += channels;
        }
        return new ClipFeatures(path, data, rows, dim, levels);
    }

    /// <summary>[N, C] → N rows; [P, C, T, F] with P &gt; 1 → one row per patch; [1, C, T, F] → K time segments.</summary>
    static (float[] Values, int Rows, int Channels) Segment(Tensor tap, double seconds, string path)
    {
        var pooled = Pool(tap, overFrequencyOnDevice: false, path);
        return pooled.Samples > 1 || tap.Rank == 2 ? pooled.PatchRows(0, pooled.Samples) : pooled.Segments(0, seconds);
    }

    /// <summary>A tap's output on the host: [N, C] as [N, C, 1, 1]; [N, C, T, F] as it is, or averaged over F on the
    /// device first (the transfer shrinks by F; the host then averages means of equal counts, the same mean).</summary>
    static PooledTap Pool(Tensor tap, bool overFrequencyOnDevice, string path)
    {
        int c = tap.Dim(1);
        if (tap.Rank == 2) return new PooledTap(tap.ToArray(), tap.Dim(0), c, 1, 1);
        if (tap.Rank != 4) throw new InvalidDataException($"{path}: tap output {Layout.Format(tap.Shape)} is neither [N, C] nor [N, C, T, F]");
        if (!overFrequencyOnDevice) return new PooledTap(tap.ToArray(), tap.Dim(0), c, tap.Dim(2), tap.Dim(3));   // row-major copy through any strides
        using var mean = Ops.Mean(tap, 3);
        return new PooledTap(mean.ToArray(), tap.Dim(0), c, tap.Dim(2), 1);
    }

    /// <summary>A tap's values on the host, [Samples, Channels, Time, Frequency] row-major.</summary>
    readonly record struct PooledTap(float[] Values, int Samples, int Channels, int Time, int Frequency)
    {
        /// <summary>One row per sample <paramref name="first"/> … + <paramref name="count"/> (a patch): its mean over time and frequency.</summary>
        public (float[] Values, int Rows, int Channels) PatchRows(int first, int count)
        {
            int c = Channels, tf = Time * Frequency;
            var rows = new float[count * c];
            for (int p = 0; p < count; p++)
                for (int ch = 0; ch < c; ch++)
                {
                    double s = 0;
                    int b = ((first + p) * c + ch) * tf;
                    for (int i = 0; i < tf; i++) s += Values[b + i];
                    rows[p * c + ch] = (float)(s / tf);
                }
            return (rows, count, c);
        }

        /// <summary>Sample <paramref name="sample"/> (a clip of <paramref name="seconds"/>) cut into K = round(seconds) equal time segments (1 ≤ K ≤ T), each averaged.</summary>
        public (float[] Values, int Rows, int Channels) Segments(int sample, double seconds)
        {
            int c = Channels, t = Time, f = Frequency;
            int k = Math.Clamp((int)Math.Round(seconds), 1, t);
            var seg = new float[k * c];
            long first = (long)sample * c * t * f;
            for (int s = 0; s < k; s++)
            {
                int t0 = (int)((long)s * t / k), t1 = (int)((long)(s + 1) * t / k);
                for (int ch = 0; ch < c; ch++)
                {
                    double sum = 0;
                    for (int ti = t0; ti < t1; ti++)
                        for (int fi = 0; fi < f; fi++) sum += Values[first + (ch * t + ti) * f + fi];
                    seg[s * c + ch] = (float)(sum / ((t1 - t0) * f));
                }
            }
            return (seg, k, c);
        }
    }

    public static string FileSha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    public override void Dispose()
    {
        _frontend.Dispose();
        _model.Dispose();
        base.Dispose();
    }
}
