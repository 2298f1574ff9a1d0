using NativeASD.Engine.Audio;
using NativeASD.Detection.Evaluation;
using NativeASD.Detection.Synth;

namespace NativeASD.Detection.Pretraining;

/// <summary>How <see cref="FolderPretrainCorpus"/> names classes.</summary>
public enum FolderLabels
{
    /// <summary>Machine ID when every file has a DCASE name (normal_id_00_….wav, section_00_…), else folder.</summary>
    Auto,
    /// <summary>The file's folder below the root (e.g. fan/train).</summary>
    Folder,
    /// <summary>Top folder + the ID or section in the DCASE file name (fan/id_00): the "which machine is this" task.</summary>
    MachineId,
}

/// <summary>
/// The user's recordings as a classification corpus. Every .wav below the root (recursively) is read once, resampled to
/// the frontend's rate and kept in memory; files whose names say anomalous are left out (pretraining learns normal
/// machines). A fixed fraction of each class's files (chosen by a hash of the seed and the file name) is held out for
/// validation. Training examples pick a class uniformly, then one of its files, then a random crop (clips shorter than a
/// crop are looped). Unreadable files are skipped and listed in <see cref="Skipped"/>.
/// </summary>
public sealed class FolderPretrainCorpus : IPretrainCorpus
{
    /// <summary>Samples kept in memory at most (1 GiB of float32): a larger folder must be subsampled by the user.</summary>
    public const long MaxSamples = 1L << 28;

    readonly float[][] _audio;
    readonly int[] _labelOf;
    readonly int[][] _trainByLabel;
    readonly int[] _validation;
    readonly ulong _seed;

    public FolderPretrainCorpus(string root, int sampleRate, FolderLabels labels = FolderLabels.Auto, double validationFraction = 0.1,
        int? trainCount = null, ulong seed = 0, ChannelMix mix = default)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"{root}: no such folder");
        if (!(validationFraction >= 0 && validationFraction < 1)) throw new ArgumentException($"pretraining: validation fraction must be in [0, 1), got {validationFraction}");
        var files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".wav", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal).ToList();
        var names = files.Select(ClipName.Parse).ToList();
        files = [.. files.Where((_, i) => names[i].Anomalous != true)];
        names = [.. names.Where(n => n.Anomalous != true)];
        if (files.Count == 0) throw new IOException($"{root}: no normal .wav files below this folder");
        if (labels == FolderLabels.Auto) labels = names.All(n => n.Anomalous is not null) ? FolderLabels.MachineId : FolderLabels.Folder;

        var audio = new List<float[]>();
        var fileLabels = new List<string>();
        var kept = new List<string>();
        var skipped = new List<string>();
        long total = 0;
        for (int i = 0; i < files.Count; i++)
        {
            float[] samples;
            try { samples = AudioFile.Read(files[i], mix, sampleRate).Samples; }
            catch (Exception e) when (e is IOException or InvalidDataException or FormatException or ArgumentException or NotSupportedException)
            {
                skipped.Add($"{files[i]}: {e.Message}");
                continue;
            }
            if (samples.Length == 0) { skipped.Add($"{files[i]}: no samples"); continue; }
            if (samples.Any(v => !float.IsFinite(v))) { skipped.Add($"{files[i]}: NaN or infinite samples"); continue; }
            total += samples.Length;
            if (total > MaxSamples) throw new IOException($"{root}: more than {MaxSamples / sampleRate / 3600.0:F1} hours of audio at {sampleRate} Hz; pretrain on a subset");
            audio.Add(samples);
            kept.Add(files[i]);
            string relative = Path.GetRelativePath(root, Path.GetDirectoryName(files[i])!).Replace('\\', '/');
            fileLabels.Add(labels == FolderLabels.Folder ? relative : $"{relative.Split('/')[0]}/{ClipName.Parse(files[i]).Group}");
        }
        if (audio.Count == 0) throw new IOException($"{root}: none of the {files.Count} .wav files could be read ({skipped[0]})");

        Labels = [.. fileLabels.Distinct().Order(StringComparer.Ordinal)];
        if (Labels.Count < 2) throw new IOException($"{root}: pretraining needs at least two classes; all files are '{Labels[0]}' ({labels} labels)");
        var index = Labels.Select((l, i) => (l, i)).ToDictionary(x => x.l, x => x.i);
        _audio = [.. audio];
        _labelOf = [.. fileLabels.Select(l => index[l])];
        _seed = seed;
        var validation = new List<int>();
        var train = Labels.Select(_ => new List<int>()).ToArray();
        for (int label = 0; label < Labels.Count; label++)
        {
            var members = Enumerable.Range(0, _audio.Length).Where(i => _labelOf[i] == label)
                .OrderBy(i => SynthRandom.For((long)seed, "validation", Path.GetFileName(kept[i])).NextULong()).ToList();
            int held = Math.Min(members.Count - 1, (int)Math.Round(members.Count * validationFraction));   // every class keeps a training file
            validation.AddRange(members.Take(held));
            train[label].AddRange(members.Skip(held).Order());
        }
        _trainByLabel = [.. train.Select(t => t.ToArray())];
        _validation = [.. validation.Order()];
        Skipped = skipped;
        SampleRate = sampleRate;
        int trainFiles = _trainByLabel.Sum(t => t.Length);
        TrainCount = trainCount ?? Math.Max(256, 4 * trainFiles);
        if (TrainCount < 1) throw new ArgumentException($"pretraining: clips per epoch must be ≥ 1, got {TrainCount}");
        Description = $"{Path.GetFullPath(root)}: {audio.Count} normal clips ({total / (double)sampleRate / 3600:F2} h), {Labels.Count} {(labels == FolderLabels.Folder ? "folder" : "machine-ID")} classes, {_validation.Length} held out for validation, {TrainCount} crops per epoch";
    }

    public string Description { get; }
    public IReadOnlyList<string> Labels { get; }
    public int SampleRate { get; }
    public int TrainCount { get; }
    public int ValidationCount => _validation.Length;
    public IReadOnlyList<string> Skipped { get; }

    public PretrainExample Train(int epoch, int index, int samples)
    {
        var rng = SynthRandom.For((long)_seed, "folder", epoch, index);
        int label = rng.Int(0, Labels.Count);
        var members = _trainByLabel[label];
        int file = members[rng.Int(0, members.Length)];
        return new(Crop(_audio[file], rng.Int(0, Math.Max(1, _audio[file].Length - samples + 1)), samples), _labelOf[file]);
    }

    public PretrainExample Validation(int index, int samples)
    {
        int file = _validation[index];
        return new(Crop(_audio[file], Math.Max(0, (_audio[file].Length - samples) / 2), samples), _labelOf[file]);
    }

    /// <summary><paramref name="samples"/> samples of <paramref name="audio"/> from <paramref name="start"/>, looped when the clip is shorter.</summary>
    internal static float[] Crop(float[] audio, int start, int samples)
    {
        var x = new float[samples];
        for (int i = 0; i < samples; i++) x[i] = audio[(start + i) % audio.Length];
        return x;
    }
}
