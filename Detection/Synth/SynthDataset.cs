using NativeASD.Engine.Audio;

namespace NativeASD.Detection.Synth;

/// <summary>The file layout a synthetic dataset is written in.</summary>
public enum SynthLayout
{
    /// <summary>DCASE 2020: machine IDs, <c>normal_id_XX_NNNNNNNN.wav</c>.</summary>
    Dcase2020,
    /// <summary>DCASE 2023: sections with a source and a target domain, <c>section_XX_{source,target}_{train,test}_{normal,anomaly}_NNNN_speed_S.wav</c>.</summary>
    Dcase2023,
}

/// <summary>What a synthetic dataset holds: machine types, IDs (sections) per type, normal training clips per ID, and per ID
/// <see cref="Test"/> normal plus <see cref="Test"/> anomalous test clips (the type's fault kinds cycled).
/// <para>With <see cref="SynthLayout.Dcase2023"/> every section has a domain shift: <see cref="Train"/> source training
/// clips at the nominal operating condition in the usual hall and <see cref="TargetTrain"/> target training clips at
/// <see cref="TargetCondition"/> (another speed: every rotation rate and cycle changes) in another hall (its machinery
/// in the background, 3 dB more background), like DCASE 2023's 990/10
/// split scaled down; the test set holds <see cref="Test"/> normal and <see cref="Test"/> anomalous clips per domain.</para></summary>
public sealed record SynthDatasetSpec(IReadOnlyList<string> Types, int Ids = 2, int Train = 20, int Test = 20,
    SynthLayout Layout = SynthLayout.Dcase2020, int TargetTrain = 5, int TargetCondition = 2)
{
    /// <summary>Every clip of the dataset, in a fixed order (type, ID, [domain,] train, test normal, test anomalous).</summary>
    public IReadOnlyList<SynthClip> Clips()
    {
        var clips = new List<SynthClip>();
        foreach (string type in Types)
        {
            var kinds = MachineSoundGenerator.AnomaliesOf(type);
            for (int id = 0; id < Ids; id++)
            {
                if (Layout == SynthLayout.Dcase2020)
                {
                    AddSplits(clips, type, id, kinds, Train, 0, null, 0);
                    continue;
                }
                AddSplits(clips, type, id, kinds, Train, 0, "source", 0);
                AddSplits(clips, type, id, kinds, TargetTrain, TargetCondition, "target", 1);
            }
        }
        return clips;
    }

    void AddSplits(List<SynthClip> clips, string type, int id, IReadOnlyList<AnomalyKind> kinds, int train, int condition, string? domain, int factory)
    {
        for (int i = 0; i < train; i++) clips.Add(new SynthClip(type, id, "train", i, AnomalyKind.None, condition, domain, factory));
        for (int i = 0; i < Test; i++) clips.Add(new SynthClip(type, id, "test", i, AnomalyKind.None, condition, domain, factory));
        for (int i = 0; i < Test; i++) clips.Add(new SynthClip(type, id, "test", i, kinds[i % kinds.Count], condition, domain, factory));
    }
}

/// <summary>
/// Writes a synthetic dataset in the DCASE 2020 layout: <c>ROOT/&lt;type&gt;/train/normal_id_XX_*.wav</c> and
/// <c>ROOT/&lt;type&gt;/test/{normal,anomaly}_id_XX_*.wav</c>, or the DCASE 2023 layout (<see cref="SynthLayout"/>), 16-bit PCM. Clips are generated in parallel; each file
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
        if (spec.Layout == SynthLayout.Dcase2023 && (spec.TargetTrain < 1 || spec.TargetCondition < 1 || spec.TargetCondition >= MachineSoundGenerator.ConditionSpeeds.Count))
            throw new ArgumentException($"synth: the target domain needs ≥ 1 training clip and a condition 1–{MachineSoundGenerator.ConditionSpeeds.Count - 1}, got {spec.TargetTrain} and {spec.TargetCondition}");
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
