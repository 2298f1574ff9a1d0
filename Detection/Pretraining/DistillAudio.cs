using NativeASD.Engine.Audio;
using NativeASD.Detection.Evaluation;
using NativeASD.Detection.Synth;

namespace NativeASD.Detection.Pretraining;

/// <summary>
/// Unlabelled real recordings for distillation: every .wav below each folder (recursively), or every file a .txt list
/// names (one path per line, relative to the list's folder; blank lines and lines starting with # are skipped). Files
/// whose names say anomalous are left out. Each file is read once (channel 0), resampled to the student's rate and kept
/// in memory; crop <c>(epoch, index)</c> is a pure function of the seed: a file chosen uniformly, then a random start
/// (clips shorter than a crop are looped).
/// </summary>
public sealed class DistillAudio
{
    readonly float[][] _audio;
    readonly ulong _seed;

    public DistillAudio(IReadOnlyList<string> sources, int sampleRate, ulong seed)
    {
        if (sources.Count == 0) throw new ArgumentException("pretrain: --audio needs at least one folder or list");
        var files = sources.SelectMany(Files).Where(f => ClipName.Parse(f).Anomalous != true).ToList();
        if (files.Count == 0) throw new IOException($"{string.Join(",", sources)}: no normal .wav files");
        var audio = new float[files.Count][];
        long total = 0;
        for (int i = 0; i < files.Count; i++)
        {
            try { audio[i] = AudioFile.Read(files[i], default, sampleRate).Samples; }
            catch (Exception e) when (e is InvalidDataException or FormatException or NotSupportedException or AudioFormatException)
            {
                throw new IOException($"{files[i]}: {e.Message}", e);
            }
            if (audio[i].Length == 0 || audio[i].Any(v => !float.IsFinite(v))) throw new IOException($"{files[i]}: no samples, or NaN/infinite samples");
            total += audio[i].Length;
            if (total > FolderPretrainCorpus.MaxSamples) throw new IOException($"{string.Join(",", sources)}: more than {FolderPretrainCorpus.MaxSamples / sampleRate / 3600.0:F1} hours of audio at {sampleRate} Hz; distil on a subset");
        }
        (_audio, _seed, Paths) = (audio, seed, files);
        Description = $"{files.Count} real clips ({total / (double)sampleRate / 3600:F3} h) from {string.Join(", ", sources)}";
    }

    /// <summary>The files read, in order.</summary>
    public IReadOnlyList<string> Paths { get; }
    public string Description { get; }
    public int Count => _audio.Length;

    /// <summary>Training crop <paramref name="index"/> of <paramref name="epoch"/>, <paramref name="samples"/> long.</summary>
    public float[] Crop(int epoch, int index, int samples)
    {
        var rng = SynthRandom.For((long)_seed, "distill-audio", epoch, index);
        var audio = _audio[rng.Int(0, _audio.Length)];
        return FolderPretrainCorpus.Crop(audio, rng.Int(0, Math.Max(1, audio.Length - samples + 1)), samples);
    }

    static IEnumerable<string> Files(string source)
    {
        if (Directory.Exists(source))
            return Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories)
                .Where(f => f.EndsWith(".wav", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal);
        if (File.Exists(source) && source.EndsWith(".txt", StringComparison.OrdinalIgnoreCase))
        {
            string folder = Path.GetDirectoryName(Path.GetFullPath(source))!;
            var listed = File.ReadLines(source).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))
                .Select(l => Path.GetFullPath(Path.Combine(folder, l))).ToList();
            foreach (var f in listed)
                if (!File.Exists(f)) throw new FileNotFoundException($"{source}: lists {f}, which does not exist", f);
            return listed;
        }
        throw new FileNotFoundException($"{source}: neither a folder nor a .txt list of audio files", source);
    }
}
