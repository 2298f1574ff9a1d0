
namespace NativeASD.Detection.Pretraining;

/// <summary>
/// Settings of one pretraining run. The architecture is a PANNs-layout ResNet (<see cref="Blocks"/> per stage, every
/// channel count × <see cref="Width"/>); <c>resnet-small</c> = ResNet22 topology at a quarter width.
/// </summary>
public sealed record PretrainOptions
{
    public string Arch { get; init; } = "resnet-small";
    public int[] Blocks { get; init; } = [2, 2, 2, 2];
    public double Width { get; init; } = 0.25;
    /// <summary>Frontend preset of a fresh model (a model started from --init keeps its file's frontend).</summary>
    public string Frontend { get; init; } = "panns16k";
    public int Epochs { get; init; } = 12;
    public int BatchSize { get; init; } = 32;
    /// <summary>Peak learning rate of AdamW (linear warm-up, then cosine decay to 2 % of it).</summary>
    public float LearningRate { get; init; } = 1e-3f;
    public float WeightDecay { get; init; } = 0.01f;
    /// <summary>Global gradient-norm clip.</summary>
    public float ClipNorm { get; init; } = 5f;
    /// <summary>Length of every training and validation crop.</summary>
    public double CropSeconds { get; init; } = 2.0;
    public ulong Seed { get; init; } = 0;
    public Augmentation Augmentation { get; init; } = new();
    /// <summary>Weight files of the teachers whose embeddings the student learns to predict (none: no distillation).</summary>
    public string[] Teachers { get; init; } = [];
    /// <summary>Real-audio folders or .txt lists whose crops join every batch for distillation only (no labels).</summary>
    public string[] Audio { get; init; } = [];
    /// <summary>Real crops added to every batch (when <see cref="Audio"/> is given).</summary>
    public int AudioPerBatch { get; init; } = 16;
    /// <summary>Weight of each teacher's distillation loss (MSE on standardised teacher embeddings) beside the cross-entropy.</summary>
    public float DistillWeight { get; init; } = 1f;

    /// <summary>The known architecture names and their (blocks, width).</summary>
    public static PretrainOptions ForArch(string arch) => arch switch
    {
        "resnet-small" => new PretrainOptions(),
        "resnet22" => new PretrainOptions { Arch = arch, Width = 1.0 },
        "resnet38" => new PretrainOptions { Arch = arch, Blocks = [3, 4, 6, 3], Width = 1.0 },
        _ => throw new ArgumentException($"pretrain: unknown architecture '{arch}' (known: resnet-small, resnet22, resnet38)"),
    };

    public void Validate()
    {
        if (Epochs < 1 || BatchSize < 1) throw new ArgumentException($"pretrain: epochs and batch size must be ≥ 1, got {Epochs} and {BatchSize}");
        if (!(LearningRate > 0) || !(WeightDecay >= 0) || !(ClipNorm > 0)) throw new ArgumentException("pretrain: learning rate and clip norm must be > 0, weight decay ≥ 0");
        if (!(Width > 0 && Width <= 4)) throw new ArgumentException($"pretrain: width must be in (0, 4], got {Width}");
        if (Audio.Length > 0 && Teachers.Length == 0) throw new ArgumentException("pretrain: --audio clips have no labels; they need --teacher to learn from");
        if (Audio.Length > 0 && AudioPerBatch < 1) throw new ArgumentException($"pretrain: real crops per batch must be ≥ 1, got {AudioPerBatch}");
        if (!(DistillWeight > 0 && DistillWeight <= 1000)) throw new ArgumentException($"pretrain: distillation weight must be in (0, 1000], got {DistillWeight}");
        if (!(CropSeconds >= 0.35 && CropSeconds <= 30)) throw new ArgumentException($"pretrain: crop length must be 0.35–30 s (the ResNet needs 32 frames), got {CropSeconds}");
    }
}
