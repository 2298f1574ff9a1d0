using System.Globalization;
using System.Text.Json;
using NativeASD.Engine.Layers;
using NativeASD.Engine.Models;
using NativeASD.Engine.Optim;
using NativeASD.Kernels;

namespace NativeASD.Engine.Detection;

/// <summary>Training settings shared by the autoencoder baselines.</summary>
public sealed record AutoencoderOptions(int Epochs = 100, int BatchSize = 512, float LearningRate = 1e-3f, float WeightDecay = 0f, ulong Seed = 0);

/// <summary>
/// The DCASE 2020 Task 2 official baseline (y-kawagu/dcase2020_task2_baseline): the <see cref="DenseAutoencoder"/>
/// (640-128-128-128-128-8-128-128-128-128-640, BatchNorm + ReLU) on 5 stacked 128-bin log-mel frames; MSE loss, Adam.
/// Score = mean squared reconstruction error over all of the clip's vectors. Differences from the Keras original (documented in the
/// README): torch's default initialisation instead of Glorot, and no 10 % validation split.
/// </summary>
public sealed class AutoencoderDetector : IAnomalyDetector, IDisposable
{
    readonly IBackend _backend;
    DenseAutoencoder? _net;
    int _inputs;

    public AutoencoderDetector(AutoencoderOptions? options = null, IBackend? backend = null)
    {
        Options = options ?? new AutoencoderOptions();
        _backend = backend ?? Backends.DefaultCpu;
    }

    public AutoencoderOptions Options { get; }
    public string Kind => "ae";
    public List<float> StepLosses { get; } = [];
    public List<float> EpochLosses { get; } = [];
    public DenseAutoencoder Network => _net ?? throw new InvalidOperationException("ae: no network before Fit or Load");

    /// <summary>Builds the baseline network (<see cref="DenseAutoencoder"/>) for <paramref name="inputs"/>-d vectors.</summary>
    public void CreateNetwork(int inputs, SeededRandom? init = null)
    {
        _net?.Dispose();
        _inputs = inputs;
        _net = new DenseAutoencoder(inputs, init: init, backend: _backend);
    }

    public string Fit(IReadOnlyList<ClipFeatures> normal, IProgress<DetectorProgress>? progress = null)
    {
        var (rows, dim) = TrainingRows.Gather(normal, "ae");
        var rng = new SeededRandom(Options.Seed);
        CreateNetwork(dim, rng);
        FitRows(rows, dim, rng, progress);
        return $"{normal.Count} clips, {rows.Length / dim} vectors, {Options.Epochs} epochs, final loss {EpochLosses.LastOrDefault().ToString("G5", CultureInfo.InvariantCulture)}";
    }

    /// <summary>Epochs of mini-batches (shuffled by <paramref name="shuffle"/> unless null) with Adam on MSE; exposed for reference tests.</summary>
    public void FitRows(float[] rows, int dim, SeededRandom? shuffle, IProgress<DetectorProgress>? progress = null)
    {
        var net = Network;
        net.Train();
        using var adam = new Adam(net.NamedParameters().Select(p => p.Parameter), Options.LearningRate, weightDecay: Options.WeightDecay);
        StepLosses.Clear();
        EpochLosses.Clear();
        foreach (var (epoch, batches) in TrainingRows.Epochs(rows, dim, Options.Epochs, Options.BatchSize, shuffle))
        {
            double sum = 0;
            int count = 0;
            foreach (var (batch, b) in batches)
            {
                using var x = Tensor.FromSpan(batch.AsSpan(0, b * dim), [b, dim], _backend);
                adam.ZeroGrad();
                float loss = net.LossAndBackward(x);
                adam.Step();
                StepLosses.Add(loss);
                sum += loss * b;
                count += b;
            }
            EpochLosses.Add((float)(sum / count));
            progress?.Report(new DetectorProgress("epoch", epoch + 1, Options.Epochs, EpochLosses[^1]));
        }
        net.Eval();
    }

    public double Score(ClipFeatures clip)
    {
        clip.Validate();
        if (clip.Dimension != _inputs)
            throw new InvalidDataException($"{clip.Source}: {clip.Dimension}-d vectors, the autoencoder was trained on {_inputs}-d");
        Network.Eval();
        using var x = Tensor.FromSpan(clip.Values, [clip.Rows, clip.Dimension], _backend);
        using var errors = Network.RowErrors(x);
        return errors.ToArray().Average(e => (double)e);
    }

    public DetectorState Save()
    {
        var state = new DetectorState();
        state.Metadata["options"] = JsonSerializer.Serialize(Options);
        state.Metadata["inputs"] = _inputs.ToString(CultureInfo.InvariantCulture);
        TrainingRows.SaveModule(state, "net.", Network);
        return state;
    }

    public static AutoencoderDetector Load(DetectorState state, IBackend? backend = null)
    {
        var detector = new AutoencoderDetector(JsonSerializer.Deserialize<AutoencoderOptions>(state.Meta("options")), backend);
        detector.CreateNetwork(int.Parse(state.Meta("inputs"), CultureInfo.InvariantCulture));
        TrainingRows.LoadModule(state, "net.", detector.Network);
        detector.Network.Eval();
        return detector;
    }

    public void Dispose() => _net?.Dispose();
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
            if (shuffle is not null)
                for (int i = count - 1; i > 0; i--)
                {
                    int j = (int)(shuffle.NextUInt64() % (ulong)(i + 1));
                    (order[i], order[j]) = (order[j], order[i]);
                }
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
