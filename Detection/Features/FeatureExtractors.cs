using System.Security.Cryptography;
using NativeASD.Engine.Audio;
using NativeASD.Engine.Frontend;
using NativeASD.Engine.IO;
using NativeASD.Kernels;

namespace NativeASD.Detection.Features;

/// <summary>
/// Turns a clip (a file, or samples in memory) into <see cref="ClipFeatures"/>. <see cref="Configuration"/> names
/// everything that affects the result; it keys the feature cache and is stored in model files so scoring uses the same
/// features as training. <c>Extract(path)</c> reads the file (channel per the configuration, resampled to
/// <see cref="SampleRate"/>) and gives exactly what <c>Extract(clip)</c> gives on those samples.
/// </summary>
public abstract class FeatureExtractor : IDisposable
{
    public abstract string Configuration { get; }

    /// <summary>Rate the samples given to <see cref="Extract(AudioClip)"/> must have (the frontend preset's).</summary>
    public abstract int SampleRate { get; }

    public abstract ClipFeatures Extract(string path);

    /// <summary>Features of mono samples at <see cref="SampleRate"/> (e.g. a window of a live stream); <c>clip.Source</c> names it in errors.</summary>
    public ClipFeatures Extract(AudioClip clip) => FromSpectrogram(Spectrogram(clip), clip);

    /// <summary>
    /// The samples <c>Extract(path)</c> would extract, read (and resampled) by the caller — on a decoding thread of
    /// <see cref="FeaturePipeline"/>, ahead of the network — or null when the extractor reads the file its own way
    /// (a long file streamed in blocks): then <c>Extract(path)</c> is called.
    /// </summary>
    public virtual AudioClip? ReadWhole(string path) => null;

    /// <summary>
    /// Features of clips that <see cref="ReadWhole"/> gave, result i of clip i: what <c>Extract(clip)</c> gives one by one,
    /// within the backend's parity bounds. A backbone runs clips of one length through its network as one batch.
    /// </summary>
    public virtual IReadOnlyList<ClipFeatures> ExtractBatch(IReadOnlyList<AudioClip> clips) => [.. clips.Select(Extract)];

    /// <summary>The frontend whose output (<see cref="Spectrogram"/>) the features are computed from: rate, hop, bands.</summary>
    public abstract FrontendPreset Preset { get; }

    /// <summary>The frontend's time–frequency input of the features, [frames, bands] (a log-mel for every extractor here).</summary>
    public abstract float[,] Spectrogram(AudioClip clip);

    /// <summary>The features of a (possibly edited) <see cref="Spectrogram"/> of <paramref name="clip"/>: what
    /// <see cref="Extract(AudioClip)"/> gives when the spectrogram is unchanged. Explanations edit bands and frames here.</summary>
    public abstract ClipFeatures FromSpectrogram(float[,] spectrogram, AudioClip clip);

    /// <summary>
    /// Set when the features are one row per patch and each row depends on its patch's samples only: then the rows of a
    /// clip of consecutive patches are those patches' rows, whatever surrounds them (a live stream computes each patch once).
    /// </summary>
    public virtual PatchSpan? SelfContainedPatches => null;

    /// <summary>
    /// For an extractor of <see cref="SelfContainedPatches"/>: the rows of spectrogram parts that each hold whole patches
    /// (<c>PatchFrames + (k − 1)·PatchHop</c> frames), one row per patch. An extractor that sets SelfContainedPatches
    /// provides it (a backbone runs the parts' patches in batches).
    /// </summary>
    public virtual IReadOnlyList<ClipFeatures> FromPatchSpectrograms(IReadOnlyList<float[,]> parts, string source) =>
        throw new InvalidOperationException($"{Configuration}: features are not self-contained patches");

    public virtual void Dispose() => GC.SuppressFinalize(this);
}

/// <summary>
/// Features computed from a log-mel alone (no network): the frontend runs on the CPU's threads, or with a device backend
/// on the device, a batch of clips of one length in one launch per stage; each clip's log-mel then comes back (frames ×
/// bands floats, less than its audio) and the features are formed on the host.
/// </summary>
public abstract class LogMelExtractor : FeatureExtractor
{
    readonly AudioFrontend _frontend;
    readonly IBackend? _device;

    /// <param name="backend">a device backend puts the frontend on the device; null or the CPU: <paramref name="threads"/> CPU threads.</param>
    protected LogMelExtractor(string preset, ChannelMix mix, int threads, IBackend? backend)
    {
        Mix = mix;
        _device = backend is { Kind: not DeviceKind.Cpu } ? backend : null;
        _frontend = _device is null ? new AudioFrontend(FrontendPreset.Get(preset), threads) : new AudioFrontend(FrontendPreset.Get(preset), _device);
    }

    protected ChannelMix Mix { get; }

    public override int SampleRate => _frontend.Preset.SampleRate;

    public override ClipFeatures Extract(string path) => Extract(AudioFile.Read(path, Mix, SampleRate));

    public override AudioClip? ReadWhole(string path) => AudioFile.Read(path, Mix, SampleRate);

    public override FrontendPreset Preset => _frontend.Preset;

    public override float[,] Spectrogram(AudioClip clip) => _frontend.Compute(clip);

    /// <summary>On a device: the batch's log-mels in one go, [N, 1, frames, bands], then each clip's features.</summary>
    public override IReadOnlyList<ClipFeatures> ExtractBatch(IReadOnlyList<AudioClip> clips)
    {
        if (_device is null) return base.ExtractBatch(clips);
        using var batch = _frontend.ComputeTensor([.. clips.Select(c => c.Samples)], SampleRate, _device, [.. clips.Select(c => c.Source)]);
        int frames = batch.Dim(2), bands = batch.Dim(3);
        var all = batch.ToArray();
        var result = new List<ClipFeatures>(clips.Count);
        for (int i = 0; i < clips.Count; i++)
        {
            var logMel = new float[frames, bands];
            Buffer.BlockCopy(all, i * frames * bands * sizeof(float), logMel, 0, frames * bands * sizeof(float));
            result.Add(FromSpectrogram(logMel, clips[i]));
        }
        return result;
    }

    public override void Dispose() { _frontend.Dispose(); base.Dispose(); }
}

/// <summary>No backbone: per-bin mean and standard deviation over time of a log-mel (dcase2020: 128 bins → 256-d).</summary>
public sealed class LogMelStatisticsExtractor(string preset = "dcase2020", ChannelMix mix = default, int threads = 0, IBackend? backend = null)
    : LogMelExtractor(preset, mix, threads, backend)
{
    public override string Configuration => new FeatureConfiguration(FeatureConfiguration.LogMelStatistics, Mix, Preset.Name).ToString();

    public override ClipFeatures FromSpectrogram(float[,] logMel, AudioClip clip)
    {
        int frames = logMel.GetLength(0), bins = logMel.GetLength(1);
        var flat = new float[frames * bins];
        Buffer.BlockCopy(logMel, 0, flat, 0, flat.Length * sizeof(float));
        return ClipFeatures.Single(clip.Source, LogMelStatistics.Compute(flat, frames, bins));
    }
}

/// <summary>Stacked log-mel frames for the autoencoder baselines: dcase2020 × 5 frames = 640-d, vae60 × 11 = 660-d.</summary>
public sealed class StackedFramesExtractor(string preset, int frames, ChannelMix mix = default, int threads = 0, IBackend? backend = null)
    : LogMelExtractor(preset, mix, threads, backend)
{
    public override string Configuration => new FeatureConfiguration(FeatureConfiguration.StackedFrames, Mix, Preset.Name, frames).ToString();

    public override ClipFeatures FromSpectrogram(float[,] logMel, AudioClip clip)
    {
        var stacked = FrameStacking.Stack(logMel, frames);
        int rows = stacked.GetLength(0), dim = stacked.GetLength(1);
        if (rows < 1) throw new InvalidDataException($"{clip.Source}: too short for {frames} stacked frames");
        var flat = new float[rows * dim];
        Buffer.BlockCopy(stacked, 0, flat, 0, flat.Length * sizeof(float));
        return new ClipFeatures(clip.Source, flat, rows, dim, [dim]);
    }
}

/// <summary>
/// Features on disk, keyed by SHA-256 of (file content, extractor configuration): re-fitting with other detector settings
/// re-uses them, and a changed file or configuration misses. Entries are float32 .npy [rows, dim] written atomically;
/// tap levels are in the file name. The cache is an optimisation only: an entry that cannot be read (damaged, unreadable,
/// a folder in its place) is a miss and is recomputed; the first write that fails (read-only or full disk, no HOME) is
/// kept in <see cref="WriteFailure"/> and the run goes on without writing; a clip is never lost because of the cache.
/// </summary>
public sealed class FeatureCache(string directory)
{
    public string Directory { get; } = directory;
    public int Hits { get; private set; }
    public int Misses { get; private set; }

    bool _swept;

    /// <summary>Why writing stopped ("DIR: reason"), or null while writes succeed.</summary>
    public string? WriteFailure { get; private set; }

    public ClipFeatures GetOrExtract(string path, FeatureExtractor extractor)
    {
        var (cached, key) = TryGet(path, extractor.Configuration);
        if (cached is not null) return cached;
        var computed = extractor.Extract(path);
        Put(key, computed);
        return computed;
    }

    /// <summary>The cached features of <paramref name="path"/> under <paramref name="configuration"/> (a hit), or null and
    /// the key to <see cref="Put"/> them under once computed (a miss). Reads the whole file to hash it.</summary>
    public (ClipFeatures? Features, string Key) TryGet(string path, string configuration)
    {
        string key = Key(path, configuration);
        var cached = TryRead(path, key);
        lock (this)
        {
            if (cached is null) Misses++;
            else Hits++;
        }
        return (cached, key);
    }

    /// <summary>Stores features computed after a miss of <see cref="TryGet"/>; a failed write stops writing (<see cref="WriteFailure"/>).</summary>
    public void Put(string key, ClipFeatures features)
    {
        if (WriteFailure is null) TryWrite(key, features);
    }

    ClipFeatures? TryRead(string path, string key)
    {
        string[] existing;
        try { existing = System.IO.Directory.Exists(Directory) ? System.IO.Directory.GetFiles(Directory, key + ".*.npy") : []; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        foreach (var file in existing)
        {
            try
            {
                var levels = Path.GetFileNameWithoutExtension(file)[(key.Length + 1)..].Split('-').Select(int.Parse).ToArray();
                var (data, shape) = NpyFile.Read(file);
                if (shape.Length != 2) continue;
                var features = new ClipFeatures(path, data, shape[0], shape[1], levels);
                features.Validate();
                return features;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException or IndexOutOfRangeException or InvalidDataException or ArgumentException)
            {
                try { File.Delete(file); } catch (Exception d) when (d is IOException or UnauthorizedAccessException) { }
            }
        }
        return null;
    }

    void TryWrite(string key, ClipFeatures features)
    {
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            if (!_swept) AtomicFile.RemoveStaleTemporaries(Directory);   // leftovers of killed runs, once per cache
            _swept = true;
            NpyFile.Write(Path.Combine(Directory, $"{key}.{string.Join("-", features.Levels)}.npy"), features.Values, features.Rows, features.Dimension);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            lock (this) WriteFailure ??= e.Message.Contains(Directory, StringComparison.Ordinal) ? e.Message : $"{Directory}: {e.Message}";
        }
    }

    static string Key(string path, string configuration)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using (var stream = File.OpenRead(path))
        {
            var buffer = new byte[1 << 16];
            int n;
            while ((n = stream.Read(buffer)) > 0) sha.AppendData(buffer, 0, n);
        }
        sha.AppendData(System.Text.Encoding.UTF8.GetBytes("\n" + configuration));
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}

/// <summary>Builds the log-mel extractor a configuration string names (as stored in model files).</summary>
public static class FeatureExtractors
{
    /// <param name="backend">a device backend runs the frontend on the device (see <see cref="LogMelExtractor"/>).</param>
    /// <exception cref="InvalidDataException">Not a log-mel configuration (a backbone's needs its weight file: DetectorRunner.ExtractorFor).</exception>
    public static FeatureExtractor FromConfiguration(string configuration, int threads = 0, IBackend? backend = null)
    {
        var c = FeatureConfiguration.Parse(configuration);
        return c.Kind switch
        {
            FeatureConfiguration.LogMelStatistics => new LogMelStatisticsExtractor(c.Preset!, c.Mix, threads, backend),
            FeatureConfiguration.StackedFrames => new StackedFramesExtractor(c.Preset!, c.Frames, c.Mix, threads, backend),
            _ => throw new InvalidDataException($"unknown feature configuration '{configuration}'"),
        };
    }

    /// <summary><paramref name="extractor"/> (a log-mel one, from its configuration) with its frontend on a device backend;
    /// on the CPU, or for any other extractor, itself.</summary>
    public static FeatureExtractor OnBackend(FeatureExtractor extractor, IBackend? backend)
    {
        if (extractor is not LogMelExtractor || backend is null || backend.Kind == DeviceKind.Cpu) return extractor;
        using (extractor) return FromConfiguration(extractor.Configuration, backend: backend);
    }
}
