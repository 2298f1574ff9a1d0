using System.Globalization;
using System.Text.Json;
using NativeASD.Engine.Layers;
using NativeASD.Engine.Optim;
using NativeASD.Kernels;
using NativeASD.Detection.Features;
using NativeASD.Engine;

namespace NativeASD.Detection.Detectors;

/// <summary>Settings of the metric head (the paper's method); defaults are documented in the README.</summary>
/// <param name="Width">Hidden units per layer.</param>
/// <param name="Depth">Hidden layers (each Linear without bias → LeakyReLU).</param>
/// <param name="OutputSize">Size of the embedding whose distance to the centre is the score.</param>
/// <param name="VarianceWeight">λ of the variance term in <see cref="CompactnessLoss"/>.</param>
public sealed record MetricOptions(
    int Width = 256, int Depth = 2, int OutputSize = 64, float VarianceWeight = 0.5f, int Epochs = 30,
    float LearningRate = 1e-3f, int BatchSize = 128, float WeightDecay = 1e-6f, float Slope = 0.1f, ulong Seed = 0)
{
    /// <summary>Centre components closer to zero than this are pushed to ±this (Ruff et al.): a zero component is
    /// trivially reachable by shrinking weights, which would collapse the head.</summary>
    public const float CentreFloor = 0.1f;
}

/// <summary>
/// The paper's method: an MLP head without biases on (standardised) backbone features, trained on normal segments only
/// with <see cref="CompactnessLoss"/> towards a centre fixed from the initial outputs. Score of a clip = mean over its
/// segments of the Euclidean distance ‖head(x) − c‖.
/// </summary>
public sealed class MetricDetector : IAnomalyDetector, IDisposable
{
    readonly IBackend _backend;
    Sequential? _head;
    float[] _mean = [], _std = [], _centre = [];

    public MetricDetector(MetricOptions? options = null, IBackend? backend = null)
    {
        Options = options ?? new MetricOptions();
        if (Options.Width < 1 || Options.Depth < 0 || Options.OutputSize < 1 || Options.Epochs < 0 || Options.BatchSize < 1 || !(Options.LearningRate > 0))
            throw new ArgumentException($"metric: invalid options {Options}");
        _backend = backend ?? Backends.DefaultCpu;
    }

    public MetricOptions Options { get; }
    public string Kind => DetectorCatalog.Metric.Name;
    /// <summary>Mean loss of each epoch, for the training summary and reference tests.</summary>
    public List<float> EpochLosses { get; } = [];
    /// <summary>Loss of every optimisation step (batch), in order.</summary>
    public List<float> StepLosses { get; } = [];

    /// <summary>The head: Linear(D→W) LeakyReLU … Linear(W→OutputSize), all bias-free, names "0", "1", ….</summary>
    public Sequential Head => _head ?? throw new InvalidOperationException("metric: no head before Fit or Load");

    Sequential Build(int inputs, SeededRandom? init)
    {
        var layers = new List<Layer>();
        int width = inputs;
        for (int i = 0; i < Options.Depth; i++)
        {
            layers.Add(new Linear(width, Options.Width, bias: false, init: init, backend: _backend));
            layers.Add(new LeakyReLU(Options.Slope, _backend));
            width = Options.Width;
        }
        layers.Add(new Linear(width, Options.OutputSize, bias: false, init: init, backend: _backend));
        return new Sequential([.. layers]);
    }

    /// <summary>A fresh head for <paramref name="inputs"/> features, initialised like torch's Linear default from <paramref name="init"/> (zeros when null).</summary>
    public void CreateHead(int inputs, SeededRandom? init = null)
    {
        _head?.Dispose();
        _head = Build(inputs, init);
    }

    public string Fit(IReadOnlyList<ClipFeatures> normal, IProgress<DetectorProgress>? progress = null)
    {
        var (rows, dim) = TrainingRows.Gather(normal, Kind);
        (_mean, _std) = FeatureStandardisation.Fit(rows, dim, s => (float)Math.Max(1e-6, s));   // floored so constant features stay finite
        FeatureStandardisation.Apply(rows, _mean, _std);
        var rng = new SeededRandom(Options.Seed);
        CreateHead(dim, rng);
        FitFromStandardised(rows, dim, rng, progress);
        return $"{normal.Count} clips, {rows.Length / dim} segments, {Options.Epochs} epochs, final loss {EpochLosses.LastOrDefault().ToString("G5", CultureInfo.InvariantCulture)}";
    }

    /// <summary>
    /// Training from already standardised rows with the current head (exposed for reference tests, which set the
    /// initial weights): centre from the initial outputs, then epochs of shuffled mini-batches with Adam.
    /// </summary>
    public void FitFromStandardised(float[] rows, int dim, SeededRandom shuffle, IProgress<DetectorProgress>? progress = null, bool shuffleRows = true)
    {
        var head = Head;
        int count = rows.Length / dim;
        _centre = InitialCentre(rows, dim);
        head.Train();
        using var adam = new Adam(head.NamedParameters().Select(p => p.Parameter), Options.LearningRate, weightDecay: Options.WeightDecay);
        EpochLosses.Clear();
        StepLosses.Clear();
        foreach (var (epoch, batches) in TrainingRows.Epochs(rows, dim, Options.Epochs, Options.BatchSize, shuffleRows ? shuffle : null))
        {
            double epochLoss = 0;
            foreach (var (batch, b) in batches)
            {
                using var x = Tensor.FromSpan(batch.AsSpan(0, b * dim), [b, dim], _backend);
                adam.ZeroGrad();
                using var z = head.Forward(x);
                using var loss = CompactnessLoss.Compute(z, _centre, Options.VarianceWeight);
                using var dx = head.Backward(loss.Grad);
                adam.Step();
                StepLosses.Add(loss.Value);
                epochLoss += loss.Value * b;
            }
            EpochLosses.Add((float)(epochLoss / count));
            TrainingDivergedException.ThrowIfNotFinite(epoch + 1, EpochLosses[^1]);
            progress?.Report(new DetectorProgress("epoch", epoch + 1, Options.Epochs, EpochLosses[^1]));
        }
        head.Eval();
    }

    float[] InitialCentre(float[] rows, int dim)
    {
        var head = Head;
        head.Eval();
        int count = rows.Length / dim;
        var sum = new double[Options.OutputSize];
        foreach (var z in Embed(rows, count, dim))
            for (int j = 0; j < sum.Length; j++) sum[j] += z[j];
        var centre = new float[sum.Length];
        for (int j = 0; j < centre.Length; j++)
        {
            float c = (float)(sum[j] / count);
            centre[j] = Math.Abs(c) >= MetricOptions.CentreFloor ? c : c < 0 ? -MetricOptions.CentreFloor : MetricOptions.CentreFloor;
        }
        return centre;
    }

    /// <summary>Head outputs of standardised rows, evaluated in chunks.</summary>
    IEnumerable<float[]> Embed(float[] rows, int count, int dim)
    {
        const int chunk = 1024;
        for (int start = 0; start < count; start += chunk)
        {
            int b = Math.Min(chunk, count - start);
            using var x = Tensor.FromSpan(rows.AsSpan(start * dim, b * dim), [b, dim], _backend);
            using var z = Head.Forward(x);
            var values = z.ToArray();
            for (int k = 0; k < b; k++) yield return values.AsSpan(k * Options.OutputSize, Options.OutputSize).ToArray();
        }
    }

    public double Score(ClipFeatures clip)
    {
        clip.Validate();
        if (clip.Dimension != _mean.Length)
            throw new InvalidDataException($"{clip.Source}: {clip.Dimension} features per segment, the model was trained on {_mean.Length}");
        var rows = (float[])clip.Values.Clone();
        FeatureStandardisation.Apply(rows, _mean, _std);
        Head.Eval();
        double total = 0;
        foreach (var z in Embed(rows, clip.Rows, clip.Dimension))
        {
            double s = 0;
            for (int j = 0; j < z.Length; j++) s += (z[j] - _centre[j]) * (double)(z[j] - _centre[j]);
            total += Math.Sqrt(s);
        }
        return total / clip.Rows;
    }

    public DetectorState Save()
    {
        var state = new DetectorState();
        state.Metadata["options"] = JsonSerializer.Serialize(Options);
        state.Tensors["standardise.mean"] = ([_mean.Length], _mean);
        state.Tensors["standardise.std"] = ([_std.Length], _std);
        state.Tensors["centre"] = ([_centre.Length], _centre);
        TrainingRows.SaveModule(state, "head.", Head);
        return state;
    }

    public static MetricDetector Load(DetectorState state, IBackend? backend = null)
    {
        var options = JsonSerializer.Deserialize<MetricOptions>(state.Meta("options")) ?? throw new InvalidDataException("metric: empty options");
        var detector = new MetricDetector(options, backend)
        {
            _mean = state.Tensor("standardise.mean").Data,
            _std = state.Tensor("standardise.std").Data,
            _centre = state.Tensor("centre").Data,
        };
        // The options decide the head's size: check them against the weights stored before allocating anything.
        long inputs = detector._mean.Length, w = options.Width, depth = options.Depth, outputs = options.OutputSize;
        long implied = depth == 0 ? inputs * outputs : inputs * w + (depth - 1) * w * w + w * outputs;
        long stored = state.Tensors.Where(t => t.Key.StartsWith("head.", StringComparison.Ordinal)).Sum(t => (long)t.Value.Data.Length);
        if (implied != stored)
            throw new InvalidDataException($"metric: options (width {w}, depth {depth}, output size {outputs}, {inputs} inputs) imply {implied} head weights, the file holds {stored}");
        detector._head = detector.Build(detector._mean.Length, null);
        TrainingRows.LoadModule(state, "head.", detector._head);
        detector._head.Eval();
        return detector;
    }

    public void Dispose() => _head?.Dispose();
}
