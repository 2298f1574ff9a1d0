using System.Globalization;
using NativeASD.Engine.Layers;
using NativeASD.Engine.Architectures;
using NativeASD.Engine.Optim;
using NativeASD.Kernels;
using NativeASD.Detection.Features;
using NativeASD.Engine;

namespace NativeASD.Detection.Detectors;

/// <summary>
/// What the reconstruction baselines (<see cref="AutoencoderDetector"/>, <see cref="VaeDetector"/>) share: training on
/// the clips' row vectors in shuffled mini-batches with Adam, score = mean squared reconstruction error over all of a
/// clip's vectors, and saving the network with its options. A subclass builds its network, does one training step and
/// reconstructs in evaluation mode.
/// </summary>
public abstract class ReconstructionDetector<TNet> : IAnomalyDetector, IDisposable where TNet : Module
{
    TNet? _net;
    int _inputs;

    protected ReconstructionDetector(IBackend? backend) => Backend = backend ?? Backends.DefaultCpu;

    protected IBackend Backend { get; }
    public abstract string Kind { get; }
    public List<float> StepLosses { get; } = [];
    public List<float> EpochLosses { get; } = [];
    public TNet Network => _net ?? throw new InvalidOperationException($"{Kind}: no network before Fit or Load");

    /// <summary>
    /// Weights <see cref="Fit"/> starts from instead of the random initialisation (e.g. a pretrained autoencoder), by
    /// state-dict name, loaded strictly; the source names them in errors. With 0 epochs the network is used as it is.
    /// </summary>
    public (IReadOnlyList<NamedTensor> Tensors, string Source)? Initial { get; set; }

    protected abstract (int Epochs, int BatchSize, float LearningRate, float WeightDecay, ulong Seed) Training { get; }
    protected abstract string OptionsJson { get; }
    protected abstract TNet Build(int inputs, SeededRandom? init);
    /// <summary>Forward, loss and backward of one batch (gradients accumulated); returns the loss.</summary>
    protected abstract float TrainStep(TNet net, Tensor x);
    /// <summary>The reconstruction of x [N, inputs] in evaluation mode.</summary>
    protected abstract Tensor Reconstruct(TNet net, Tensor x);

    /// <summary>A fresh network for <paramref name="inputs"/>-d vectors (torch default init from <paramref name="init"/>, zeros when null).</summary>
    public void CreateNetwork(int inputs, SeededRandom? init = null)
    {
        _net?.Dispose();
        _inputs = inputs;
        _net = Build(inputs, init);
    }

    public string Fit(IReadOnlyList<ClipFeatures> normal, IProgress<DetectorProgress>? progress = null)
    {
        var (rows, dim) = TrainingRows.Gather(normal, Kind);
        var rng = new SeededRandom(Training.Seed);
        CreateNetwork(dim, rng);
        if (Initial is var (tensors, source)) StateDict.Load(Network, tensors, source);
        Train(rows, dim, rng, progress);
        return $"{(Initial is var (_, from) ? $"from {Path.GetFileName(from)}, " : "")}{normal.Count} clips, {rows.Length / dim} vectors, {Training.Epochs} epochs{(EpochLosses.Count > 0 ? $", final loss {EpochLosses[^1].ToString("G5", CultureInfo.InvariantCulture)}" : "")}";
    }

    /// <summary>Epochs of mini-batches (shuffled by <paramref name="shuffle"/> unless null) with Adam; exposed for reference tests.</summary>
    protected void Train(float[] rows, int dim, SeededRandom? shuffle, IProgress<DetectorProgress>? progress)
    {
        var net = Network;
        var (epochs, batchSize, learningRate, weightDecay, _) = Training;
        net.Train();
        using var adam = new Adam(net.NamedParameters().Select(p => p.Parameter), learningRate, weightDecay: weightDecay);
        StepLosses.Clear();
        EpochLosses.Clear();
        foreach (var (epoch, batches) in TrainingRows.Epochs(rows, dim, epochs, batchSize, shuffle))
        {
            double sum = 0;
            int count = 0;
            foreach (var (batch, b) in batches)
            {
                using var x = Tensor.FromSpan(batch.AsSpan(0, b * dim), [b, dim], Backend);
                adam.ZeroGrad();
                float loss = TrainStep(net, x);
                adam.Step();
                StepLosses.Add(loss);
                sum += loss * b;
                count += b;
            }
            EpochLosses.Add((float)(sum / count));
            TrainingDivergedException.ThrowIfNotFinite(epoch + 1, EpochLosses[^1]);
            progress?.Report(new DetectorProgress("epoch", epoch + 1, epochs, EpochLosses[^1]));
        }
        net.Eval();
    }

    public double Score(ClipFeatures clip)
    {
        clip.Validate();
        if (clip.Dimension != _inputs)
            throw new InvalidDataException($"{clip.Source}: {clip.Dimension}-d vectors, the {Kind} model was trained on {_inputs}-d");
        Network.Eval();
        using var x = Tensor.FromSpan(clip.Values, [clip.Rows, clip.Dimension], Backend);
        using var reconstruction = Reconstruct(Network, x);
        var r = reconstruction.ToArray();
        double sum = 0;
        for (int i = 0; i < r.Length; i++) { double d = r[i] - clip.Values[i]; sum += d * d; }
        return sum / r.Length;
    }

    public DetectorState Save()
    {
        var state = new DetectorState();
        state.Metadata["options"] = OptionsJson;
        state.Metadata["inputs"] = _inputs.ToString(CultureInfo.InvariantCulture);
        TrainingRows.SaveModule(state, "model.", Network);
        return state;
    }

    /// <summary>Rebuilds the network saved by <see cref="Save"/> into this (freshly constructed) detector.</summary>
    protected void Restore(DetectorState state)
    {
        int inputs = int.Parse(state.Meta("inputs"), CultureInfo.InvariantCulture);
        CheckSizes(state, inputs);
        CreateNetwork(inputs);
        TrainingRows.LoadModule(state, "model.", Network);
        Network.Eval();
    }

    /// <summary>
    /// Sizes from a file decide what is allocated: the input width and every layer width in the options must fit in the
    /// weights the file holds (a layer of width h after one of width w stores w·h weights), before the network is built.
    /// </summary>
    void CheckSizes(DetectorState state, int inputs)
    {
        long stored = state.Tensors.Where(t => t.Key.StartsWith("model.", StringComparison.Ordinal)).Sum(t => (long)t.Value.Data.Length);
        using var options = System.Text.Json.JsonDocument.Parse(OptionsJson);
        var sizes = options.RootElement.EnumerateObject()
            .Where(p => p.Name is "Hidden" or "Bottleneck" or "Latent" && p.Value.ValueKind == System.Text.Json.JsonValueKind.Number)
            .Select(p => (p.Name, Value: p.Value.GetInt64()));
        if (inputs < 1 || inputs > stored) throw new InvalidDataException($"{Kind}: {inputs} inputs do not fit the {stored} weights stored");
        foreach (var (name, value) in sizes)
            if (value < 1 || value * inputs > stored && value * value > stored)
                throw new InvalidDataException($"{Kind}: {name} {value} does not fit the {stored} weights stored");
        if (options.RootElement.TryGetProperty("HiddenLayers", out var layers) && (layers.GetInt32() < 0 || layers.GetInt32() > 64))
            throw new InvalidDataException($"{Kind}: {layers.GetInt32()} hidden layers (0 to 64 expected)");
    }

    public void Dispose()
    {
        _net?.Dispose();
        GC.SuppressFinalize(this);
    }
}
