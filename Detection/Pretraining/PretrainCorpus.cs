namespace NativeASD.Detection.Pretraining;

/// <summary>One pretraining example: mono samples at the corpus rate and its class.</summary>
public readonly record struct PretrainExample(float[] Samples, int Label);

/// <summary>
/// Labelled audio for supervised pretraining. Every example is a pure function of (epoch, index) or the validation
/// index, so a run is reproducible and can resume at any epoch without saving data state.
/// </summary>
public interface IPretrainCorpus
{
    /// <summary>One line saying what the corpus is (recorded in the model file's provenance).</summary>
    string Description { get; }
    /// <summary>Class names, index = label.</summary>
    IReadOnlyList<string> Labels { get; }
    int SampleRate { get; }
    /// <summary>Training examples per epoch.</summary>
    int TrainCount { get; }
    int ValidationCount { get; }
    /// <summary>Training example <paramref name="index"/> of <paramref name="epoch"/>, exactly <paramref name="samples"/> long.</summary>
    PretrainExample Train(int epoch, int index, int samples);
    /// <summary>Validation example <paramref name="index"/> (the same in every epoch), exactly <paramref name="samples"/> long.</summary>
    PretrainExample Validation(int index, int samples);
}
