using System.Text.Json;
using NativeASD.Engine.Layers;
using NativeASD.Engine.Architectures;
using NativeASD.Kernels;
using NativeASD.Detection.Features;
using NativeASD.Engine;

namespace NativeASD.Detection.Detectors;

/// <summary>
/// Training settings shared by the autoencoder baselines; for <see cref="AutoencoderDetector"/> also the
/// <see cref="DenseAutoencoder"/> shape (hidden width, bottleneck, hidden layers per side, BatchNorm ε), which a
/// pretrained initial network (e.g. a converted ad01) sets.
/// </summary>
public sealed record AutoencoderOptions(int Epochs = 100, int BatchSize = 512, float LearningRate = 1e-3f, float WeightDecay = 0f, ulong Seed = 0,
    int Hidden = 128, int Bottleneck = 8, int HiddenLayers = 4, float BnEps = 1e-3f);

/// <summary>
/// The DCASE 2020 Task 2 official baseline (y-kawagu/dcase2020_task2_baseline): the <see cref="DenseAutoencoder"/>
/// (640-128-128-128-128-8-128-128-128-128-640, BatchNorm + ReLU) on 5 stacked 128-bin log-mel frames; MSE loss, Adam.
/// Score = mean squared reconstruction error over all of the clip's vectors. Differences from the Keras original (documented in the
/// README): torch's default initialisation instead of Glorot, and no 10 % validation split.
/// </summary>
public sealed class AutoencoderDetector(AutoencoderOptions? options = null, IBackend? backend = null)
    : ReconstructionDetector<DenseAutoencoder>(backend)
{
    public AutoencoderOptions Options { get; } = options ?? new AutoencoderOptions();
    public override string Kind => DetectorCatalog.Autoencoder.Name;
    protected override (int, int, float, float, ulong) Training => (Options.Epochs, Options.BatchSize, Options.LearningRate, Options.WeightDecay, Options.Seed);
    protected override string OptionsJson => JsonSerializer.Serialize(Options);

    protected override DenseAutoencoder Build(int inputs, SeededRandom? init) => new(inputs, Options.Hidden, Options.Bottleneck, Options.HiddenLayers, Options.BnEps, init: init, backend: Backend);
    protected override float TrainStep(DenseAutoencoder net, Tensor x) => net.LossAndBackward(x);
    protected override Tensor Reconstruct(DenseAutoencoder net, Tensor x) => net.Forward(x);

    /// <summary>Training from rows in the given order (<paramref name="shuffle"/> null) or shuffled; exposed for reference tests.</summary>
    public void FitRows(float[] rows, int dim, SeededRandom? shuffle, IProgress<DetectorProgress>? progress = null) => Train(rows, dim, shuffle, progress);

    public static AutoencoderDetector Load(DetectorState state, IBackend? backend = null)
    {
        var detector = new AutoencoderDetector(JsonSerializer.Deserialize<AutoencoderOptions>(state.Meta("options")), backend);
        detector.Restore(state);
        return detector;
    }
}

/// <summary>Helpers the trainable detectors share: gathering rows, epoch batching, saving a module's tensors.</summary>
static class TrainingRows
{
    public static (float[] Rows, int Dim) Gather(IReadOnlyList<ClipFeatures> clips, string detector)
    {
        if (clips.Count == 0) throw new ArgumentException($"{detector}: no training clips");
        int dim = clips[0].Dimension;
        foreach (var c in clips)
        {
            c.Validate();
            if (c.Dimension != dim) throw new InvalidDataException($"{c.Source}: {c.Dimension} features per row, the first clip has {dim}");
        }
        var rows = new float[clips.Sum(c => (long)c.Values.Length)];
        long at = 0;
        foreach (var c in clips) { c.Values.CopyTo(rows, at); at += c.Values.Length; }
        return (rows, dim);
    }

    /// <summary>For each epoch, the batches (a reused buffer and its row count), rows shuffled per epoch by a seeded Fisher–Yates.</summary>
    public static IEnumerable<(int Epoch, IEnumerable<(float[] Batch, int Rows)> Batches)> Epochs(float[] rows, int dim, int epochs, int batchSize, SeededRandom? shuffle)
    {
        int count = rows.Length / dim;
        var order = Enumerable.Range(0, count).ToArray();
        var buffer = new float[Math.Min(batchSize, count) * dim];
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            if (shuffle is not null) Shuffle(order, shuffle);
            yield return (epoch, Batches());
        }

        IEnumerable<(float[], int)> Batches()
        {
            for (int start = 0; start < count; start += batchSize)
            {
                int b = Math.Min(batchSize, count - start);
                for (int k = 0; k < b; k++) rows.AsSpan(order[start + k] * dim, dim).CopyTo(buffer.AsSpan(k * dim, dim));
                yield return (buffer, b);
            }
        }
    }

    /// <summary>Seeded Fisher–Yates shuffle of <paramref name="order"/> in place.</summary>
    public static void Shuffle(int[] order, SeededRandom shuffle)
    {
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = (int)(shuffle.NextUInt64() % (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
    }

    public static void SaveModule(DetectorState state, string prefix, Module module)
    {
        foreach (var (name, p) in module.NamedParameters()) state.Tensors[prefix + name] = (p.Value.ShapeArray(), p.Value.ToArray());
        foreach (var (name, b) in module.NamedBuffers()) state.Tensors[prefix + name] = (b.ShapeArray(), b.ToArray());
    }

    public static void LoadModule(DetectorState state, string prefix, Module module)
    {
        var targets = module.NamedParameters().Select(p => (p.Name, p.Parameter.Value)).Concat(module.NamedBuffers());
        foreach (var (name, t) in targets)
        {
            var (shape, data) = state.Tensor(prefix + name);
            if (!shape.SequenceEqual(t.ShapeArray()))
                throw new InvalidDataException($"{prefix}{name} is [{string.Join(",", shape)}], expected [{string.Join(",", t.ShapeArray())}]");
            t.Backend.Upload(data, t.Storage, t.Offset);
        }
    }
}
