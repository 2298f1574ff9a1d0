using NativeASD.Engine.Layers;
using NativeASD.Engine.Losses;
using NativeASD.Kernels;

namespace NativeASD.Engine.Architectures;

/// <summary>Reconstruction, μ and log σ² of one VAE forward, each [N, ·]; owned by the caller.</summary>
public sealed class VaeOutput(Tensor reconstruction, Tensor mean, Tensor logVar) : IDisposable
{
    public Tensor Reconstruction { get; } = reconstruction;
    public Tensor Mean { get; } = mean;
    public Tensor LogVar { get; } = logVar;
    public void Dispose() { Reconstruction.Dispose(); Mean.Dispose(); LogVar.Dispose(); }
}

/// <summary>
/// The VAE baseline of the paper (tam17aki/dcase2020_task2_baseline, pytorch_vae): x [N, 660] (60 mel × 11 frames).
/// Encoder: (Linear → BatchNorm1d → LeakyReLU(0.01)) × (1 + hiddenLayers) at width 256, then μ and log σ² heads
/// (Linear 256 → 128 each). Reparameterisation z = μ + ε·e^{½ log σ²}, ε ~ N(0, 1) from this model's
/// <see cref="SeededRandom"/> (or given). Decoder: (Linear → BatchNorm1d → LeakyReLU) × (1 + hiddenLayers), Linear → 660.
/// Loss = MSE(reconstruction, x) (mean) + KL summed over batch and latent (β = 1), as the original.
/// <para>State-dict names as the original: enc_layers.{0..h} (hidden), enc_layers.{h+1} (μ), enc_layers.{h+2}
/// (log σ²), dec_layers.{0..h+1}, enc_bnorms.{0..h}, dec_bnorms.{0..h}.</para>
/// </summary>
public sealed class Vae : Module
{
    readonly ModuleList<Linear> _encLayers, _decLayers;
    readonly ModuleList<BatchNorm1d> _encNorms, _decNorms;
    readonly ModuleList<LeakyReLU> _encActs, _decActs;   // stateless (no parameters): one per use so each keeps its own input
    readonly SeededRandom _noise;
    Tensor? _eps, _std;                                  // [N, latent], kept for backward

    public int InputDim { get; }
    public int LatentDim { get; }

    public Vae(int inputDim = 660, int hiddenDim = 256, int latentDim = 128, int hiddenLayers = 3, ulong noiseSeed = 0,
        SeededRandom? init = null, IBackend? backend = null) : base(backend)
    {
        (InputDim, LatentDim) = (inputDim, latentDim);
        _noise = new SeededRandom(noiseSeed);
        _encLayers = AddChild("enc_layers", new ModuleList<Linear>(Backend));
        _decLayers = AddChild("dec_layers", new ModuleList<Linear>(Backend));
        _encNorms = AddChild("enc_bnorms", new ModuleList<BatchNorm1d>(Backend));
        _decNorms = AddChild("dec_bnorms", new ModuleList<BatchNorm1d>(Backend));
        _encActs = AddChild("enc_acts", new ModuleList<LeakyReLU>(Backend));
        _decActs = AddChild("dec_acts", new ModuleList<LeakyReLU>(Backend));
        for (int i = 0; i <= hiddenLayers; i++)
        {
            _encLayers.Add(new Linear(i == 0 ? inputDim : hiddenDim, hiddenDim, init: init, backend: Backend));
            _encNorms.Add(new BatchNorm1d(hiddenDim, backend: Backend));
            _encActs.Add(new LeakyReLU(backend: Backend));
        }
        _encLayers.Add(new Linear(hiddenDim, latentDim, init: init, backend: Backend));   // μ
        _encLayers.Add(new Linear(hiddenDim, latentDim, init: init, backend: Backend));   // log σ²
        for (int i = 0; i <= hiddenLayers; i++)
        {
            _decLayers.Add(new Linear(i == 0 ? latentDim : hiddenDim, hiddenDim, init: init, backend: Backend));
            _decNorms.Add(new BatchNorm1d(hiddenDim, backend: Backend));
            _decActs.Add(new LeakyReLU(backend: Backend));
        }
        _decLayers.Add(new Linear(hiddenDim, inputDim, init: init, backend: Backend));
    }

    int Blocks => _encNorms.Count;

    /// <summary>
    /// x [N, input] → reconstruction, μ, log σ². <paramref name="noise"/> (ε, [N, latent]) replaces the generator's
    /// draw when given (tests, or a caller's own sampling). In evaluation mode z = μ + ε·σ when ε is given (the
    /// original's forward samples in evaluation mode too; the detector scores so), else z = μ; nothing is kept for backward.
    /// </summary>
    public VaeOutput Forward(Tensor x, Tensor? noise = null)
    {
        if (x.Rank != 2 || x.Dim(1) != InputDim)
            throw new ArgumentException($"Vae({InputDim}→{LatentDim}): expected input [N,{InputDim}], got {Layout.Format(x.Shape)}");
        using var h = Block(_encLayers, _encNorms, _encActs, x);
        var mean = _encLayers[Blocks].Forward(h);
        var logVar = _encLayers[Blocks + 1].Forward(h);
        Tensor z;
        if (Training || noise is not null)
        {
            var eps = noise?.Share() ?? Noise(mean.ShapeArray());
            if (!Layout.SameShape(eps.Shape, mean.Shape))
                throw new ArgumentException($"Vae: noise {Layout.Format(eps.Shape)} must match the latent {Layout.Format(mean.Shape)}");
            var std = Ops.Scale(logVar, 0.5f);
            Ops.Exp(std, into: std);                                         // σ = e^{½ log σ²}
            z = Ops.Mul(eps, std);
            Ops.Add(z, mean, into: z);                                       // z = μ + ε·σ
            if (Training)
            {
                Replace(ref _eps, eps);
                Replace(ref _std, std);
            }
            else
            {
                eps.Dispose();
                std.Dispose();
            }
        }
        else z = mean.Share();
        using (z)
        {
            using var d = Block(_decLayers, _decNorms, _decActs, z);
            return new VaeOutput(_decLayers[Blocks].Forward(d), mean, logVar);
        }
    }

    /// <summary>
    /// Backward from the gradients of the reconstruction, μ and log σ² (each may be null = zero); returns dx.
    /// The sampling passes dz to μ and dz·ε·½σ to log σ².
    /// </summary>
    public Tensor Backward(Tensor dReconstruction, Tensor? dMean, Tensor? dLogVar)
    {
        var eps = _eps ?? throw new InvalidOperationException("Vae: Backward needs a training-mode Forward first");
        var std = _std!;
        using var dd = _decLayers[Blocks].Backward(dReconstruction);
        using var dz = BlockBackward(_decLayers, _decNorms, _decActs, dd);
        using var gMean = dMean is null ? dz.Clone() : Ops.Add(dz, dMean);
        using var gLogVar = Ops.Mul(dz, eps);                                // dz·ε·½σ (+ dLogVar)
        Ops.Mul(gLogVar, std, into: gLogVar);
        Ops.Scale(gLogVar, 0.5f, into: gLogVar);
        if (dLogVar is not null) Ops.Add(gLogVar, dLogVar, into: gLogVar);
        using var dhMean = _encLayers[Blocks].Backward(gMean);
        using var dhLogVar = _encLayers[Blocks + 1].Backward(gLogVar);
        using var dh = Ops.Add(dhMean, dhLogVar);
        Replace(ref _eps, null);
        Replace(ref _std, null);
        return BlockBackward(_encLayers, _encNorms, _encActs, dh);
    }

    /// <summary>
    /// One training pass of the original: loss = MSE(reconstruction, x) + KL (sum), backward (gradients accumulated).
    /// Returns (total, reconstruction term, KL term); the caller zeroes gradients and steps the optimiser.
    /// </summary>
    public (float Total, float Reconstruction, float Kl) LossAndBackward(Tensor x, Tensor? noise = null)
    {
        using var output = Forward(x, noise);
        using var mse = Loss.Mse(output.Reconstruction, x);
        using var kl = Loss.GaussianKl(output.Mean, output.LogVar, KlReduction.Sum);
        Backward(mse.Grad, kl.GradMu, kl.GradLogVar).Dispose();
        return (mse.Value + kl.Value, mse.Value, kl.Value);
    }

    Tensor Noise(int[] shape)
    {
        var values = new float[Layout.Count(shape)];
        _noise.FillNormal(values, 0f, 1f);
        return Tensor.FromSpan(values, shape, Backend);
    }

    /// <summary>The hidden blocks act(bn(linear(h))) for layers 0..Blocks−1.</summary>
    Tensor Block(ModuleList<Linear> linears, ModuleList<BatchNorm1d> norms, ModuleList<LeakyReLU> acts, Tensor x)
    {
        var h = x.Share();
        for (int i = 0; i < Blocks; i++)
        {
            using var a = linears[i].Forward(h);
            h.Dispose();
            using var b = norms[i].Forward(a);
            h = acts[i].Forward(b);
        }
        return h;
    }

    Tensor BlockBackward(ModuleList<Linear> linears, ModuleList<BatchNorm1d> norms, ModuleList<LeakyReLU> acts, Tensor dy)
    {
        var g = dy.Share();
        for (int i = Blocks - 1; i >= 0; i--)
        {
            using var a = acts[i].Backward(g);
            g.Dispose();
            using var b = norms[i].Backward(a);
            g = linears[i].Backward(b);
        }
        return g;
    }

    static void Replace(ref Tensor? slot, Tensor? value)
    {
        slot?.Dispose();
        slot = value;
    }

    public override void Dispose()
    {
        Replace(ref _eps, null);
        Replace(ref _std, null);
        base.Dispose();
    }
}
