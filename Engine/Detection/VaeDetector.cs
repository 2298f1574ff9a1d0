using System.Globalization;
using System.Text.Json;
using NativeASD.Engine.Layers;
using NativeASD.Engine.Models;
using NativeASD.Engine.Optim;
using NativeASD.Kernels;

namespace NativeASD.Engine.Detection;

/// <summary>Settings of the VAE baseline (defaults after NOTES.md and tam17aki's pytorch_vae: hidden 256, latent 128, Adam with weight decay 1e-4, 15 epochs, batch 512).</summary>
public sealed record VaeOptions(int Hidden = 256, int Latent = 128, int HiddenLayers = 3, int Epochs = 15,
    int BatchSize = 512, float LearningRate = 1e-3f, float WeightDecay = 1e-4f, ulong Seed = 0);

/// <summary>
/// The authors' VAE baseline (<see cref="Vae"/>) on stacked log-mel frames (vae60: 60 mel × 11 frames = 660-d), trained
/// with its loss (MSE + summed KL) and Adam. ε comes from the model's seeded generator. Score = mean squared error of
/// the reconstruction from z = μ (evaluation mode, deterministic) over the clip's vectors.
/// </summary>
public sealed class VaeDetector : IAnomalyDetector, IDisposable
{
    readonly IBackend _backend;
    Vae? _vae;
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
    public Vae Network => _vae ?? throw new InvalidOperationException("vae: no network before Fit or Load");

    public void CreateNetwork(int inputs, SeededRandom? init = null)
    {
        _vae?.Dispose();
        _inputs = inputs;
        _vae = new Vae(inputs, Options.Hidden, Options.Latent, Options.HiddenLayers, Options.Seed, init, _backend);
    }

    public string Fit(IReadOnlyList<ClipFeatures> normal, IProgress<DetectorProgress>? progress = null)
    {
        var (rows, dim) = TrainingRows.Gather(normal, "vae");
        var rng = new SeededRandom(Options.Seed);
        CreateNetwork(dim, rng);
        FitRows(rows, dim, rng, null, progress);
        return $"{normal.Count} clips, {rows.Length / dim} vectors, {Options.Epochs} epochs, final loss {EpochLosses.LastOrDefault().ToString("G5", CultureInfo.InvariantCulture)}";
    }

    /// <summary>Training loop; <paramref name="noise"/>(rows, latent) supplies ε when given (tests pass torch's), else the model draws it; <paramref name="shuffle"/> null keeps row order.</summary>
    public void FitRows(float[] rows, int dim, SeededRandom? shuffle, Func<int, int, float[]>? noise, IProgress<DetectorProgress>? progress = null)
    {
        var vae = Network;
        vae.Train();
        using var adam = new Adam(vae.NamedParameters().Select(p => p.Parameter), Options.LearningRate, weightDecay: Options.WeightDecay);
        StepLosses.Clear();
        EpochLosses.Clear();
        foreach (var (epoch, batches) in TrainingRows.Epochs(rows, dim, Options.Epochs, Options.BatchSize, shuffle))
        {
            double sum = 0;
            int count = 0;
            foreach (var (batch, b) in batches)
            {
                using var x = Tensor.FromSpan(batch.AsSpan(0, b * dim), [b, dim], _backend);
                using var eps = noise is null ? null : Tensor.FromSpan(noise(b, Options.Latent), [b, Options.Latent], _backend);
                adam.ZeroGrad();
                var (loss, _, _) = vae.LossAndBackward(x, eps);
                adam.Step();
                StepLosses.Add(loss);
                sum += loss * b;
                count += b;
            }
            EpochLosses.Add((float)(sum / count));
            progress?.Report(new DetectorProgress("epoch", epoch + 1, Options.Epochs, EpochLosses[^1]));
        }
        vae.Eval();
    }

    public double Score(ClipFeatures clip)
    {
        clip.Validate();
        if (clip.Dimension != _inputs)
            throw new InvalidDataException($"{clip.Source}: {clip.Dimension}-d vectors, the VAE was trained on {_inputs}-d");
        Network.Eval();
        using var x = Tensor.FromSpan(clip.Values, [clip.Rows, clip.Dimension], _backend);
        using var output = Network.Forward(x);
        var r = output.Reconstruction.ToArray();
        double sum = 0;
        for (int i = 0; i < r.Length; i++) { double d = r[i] - clip.Values[i]; sum += d * d; }
        return sum / r.Length;
    }

    public DetectorState Save()
    {
        var state = new DetectorState();
        state.Metadata["options"] = JsonSerializer.Serialize(Options);
        state.Metadata["inputs"] = _inputs.ToString(CultureInfo.InvariantCulture);
        TrainingRows.SaveModule(state, "vae.", Network);
        return state;
    }

    public static VaeDetector Load(DetectorState state, IBackend? backend = null)
    {
        var detector = new VaeDetector(JsonSerializer.Deserialize<VaeOptions>(state.Meta("options")), backend);
        detector.CreateNetwork(int.Parse(state.Meta("inputs"), CultureInfo.InvariantCulture));
        TrainingRows.LoadModule(state, "vae.", detector.Network);
        detector.Network.Eval();
        return detector;
    }

    public void Dispose() => _vae?.Dispose();
}
