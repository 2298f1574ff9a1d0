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
/// <param name="Input">How the features are prepared for the head: <see cref="Standardise"/> (per feature) or
/// <see cref="Whiten"/> (Ledoit–Wolf shrunk covariance of the training segments, as Mahalanobis uses).</param>
/// <param name="Pool">How a clip's segment distances become its score: <see cref="PoolMean"/>, <see cref="PoolMax"/> or
/// <see cref="PoolTop"/> (mean of the highest quarter); or <see cref="PoolFeatures"/>: the segments' features averaged
/// before the head, one row per clip (as Mahalanobis pools them), both in training and scoring.</param>
/// <param name="NegativeWeight">η of the negatives' term in <see cref="CompactnessLoss"/> (used only when negatives are given).</param>
public sealed record MetricOptions(
    int Width = 256, int Depth = 2, int OutputSize = 64, float VarianceWeight = 0.5f, int Epochs = 30,
    float LearningRate = 1e-3f, int BatchSize = 128, float WeightDecay = 1e-6f, float Slope = 0.1f, ulong Seed = 0,
    string Input = MetricOptions.Whiten, string Pool = MetricOptions.PoolFeatures, float NegativeWeight = 1f)
{
    /// <summary>Centre components closer to zero than this are pushed to ±this (Ruff et al.): a zero component is
    /// trivially reachable by shrinking weights, which would collapse the head.</summary>
    public const float CentreFloor = 0.1f;

    public const string Standardise = "standardise", Whiten = "whiten";
    public const string PoolMean = "mean", PoolMax = "max", PoolTop = "top", PoolFeatures = "features";
    public static readonly string[] Inputs = [Standardise, Whiten], Pools = [PoolMean, PoolMax, PoolTop, PoolFeatures];

    /// <summary>Throws naming the first option out of range.</summary>
    public void Validate()
    {
        if (Width < 1 || Depth < 0 || Depth > 64 || OutputSize < 1 || Epochs < 0 || BatchSize < 1 || !(LearningRate > 0) || !float.IsFinite(LearningRate)
            || !(VarianceWeight >= 0) || !float.IsFinite(VarianceWeight) || !(NegativeWeight >= 0) || !float.IsFinite(NegativeWeight)
            || !Inputs.Contains(Input) || !Pools.Contains(Pool))
            throw new ArgumentException($"metric: invalid options {this}");
    }
}

/// <summary>
/// The paper's method: an MLP head without biases on standardised (or whitened) backbone features, trained on normal
/// segments with <see cref="CompactnessLoss"/> towards a centre fixed from the initial outputs — optionally with other
/// machines' segments as negatives (<see cref="Negatives"/>). Score of a clip = its segments' Euclidean distances
/// ‖head(x) − c‖ pooled by <see cref="MetricOptions.Pool"/> (the mean by default).
/// </summary>
public sealed class MetricDetector : IAnomalyDetector, IDisposable
{
    readonly IBackend _backend;
    Sequential? _head;
    float[] _mean = [], _std = [], _centre = [];
    LedoitWolfGaussian? _whitening;

    public MetricDetector(MetricOptions? options = null, IBackend? backend = null)
    {
        Options = options ?? new MetricOptions();
        Options.Validate();
        _backend = backend ?? Backends.DefaultCpu;
    }

    public MetricOptions Options { get; }
    /// <summary>Clips of other machines the head learns to push away from the centre (outlier exposure); none by default.</summary>
    public IReadOnlyList<ClipFeatures> Negatives { get; set; } = [];
    /// <summary>Features per segment the head takes.</summary>
    int InputSize => _whitening?.Dimension ?? _mean.Length;
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
        var (rows, dim) = TrainingRows.Gather(Rows(normal), Kind);
        if (Options.Input == MetricOptions.Whiten)
        {
            if (rows.Length / dim < 2)
                throw new ArgumentException($"metric: whitening (--head-input whiten) needs at least 2 training {(Options.Pool == MetricOptions.PoolFeatures ? "clips" : "segments")} for a covariance, got 1 ({normal[0].Source}); train on more clips or use --head-input standardise");
            try { _whitening = LedoitWolfGaussian.Fit(rows, rows.Length / dim, dim); }
            catch (ArgumentException e) when (e.Message.Contains("not positive definite", StringComparison.Ordinal))
            {
                throw new ArgumentException($"metric: the {rows.Length / dim} training rows of {normal.Count} clips ({normal[0].Source}, …) are too few or too alike for the whitening covariance of {dim} features; train on more clips or use --head-input standardise", e);
            }
        }
        else (_mean, _std) = FeatureStandardisation.Fit(rows, dim, s => (float)Math.Max(1e-6, s));   // floored so constant features stay finite
        Prepare(rows);
        float[]? negatives = null;
        if (Negatives.Count > 0)
        {
            var (negativeRows, negativeDim) = TrainingRows.Gather(Rows(Negatives), Kind);
            if (negativeDim != dim) throw new InvalidDataException($"{Negatives[0].Source}: {negativeDim} features per segment, the training clips have {dim}");
            negatives = Prepare(negativeRows);
        }
        var rng = new SeededRandom(Options.Seed);
        CreateHead(dim, rng);
        FitFromStandardised(rows, dim, rng, progress, negatives: negatives);
        string exposure = negatives is null ? "" : $", {Negatives.Count} negative clips ({negatives.Length / dim} segments)";
        return $"{normal.Count} clips, {rows.Length / dim} segments{exposure}, {Options.Epochs} epochs, final loss {EpochLosses.LastOrDefault().ToString("G5", CultureInfo.InvariantCulture)}";
    }

    /// <summary>The clips as the head sees them: their segments, or with <see cref="MetricOptions.PoolFeatures"/> one averaged row each.</summary>
    IReadOnlyList<ClipFeatures> Rows(IReadOnlyList<ClipFeatures> clips) => Options.Pool != MetricOptions.PoolFeatures ? clips
        : [.. clips.Select(c => { c.Validate(); return ClipFeatures.Single(c.Source, c.Pooled()); })];

    /// <summary>Standardises or whitens <paramref name="rows"/> in place, as fitted.</summary>
    float[] Prepare(float[] rows)
    {
        if (_whitening is null) { FeatureStandardisation.Apply(rows, _mean, _std); return rows; }
        int dim = _whitening.Dimension;
        var y = new double[dim];
        for (int r = 0; r < rows.Length / dim; r++)
        {
            var row = rows.AsSpan(r * dim, dim);
            _whitening.Whiten(row, y);
            for (int j = 0; j < dim; j++) row[j] = (float)y[j];
        }
        return rows;
    }

    /// <summary>
    /// Training from already standardised rows with the current head (exposed for reference tests, which set the
    /// initial weights): centre from the initial outputs, then epochs of shuffled mini-batches with Adam. With
    /// <paramref name="negatives"/> (prepared rows of other machines) each batch of b normal rows is followed by the next
    /// b negative rows, taken in turn from a copy shuffled once per pass through them.
    /// </summary>
    public void FitFromStandardised(float[] rows, int dim, SeededRandom shuffle, IProgress<DetectorProgress>? progress = null, bool shuffleRows = true,
        float[]? negatives = null)
    {
        var head = Head;
        int count = rows.Length / dim;
        _centre = InitialCentre(rows, dim);
        head.Train();
        using var adam = new Adam(head.NamedParameters().Select(p => p.Parameter), Options.LearningRate, weightDecay: Options.WeightDecay);
        EpochLosses.Clear();
        StepLosses.Clear();
        var negativeRows = negatives is null ? null : new NegativeRows(negatives, dim, shuffleRows ? shuffle : null);
        float[] joined = negatives is null ? [] : new float[2 * Math.Min(Options.BatchSize, count) * dim];
        foreach (var (epoch, batches) in TrainingRows.Epochs(rows, dim, Options.Epochs, Options.BatchSize, shuffleRows ? shuffle : null))
        {
            double epochLoss = 0;
            foreach (var (batch, b) in batches)
            {
                int m = 0;
                var input = batch.AsSpan(0, b * dim);
                if (negativeRows is not null)
                {
                    input.CopyTo(joined);
                    m = negativeRows.Next(joined.AsSpan(b * dim), b);
                    input = joined.AsSpan(0, (b + m) * dim);
                }
                using var x = Tensor.FromSpan(input, [b + m, dim], _backend);
                adam.ZeroGrad();
                using var z = head.Forward(x);
                using var loss = CompactnessLoss.Compute(z, _centre, Options.VarianceWeight, b, Options.NegativeWeight);
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

    /// <summary>Negative rows handed out in turn, reshuffled (seeded Fisher–Yates) at the start of every pass.</summary>
    sealed class NegativeRows(float[] rows, int dim, SeededRandom? shuffle)
    {
        readonly int[] _order = [.. Enumerable.Range(0, rows.Length / dim)];
        int _next = int.MaxValue;

        /// <summary>Copies up to <paramref name="wanted"/> rows (all there are, when fewer) into <paramref name="target"/>; returns how many.</summary>
        public int Next(Span<float> target, int wanted)
        {
            int take = Math.Min(wanted, _order.Length);
            for (int k = 0; k < take; k++)
            {
                if (_next >= _order.Length)
                {
                    if (shuffle is not null) TrainingRows.Shuffle(_order, shuffle);
                    _next = 0;
                }
                rows.AsSpan(_order[_next++] * dim, dim).CopyTo(target.Slice(k * dim, dim));
            }
            return take;
        }
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
        if (clip.Dimension != InputSize)
            throw new InvalidDataException($"{clip.Source}: {clip.Dimension} features per segment, the model was trained on {InputSize}");
        clip = Rows([clip])[0];
        var rows = Prepare((float[])clip.Values.Clone());
        Head.Eval();
        var distances = new double[clip.Rows];
        int r = 0;
        foreach (var z in Embed(rows, clip.Rows, clip.Dimension))
        {
            double s = 0;
            for (int j = 0; j < z.Length; j++) s += (z[j] - _centre[j]) * (double)(z[j] - _centre[j]);
            distances[r++] = Math.Sqrt(s);
        }
        return PoolSegments(distances, Options.Pool);
    }

    /// <summary>A clip's score from its segments' distances: their mean, their maximum, or the mean of the highest
    /// quarter (at least one) — a fault heard in a few seconds of a long clip is not averaged away.</summary>
    public static double PoolSegments(double[] distances, string pool)
    {
        if (pool == MetricOptions.PoolMax) return distances.Max();
        var chosen = distances;
        if (pool == MetricOptions.PoolTop)
        {
            chosen = [.. distances.OrderDescending().Take(Math.Max(1, distances.Length / 4))];
        }
        double total = 0;
        foreach (double d in chosen) total += d;
        return total / chosen.Length;
    }

    public DetectorState Save()
    {
        var state = new DetectorState();
        state.Metadata["options"] = JsonSerializer.Serialize(Options);
        if (_whitening is { } w)
        {
            state.Float64["whiten.mean"] = ([w.Dimension], w.Mean);
            state.Float64["whiten.cholesky"] = ([w.Dimension, w.Dimension], w.Cholesky);
            state.Metadata["whiten.shrinkage"] = w.Shrinkage.ToString("R", CultureInfo.InvariantCulture);
        }
        else
        {
            state.Tensors["standardise.mean"] = ([_mean.Length], _mean);
            state.Tensors["standardise.std"] = ([_std.Length], _std);
        }
        state.Tensors["centre"] = ([_centre.Length], _centre);
        TrainingRows.SaveModule(state, "head.", Head);
        return state;
    }

    public static MetricDetector Load(DetectorState state, IBackend? backend = null)
    {
        string json = state.Meta("options");
        var options = JsonSerializer.Deserialize<MetricOptions>(json) ?? throw new InvalidDataException("metric: empty options");
        // Files written before Input and Pool existed standardised the features and averaged segment distances.
        using (var document = JsonDocument.Parse(json))
        {
            if (!document.RootElement.TryGetProperty(nameof(MetricOptions.Input), out _)) options = options with { Input = MetricOptions.Standardise };
            if (!document.RootElement.TryGetProperty(nameof(MetricOptions.Pool), out _)) options = options with { Pool = MetricOptions.PoolMean };
        }
        try { options.Validate(); }
        catch (ArgumentException e) { throw new InvalidDataException(e.Message, e); }
        var detector = new MetricDetector(options, backend) { _centre = state.Tensor("centre").Data };
        if (options.Input == MetricOptions.Whiten)
        {
            var (meanShape, mean) = state.Tensor64("whiten.mean");
            var (cholShape, chol) = state.Tensor64("whiten.cholesky");
            if (meanShape.Length != 1 || !cholShape.SequenceEqual([mean.Length, mean.Length]))
                throw new InvalidDataException($"metric: whitening mean [{string.Join(",", meanShape)}] and factor [{string.Join(",", cholShape)}] do not fit together");
            double shrinkage = double.Parse(state.Meta("whiten.shrinkage"), NumberStyles.Float, CultureInfo.InvariantCulture);
            if (!(shrinkage >= 0 && shrinkage <= 1)) throw new InvalidDataException($"metric: whitening shrinkage {shrinkage} is outside [0, 1]");
            detector._whitening = new LedoitWolfGaussian(mean, shrinkage, chol);
        }
        else
        {
            detector._mean = state.Tensor("standardise.mean").Data;
            detector._std = state.Tensor("standardise.std").Data;
            if (detector._std.Length != detector._mean.Length)
                throw new InvalidDataException($"metric: standardisation has {detector._mean.Length} means and {detector._std.Length} deviations");
        }
        if (detector._centre.Length != options.OutputSize)
            throw new InvalidDataException($"metric: centre has {detector._centre.Length} entries, the head outputs {options.OutputSize}");
        // The options decide the head's size: check them against the weights stored before allocating anything.
        long inputs = detector.InputSize, w = options.Width, depth = options.Depth, outputs = options.OutputSize;
        long implied = depth == 0 ? inputs * outputs : inputs * w + (depth - 1) * w * w + w * outputs;
        long stored = state.Tensors.Where(t => t.Key.StartsWith("head.", StringComparison.Ordinal)).Sum(t => (long)t.Value.Data.Length);
        if (implied != stored)
            throw new InvalidDataException($"metric: options (width {w}, depth {depth}, output size {outputs}, {inputs} inputs) imply {implied} head weights, the file holds {stored}");
        detector._head = detector.Build(detector.InputSize, null);
        TrainingRows.LoadModule(state, "head.", detector._head);
        detector._head.Eval();
        return detector;
    }

    public void Dispose() => _head?.Dispose();
}
