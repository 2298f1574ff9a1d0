using NativeASD.Engine.Audio;

namespace NativeASD.Detection.Synth;

/// <summary>What a synthetic dataset holds: machine types, IDs per type, normal training clips per ID, and per ID
/// <see cref="Test"/> normal plus <see cref="Test"/> anomalous test clips (the type's fault kinds cycled).</summary>
public sealed record SynthDatasetSpec(IReadOnlyList<string> Types, int Ids = 2, int Train = 20, int Test = 20)
{
    /// <summary>Every clip of the dataset, in a fixed order (type, ID, train, test normal, test anomalous).</summary>
    public IReadOnlyList<SynthClip> Clips()
    {
        var clips = new List<SynthClip>();
        foreach (string type in Types)
        {
            var kinds = MachineSoundGenerator.AnomaliesOf(type);
            for (int id = 0; id < Ids; id++)
            {
                for (int i = 0; i < Train; i++) clips.Add(new SynthClip(type, id, "train", i, AnomalyKind.None));
                for (int i = 0; i < Test; i++) clips.Add(new SynthClip(type, id, "test", i, AnomalyKind.None));
                for (int i = 0; i < Test; i++) clips.Add(new SynthClip(type, id, "test", i, kinds[i % kinds.Count]));
            }
        }
        return clips;
    }
}

/// <summary>
/// Writes a synthetic dataset in the DCASE 2020 layout: <c>ROOT/&lt;type&gt;/train/normal_id_XX_*.wav</c> and
/// <c>ROOT/&lt;type&gt;/test/{normal,anomaly}_id_XX_*.wav</c>, 16-bit PCM. Clips are generated in parallel; each file
/// depends only on (options, clip), so the same seed writes the same bytes whatever the thread count.
/// </summary>
public static class SynthDataset
{
    public static string PathOf(string root, SynthClip clip) => Path.Combine(root, clip.MachineType, clip.Split, clip.FileName);

    /// <summary>Writes every clip (atomically, one file at a time); returns the paths in <see cref="SynthDatasetSpec.Clips"/> order.</summary>
    public static IReadOnlyList<string> Write(string root, SynthDatasetSpec spec, SynthOptions options, int threads = 0,
        IProgress<(int Done, int Total)>? progress = null, CancellationToken cancel = default)
    {
        foreach (string type in spec.Types) MachineSoundGenerator.AnomaliesOf(type); // unknown types fail before any file is written
        if (spec.Ids < 1 || spec.Ids > 100) throw new ArgumentException($"synth: IDs must be 1–100, got {spec.Ids}");
        if (spec.Train < 1 || spec.Test < 1) throw new ArgumentException($"synth: train and test counts must be ≥ 1, got {spec.Train} and {spec.Test}");
        var clips = spec.Clips();
        foreach (var dir in clips.Select(c => Path.GetDirectoryName(PathOf(root, c))!).Distinct()) Directory.CreateDirectory(dir);
        var generator = new MachineSoundGenerator(options);
        int done = 0;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = threads > 0 ? threads : Environment.ProcessorCount, CancellationToken = cancel };
        Parallel.For(0, clips.Count, parallel, i =>
        {
            WavWriter.Write(PathOf(root, clips[i]), generator.Generate(clips[i]), options.SampleRate);
            progress?.Report((Interlocked.Increment(ref done), clips.Count));
        });
        return clips.Select(c => PathOf(root, c)).ToList();
    }
}
