using System.Text.Json;
using NativeASD.Engine.Architectures;
using NativeASD.Kernels;
using NativeASD.Engine;

namespace NativeASD.Detection.Detectors;

/// <summary>Settings of the VAE baseline (defaults after NOTES.md and tam17aki's pytorch_vae: hidden 256, latent 128, Adam with weight decay 1e-4, 15 epochs, batch 512).</summary>
public sealed record VaeOptions(int Hidden = 256, int Latent = 128, int HiddenLayers = 3, int Epochs = 15,
    int BatchSize = 512, float LearningRate = 1e-3f, float WeightDecay = 1e-4f, ulong Seed = 0);

/// <summary>
/// The authors' VAE baseline (<see cref="Vae"/>) on stacked log-mel frames (vae60: 60 mel × 11 frames = 660-d), trained
/// with its loss (MSE + summed KL) and Adam. ε comes from the model's seeded generator. Score = mean squared error of
/// the reconstruction from a sampled z (evaluation mode, as the original; ε fixed per clip) over the clip's vectors.
/// </summary>
public sealed class VaeDetector(VaeOptions? options = null, IBackend? backend = null) : ReconstructionDetector<Vae>(backend)
{
    Func<int, int, float[]>? _noise;

    public VaeOptions Options { get; } = options ?? new VaeOptions();
    public override string Kind => DetectorCatalog.Vae.Name;
    protected override (int, int, float, float, ulong) Training => (Options.Epochs, Options.BatchSize, Options.LearningRate, Options.WeightDecay, Options.Seed);
    protected override string OptionsJson => JsonSerializer.Serialize(Options);

    protected override Vae Build(int inputs, SeededRandom? init) =>
        new(inputs, Options.Hidden, Options.Latent, Options.HiddenLayers, Options.Seed, init, Backend);

    protected override float TrainStep(Vae net, Tensor x)
    {
        using var eps = _noise is null ? null : Tensor.FromSpan(_noise(x.Dim(0), Options.Latent), [x.Dim(0), Options.Latent], Backend);
        return net.LossAndBackward(x, eps).Total;
    }

    /// <summary>
    /// The reconstruction from a sampled z = μ + ε·σ, as the original's test script scores (its forward always samples).
    /// z = μ is an input the decoder never saw in training: its BatchNorm statistics come from sampled z, and with the
    /// summed KL outweighing the mean MSE the posterior stays near the prior, so μ alone sits far from them — on synth fan
    /// (Bench/vae_recipe_check.py) z = μ fell to chance as training went on (AUC 0.50 after 80 epochs, the normal clips'
    /// error 18.5 against the data's variance 4.8) where sampled z held (0.73, 4.8). ε comes from a generator seeded
    /// afresh for every clip, so a clip's score does not depend on what was scored before it.
    /// </summary>
    protected override Tensor Reconstruct(Vae net, Tensor x)
    {
        var values = new float[x.Dim(0) * Options.Latent];
        new SeededRandom(Options.Seed ^ ScoringNoiseSeed).FillNormal(values, 0f, 1f);
        using var eps = Tensor.FromSpan(values, [x.Dim(0), Options.Latent], Backend);
        using var output = net.Forward(x, eps);
        return output.Reconstruction.Share();
    }

    /// <summary>Keeps the scoring noise apart from the training draws of the same seed.</summary>
    const ulong ScoringNoiseSeed = 0x5C0_12E5;

    /// <summary>Training loop; <paramref name="noise"/>(rows, latent) supplies ε when given (tests pass torch's), else the model draws it; <paramref name="shuffle"/> null keeps row order.</summary>
    public void FitRows(float[] rows, int dim, SeededRandom? shuffle, Func<int, int, float[]>? noise, IProgress<DetectorProgress>? progress = null)
    {
        _noise = noise;
        try { Train(rows, dim, shuffle, progress); }
        finally { _noise = null; }
    }

    public static VaeDetector Load(DetectorState state, IBackend? backend = null)
    {
        var detector = new VaeDetector(JsonSerializer.Deserialize<VaeOptions>(state.Meta("options")), backend);
        detector.Restore(state);
        return detector;
    }
}
