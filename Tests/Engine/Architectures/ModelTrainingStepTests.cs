using NativeASD.Engine;
using NativeASD.Engine.Layers;
using NativeASD.Engine.Architectures;
using NativeASD.Engine.Optim;
using NativeASD.Tests.Engine.Layers;
using static NativeASD.Tests.Engine.Layers.LayerManifest;

namespace NativeASD.Tests.Engine.Architectures;

/// <summary>
/// The DCASE 2020 dense autoencoder and the VAE baseline (reduced widths, same structure and names): one training
/// step — loss, every parameter gradient, every parameter after one Adam step, the running statistics — against
/// PyTorch (float64 oracle). A parameter element whose exact gradient is (near) zero — a bias just before BatchNorm,
/// which cancels it — is only checked to have moved by at most the learning rate: Adam's first step turns float32
/// rounding noise into a step of up to lr.
/// </summary>
public class ModelTrainingStepTests
{
    [Theory]
    [InlineData("cpu")]
    [InlineData("ilgpu-cpu")]
    public void DenseAutoencoderStepMatchesTorch(string backendName)
    {
        var c = Get("dense_autoencoder");
        var backend = TestBackends.Get(backendName);
        using var model = new DenseAutoencoder(c.Int("input_dim"), c.Int("hidden_dim"), c.Int("bottleneck_dim"), c.Int("hidden_layers"), backend: backend);
        Load(c, model);
        using var x = c.Tensor("x", backend);
        float loss = model.LossAndBackward(x);
        CheckStep(c, model, loss, 1e-3f, 0f, backendName);
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("ilgpu-cpu")]
    public void VaeStepMatchesTorch(string backendName)
    {
        var c = Get("vae");
        var backend = TestBackends.Get(backendName);
        using var model = new Vae(c.Int("input_dim"), c.Int("hidden_dim"), c.Int("latent_dim"), c.Int("hidden_layers"), backend: backend);
        Load(c, model);
        using var x = c.Tensor("x", backend);
        using var eps = c.Tensor("eps", backend);
        var (total, _, _) = model.LossAndBackward(x, eps);
        CheckStep(c, model, total, 1e-3f, 1e-4f, backendName);
    }

    static void Load(LayerCase c, Module model)
    {
        var names = model.NamedParameters().Select(p => p.Name).ToHashSet();
        foreach (var (name, p) in model.NamedParameters()) c.Load(name, p.Value);
        Assert.True(names.Count > 0);
    }

    static void CheckStep(LayerCase c, Module model, float loss, float lr, float weightDecay, string backendName)
    {
        string label = $"{c.Name} on {backendName}";
        Close(c.Data("loss"), [loss], [1], $"{label} loss");
        foreach (var (name, p) in model.NamedParameters()) Close(c, name + ".grad", p.Grad, $"{label} {name}.grad", rel: 1e-5);
        var before = model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Value.ToArray());
        using var opt = new Adam(model.NamedParameters().Select(p => p.Parameter), lr, weightDecay: weightDecay);
        opt.Step();
        foreach (var (name, p) in model.NamedParameters())
        {
            var expected = c.Data(name + ".after");
            var grad = c.Data(name + ".grad");
            var after = p.Value.ToArray();
            double scale = Math.Max(1.0, expected.Max(v => Math.Abs((double)v)));
            for (int i = 0; i < after.Length; i++)
            {
                // Adam's first step is lr·g/(|g| + 1e−8): where the exact g (with L2 decay) is below 1e−5, the float32
                // rounding of g (up to ~1e−6 after cancellation) changes the step by more than the tolerance.
                double g = grad[i] + weightDecay * before[name][i];
                if (Math.Abs(g) < 1e-5)
                    Assert.True(Math.Abs(after[i] - before[name][i]) <= lr * 1.001, $"{label} {name}[{i}] moved by more than lr");
                else
                    Assert.True(Math.Abs(after[i] - expected[i]) <= 2e-6 * scale,
                        $"{label} {name}[{i}] after Adam: {after[i]}, expected {expected[i]} (gradient {g:G3})");
            }
        }
        foreach (var (name, b) in model.NamedBuffers())
            if (!name.EndsWith("num_batches_tracked")) Close(c, name, b, $"{label} {name}");
    }

    [Fact]
    public void FullSizeArchitecturesHaveTheBaselineShapes()
    {
        using var ae = new DenseAutoencoder();
        var shapes = ae.NamedParameters().Where(p => p.Name.EndsWith("weight") && p.Parameter.Value.Rank == 2)
            .Select(p => $"{p.Parameter.Value.Dim(1)}→{p.Parameter.Value.Dim(0)}").ToArray();
        Assert.Equal(["640→128", "128→128", "128→128", "128→128", "128→8", "8→128", "128→128", "128→128", "128→128", "128→640"], shapes);

        using var vae = new Vae();
        var names = vae.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Value.ShapeArray());
        Assert.Equal([256, 660], names["enc_layers.0.weight"]);
        Assert.Equal([128, 256], names["enc_layers.4.weight"]);   // μ
        Assert.Equal([128, 256], names["enc_layers.5.weight"]);   // log σ²
        Assert.Equal([660, 256], names["dec_layers.4.weight"]);
        Assert.Equal([256], names["dec_bnorms.3.weight"]);
        Assert.Equal(4, vae.NamedBuffers().Count(b => b.Name.StartsWith("enc_bnorms") && b.Name.EndsWith("running_mean")));
    }

    [Fact]
    public void VaeSamplingIsSeededAndEvalUsesTheMean()
    {
        using var x = Tensor.FromSpan(Enumerable.Range(0, 5 * 12).Select(i => MathF.Sin(i)).ToArray(), [5, 12]);
        float Run(ulong seed)
        {
            using var vae = new Vae(12, 8, 3, 1, noiseSeed: seed, init: new SeededRandom(1));
            return vae.LossAndBackward(x).Total;
        }
        Assert.Equal(Run(3), Run(3));
        Assert.NotEqual(Run(3), Run(4));

        using var model = new Vae(12, 8, 3, 1, init: new SeededRandom(1));
        model.Eval();
        using var o = model.Forward(x);
        using var o2 = model.Forward(x);
        Assert.Equal(o.Reconstruction.ToArray(), o2.Reconstruction.ToArray());
        Assert.Throws<InvalidOperationException>(() => model.Backward(o.Reconstruction, null, null));
    }
}
