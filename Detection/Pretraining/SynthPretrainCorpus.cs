using NativeASD.Detection.Synth;

namespace NativeASD.Detection.Pretraining;

/// <summary>
/// The synthetic generator's machines as a classification corpus: one class per machine type × machine ID × operating
/// condition, normal sound only, a fresh clip for every example. Machines are those of <paramref name="machineSeed"/>
/// (the seed <c>nasd synth</c> uses) with IDs from <paramref name="firstId"/> on; the default first ID, 100, is above
/// every ID <c>nasd synth</c> writes (0–99), so the benchmark's machines are never seen in pretraining.
/// </summary>
public sealed class SynthPretrainCorpus : IPretrainCorpus
{
    public const int DefaultFirstId = 100;

    readonly (string Type, int Id, int Condition)[] _classes;
    readonly long _machineSeed;
    readonly ulong _streamSeed;
    readonly int _validationPerClass;

    /// <param name="machineSeed">Seed of the machines' physical parameters (SynthOptions.Seed).</param>
    /// <param name="streamSeed">Seed of the example stream (which class each example is, its clip index).</param>
    /// <param name="ids">Machine IDs per type.</param>
    /// <param name="conditions">Operating conditions per machine (1–5, see MachineSoundGenerator.ConditionSpeeds).</param>
    public SynthPretrainCorpus(int trainCount, IReadOnlyList<string>? types = null, int ids = 12, int conditions = 3, int firstId = DefaultFirstId,
        int validationPerClass = 2, long machineSeed = 0, ulong streamSeed = 0, int sampleRate = 16000)
    {
        types ??= MachineSoundGenerator.MachineTypes;
        foreach (var t in types) MachineSoundGenerator.AnomaliesOf(t);  // unknown types fail here
        if (trainCount < 1) throw new ArgumentException($"synthetic pretraining corpus: clips per epoch must be ≥ 1, got {trainCount}");
        if (ids < 1 || firstId < 0) throw new ArgumentException($"synthetic pretraining corpus: need ≥ 1 ID from a non-negative first ID, got {ids} from {firstId}");
        if (conditions < 1 || conditions > MachineSoundGenerator.ConditionSpeeds.Count)
            throw new ArgumentException($"synthetic pretraining corpus: conditions must be 1–{MachineSoundGenerator.ConditionSpeeds.Count}, got {conditions}");
        if (validationPerClass < 0) throw new ArgumentException($"synthetic pretraining corpus: validation clips per class must be ≥ 0, got {validationPerClass}");
        _classes = [.. from t in types from id in Enumerable.Range(firstId, ids) from c in Enumerable.Range(0, conditions) select (t, id, c)];
        Labels = [.. _classes.Select(c => $"{c.Type}/id_{c.Id:00}/condition_{c.Condition}")];
        (TrainCount, SampleRate, _machineSeed, _streamSeed, _validationPerClass) = (trainCount, sampleRate, machineSeed, streamSeed, validationPerClass);
        Description = $"synthetic machines (seed {machineSeed}): {string.Join("/", types)} × IDs {firstId}–{firstId + ids - 1} × {conditions} conditions = {_classes.Length} classes, {trainCount} fresh clips per epoch, {validationPerClass} validation clips per class";
    }

    public string Description { get; }
    public IReadOnlyList<string> Labels { get; }
    public int SampleRate { get; }
    public int TrainCount { get; }
    public int ValidationCount => _validationPerClass * _classes.Length;

    public PretrainExample Train(int epoch, int index, int samples)
    {
        var pick = SynthRandom.For((long)_streamSeed, "pretrain", epoch, index);
        int label = pick.Int(0, _classes.Length);
        // Clip indices never repeat across epochs: every example is a new recording of its machine.
        return new(Generate(label, "pretrain", checked(epoch * TrainCount + index), samples), label);
    }

    public PretrainExample Validation(int index, int samples)
    {
        int label = index % _classes.Length;
        return new(Generate(label, "pretrain-validation", index / _classes.Length, samples), label);
    }

    float[] Generate(int label, string split, int clipIndex, int samples)
    {
        var (type, id, condition) = _classes[label];
        var generator = new MachineSoundGenerator(new SynthOptions(Seed: _machineSeed, SampleRate: SampleRate, Seconds: (double)samples / SampleRate));
        var x = generator.Generate(new SynthClip(type, id, split, clipIndex, AnomalyKind.None, condition));
        return x.Length == samples ? x : throw new InvalidOperationException($"synthetic clip has {x.Length} samples, {samples} were asked for");
    }
}
