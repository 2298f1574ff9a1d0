using System.Globalization;
using System.Text.Json;
using NativeASD.Engine.Layers;
using NativeASD.Engine.Losses;
using NativeASD.Engine.Optim;
using NativeASD.Kernels;

namespace NativeASD.Engine.Detection;

/// <summary>Settings of the VAE baseline (defaults after NOTES.md: hidden 256, latent 128, Adam with weight decay 1e-4, 15 epochs, batch 512).</summary>
public sealed record VaeOptions(int Hidden = 256, int Latent = 128, int Layers = 2, float Slope = 0.01f, int Epochs = 15,
    int BatchSize = 512, float LearningRate = 1e-3f, float WeightDecay = 1e-4f, ulong Seed = 0);

/// <summary>
/// The authors' VAE baseline on stacked log-mel frames (vae60: 60 mel × 11 frames = 660-d). Encoder: (Linear → BatchNorm1d →
/// LeakyReLU) × Layers, then Linear heads for μ and log σ²; decoder: (Linear → BatchNorm1d → LeakyReLU) × Layers → Linear.
/// Training loss per batch = mean squared reconstruction error + KL(q(z|x) ‖ N(0, I)) summed over latents, averaged over
/// the batch and divided by the input size (so both terms are per input value). z = μ + σ·ε with ε from a seeded
/// generator. Score = mean squared error of the reconstruction from z = μ (deterministic) over the clip's vectors.
/// </summary>
public sealed class VaeDetector : IAnomalyDetector, IDisposable
{
    readonly IBackend _backend;
    Sequential? _encoder, _decoder;
    Linear? _mu, _logVar;
    int _inputs;

    public VaeDetector(VaeOptions? options = null, IBackend? backend = null)
    {
        Options = options ?? new VaeOptions();
        _backend = backend ?? Backends.DefaultCpu;
    }

    public VaeOptions Options { get; }
    public string Kind => "vae";
    public List<float> StepLosses { get; } = [];
    public List<float> EpochLosses { get; } = [];

    /// <summary>Named parts: encoder.*, mu.*, logvar.*, decoder.* (torch Sequential numbering inside).</summary>
    public IEnumerable<(string Name, Module Part)> Parts =>
        _encoder is null ? throw new InvalidOperationException("vae: no network before Fit or Load")
            : [("encoder.", _encoder), ("mu.", _mu!), ("logvar.", _logVar!), ("decoder.", _decoder!)];

    public void CreateNetwork(int inputs, SeededRandom? init = null)
    {
        foreach (var (_, part) in _encoder is null ? [] : Parts) part.Dispose();
        _inputs = inputs;
        Sequential Stack(int from)
        {
            var layers = new List<Layer>();
            for (int i = 0; i < Options.Layers; i++)
            {
                layers.Add(new Linear(i == 0 ? from : Options.Hidden, Options.Hidden, init: init, backend: _backend));
                layers.Add(new BatchNorm1d(Options.Hidden, backend: _backend));
                layers.Add(new LeakyReLU(Options.Slope, _backend));
            }
            return new Sequential([.. layers]);
        }
        _encoder = Stack(inputs);
        _mu = new Linear(Options.Hidden, Options.Latent, init: init, backend: _backend);
        _logVar = new Linear(Options.Hidden, Options.Latent, init: init, backend: _backend);
        _decoder = Stack(Options.Latent);
        _decoder.Append(_decoder.Layers.Count.ToString(CultureInfo.InvariantCulture), new Linear(Options.Hidden, inputs, init: init, backend: _backend));
    }

    void SetTraining(bool on)
    {
        foreach (var (_, part) in Parts) part.Train(on);
    }

    public string Fit(IReadOnlyList<ClipFeatures> normal, IProgress<DetectorProgress>? progress = null)
    {
        var (rows, dim) = TrainingRows.Gather(normal, "vae");
        var rng = new SeededRandom(Options.Seed);
        CreateNetwork(dim, rng);
        FitRows(rows, dim, rng, (n, k) => { var e = new float[n * k]; rng.FillNormal(e, 0f, 1f); return e; }, progress);
        return $"{normal.Count} clips, {rows.Length / dim} vectors, {Options.Epochs} epochs, final loss {EpochLosses.LastOrDefault().ToString("G5", CultureInfo.InvariantCulture)}";
    }

    /// <summary>Training loop; <paramref name="noise"/>(rows, latent) supplies ε (tests pass torch's), <paramref name="shuffle"/> null keeps row order.</summary>
    public void FitRows(float[] rows, int dim, SeededRandom? shuffle, Func<int, int, float[]> noise, IProgress<DetectorProgress>? progress = null)
    {
        var parameters = Parts.SelectMany(p => p.Part.NamedParameters()).Select(p => p.Parameter).ToList();
        SetTraining(true);
        using var adam = new Adam(parameters, Options.LearningRate, weightDecay: Options.WeightDecay);
        StepLosses.Clear();
        EpochLosses.Clear();
        int k = Options.Latent;
        foreach (var (epoch, batches) in TrainingRows.Epochs(rows, dim, Options.Epochs, Options.BatchSize, shuffle))
        {
            double sum = 0;
            int count = 0;
            foreach (var (batch, b) in batches)
            {
                using var x = Tensor.FromSpan(batch.AsSpan(0, b * dim), [b, dim], _backend);
                adam.ZeroGrad();
                using var h = _encoder!.Forward(x);
                using var mu = _mu!.Forward(h);
                using var logVar = _logVar!.Forward(h);
                var eps = noise(b, k);
                var muHost = mu.ToArray();
                var sigma = logVar.ToArray().Select(v => MathF.Exp(0.5f * v)).ToArray();
                var z = new float[b * k];
                for (int i = 0; i < z.Length; i++) z[i] = muHost[i] + sigma[i] * eps[i];
                using var zt = Tensor.FromSpan(z, [b, k], _backend);
                using var recon = _decoder!.Forward(zt);
                using var mse = Loss.Mse(recon, x);
                using var kl = Loss.GaussianKl(mu, logVar, KlReduction.BatchMean);
                float value = mse.Value + kl.Value / dim;
                using var dz = _decoder.Backward(mse.Grad);
                // dμ = dz + dKL/dμ / D;  d log σ² = dz·ε·σ/2 + dKL/d log σ² / D.
                var dzHost = dz.ToArray();
                var dmuKl = kl.GradMu.ToArray();
                var dlvKl = kl.GradLogVar.ToArray();
                var dmu = new float[z.Length];
                var dlv = new float[z.Length];
                for (int i = 0; i < z.Length; i++)
                {
                    dmu[i] = dzHost[i] + dmuKl[i] / dim;
                    dlv[i] = dzHost[i] * eps[i] * 0.5f * sigma[i] + dlvKl[i] / dim;
                }
                using var dmuT = Tensor.FromSpan(dmu, [b, k], _backend);
                using var dlvT = Tensor.FromSpan(dlv, [b, k], _backend);
                using var dh1 = _mu.Backward(dmuT);
                using var dh2 = _logVar.Backward(dlvT);
                using var dh = Ops.Add(dh1, dh2);
                using var dx = _encoder.Backward(dh);
                adam.Step();
                StepLosses.Add(value);
                sum += value * b;
                count += b;
            }
            EpochLosses.Add((float)(sum / count));
            progress?.Report(new DetectorProgress("epoch", epoch + 1, Options.Epochs, EpochLosses[^1]));
        }
        SetTraining(false);
    }

    public double Score(ClipFeatures clip)
    {
        clip.Validate();
        if (clip.Dimension != _inputs)
            throw new InvalidDataException($"{clip.Source}: {clip.Dimension}-d vectors, the VAE was trained on {_inputs}-d");
        SetTraining(false);
        using var x = Tensor.FromSpan(clip.Values, [clip.Rows, clip.Dimension], _backend);
        using var h = _encoder!.Forward(x);
        using var mu = _mu!.Forward(h);
        using var recon = _decoder!.Forward(mu);
        var r = recon.ToArray();
        double sum = 0;
        for (int i = 0; i < r.Length; i++) { double d = r[i] - clip.Values[i]; sum += d * d; }
        return sum / r.Length;
    }

    public DetectorState Save()
    {
        var state = new DetectorState();
        state.Metadata["options"] = JsonSerializer.Serialize(Options);
        state.Metadata["inputs"] = _inputs.ToString(CultureInfo.InvariantCulture);
        foreach (var (prefix, part) in Parts) TrainingRows.SaveModule(state, prefix, part);
        return state;
    }

    public static VaeDetector Load(DetectorState state, IBackend? backend = null)
    {
        var detector = new VaeDetector(JsonSerializer.Deserialize<VaeOptions>(state.Meta("options")), backend);
        detector.CreateNetwork(int.Parse(state.Meta("inputs"), CultureInfo.InvariantCulture));
        foreach (var (prefix, part) in detector.Parts) TrainingRows.LoadModule(state, prefix, part);
        detector.SetTraining(false);
        return detector;
    }

    public void Dispose()
    {
        if (_encoder is null) return;
        foreach (var (_, part) in Parts) part.Dispose();
    }
}
