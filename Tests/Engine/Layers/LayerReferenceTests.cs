using NativeASD.Engine;
using NativeASD.Engine.Layers;
using NativeASD.Engine.Losses;
using NativeASD.Engine.Optim;
using NativeASD.Kernels;
using static NativeASD.Tests.Engine.Layers.LayerManifest;

namespace NativeASD.Tests.Engine.Layers;

/// <summary>
/// Linear, activations, global pooling, losses and optimisers against PyTorch 1.13 (fixtures from
/// make_layer_references.py; BatchNorm's cases in <see cref="BatchNormTests"/>): forward outputs, input gradients and
/// parameter gradients, on the CPU backend and, for a subset, on ilgpu-cpu. Tolerance (see
/// <see cref="LayerManifest.Close"/>): |err| ≤ 2e−6·max(1, max|expected|) per element against a float64 oracle, i.e. a
/// few float32 roundings of the output's scale.
/// </summary>
public class LayerReferenceTests
{
    static readonly string[] LayerKinds = ["linear", "activation", "globalpool"];
    static readonly string[] IlgpuSubset = ["linear", "relu6", "sigmoid", "pool_max_13", "pool_mean_hw"];

    public static TheoryData<string, string> LayerCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var c in OfKind(LayerKinds)) data.Add(c.Name, "cpu");
        foreach (var name in IlgpuSubset) data.Add(name, "ilgpu-cpu");
        return data;
    }

    static Layer Build(LayerCase c, IBackend backend) => c.Kind switch
    {
        "linear" => new Linear(c.Int("in_features"), c.Int("out_features"), c.Bool("bias"), backend: backend),
        "activation" => new Activation(Enum.Parse<UnaryOp>(c.Str("op")), c.Float("alpha"), backend),
        "globalpool" => new GlobalPool(c.Ints("axes"), Enum.Parse<PoolMode>(c.Str("mode")), c.Bool("keep_dims"), backend),
        _ => throw new ArgumentException(c.Kind),
    };

    [Theory]
    [MemberData(nameof(LayerCases))]
    public void LayerMatchesTorch(string caseName, string backendName)
    {
        var c = Get(caseName);
        var backend = TestBackends.Get(backendName);
        string label = $"{caseName} on {backendName}";
        using var layer = Build(c, backend);
        LoadInitialState(c, layer);
        using var x = c.Tensor("x", backend);
        using var y = layer.Forward(x);
        Close(c, "y", y, $"{label} y");
        CheckBackward(c, layer, backend, label);
    }

    [Fact]
    public void GradientsAccumulateAcrossBackwardCalls()
    {
        var c = Get("linear");
        using var layer = new Linear(7, 5);
        foreach (var (name, p) in layer.NamedParameters()) c.Load(name, p.Value);
        using var x = c.Tensor("x", layer.Backend);
        using var dy = c.Tensor("dy", layer.Backend);
        for (int i = 0; i < 2; i++)
        {
            layer.Forward(x).Dispose();
            layer.Backward(dy).Dispose();
        }
        var once = c.Data("weight.grad");
        Close(once.Select(v => 2 * v).ToArray(), layer.Weight.Grad.ToArray(), [5, 7], "weight grad after two backward calls", 1e-5);
        layer.ZeroGrad();
        Assert.All(layer.Weight.Grad.ToArray(), v => Assert.Equal(0f, v));
    }

    // ---- losses -------------------------------------------------------------------------------------

    public static TheoryData<string, string> LossCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var c in OfKind("cross_entropy", "mse", "gaussian_kl")) { data.Add(c.Name, "cpu"); data.Add(c.Name, "ilgpu-cpu"); }
        return data;
    }

    [Theory]
    [MemberData(nameof(LossCases))]
    public void LossMatchesTorch(string caseName, string backendName)
    {
        var c = Get(caseName);
        var backend = TestBackends.Get(backendName);
        string label = $"{caseName} on {backendName}";
        switch (c.Kind)
        {
            case "cross_entropy":
            {
                using var logits = c.Tensor("logits", backend);
                var targets = c.Data("targets").Select(v => (int)v).ToArray();
                using var r = Loss.SoftmaxCrossEntropy(logits, targets);
                Close(c.Data("loss"), [r.Value], [1], $"{label} loss");
                Close(c, "grad", r.Grad, $"{label} grad");
                using var s = Loss.Softmax(logits);
                Close(c, "softmax", s, $"{label} softmax");
                break;
            }
            case "mse":
            {
                using var p = c.Tensor("prediction", backend);
                using var t = c.Tensor("target", backend);
                using var r = Loss.Mse(p, t);
                Close(c.Data("loss"), [r.Value], [1], $"{label} loss");
                Close(c, "grad", r.Grad, $"{label} grad");
                break;
            }
            case "gaussian_kl":
            {
                using var mu = c.Tensor("mu", backend);
                using var lv = c.Tensor("logvar", backend);
                using var r = Loss.GaussianKl(mu, lv, Enum.Parse<KlReduction>(c.Str("reduction")));
                Close(c.Data("loss"), [r.Value], [1], $"{label} loss");
                Close(c, "grad_mu", r.GradMu, $"{label} grad mu");
                Close(c, "grad_logvar", r.GradLogVar, $"{label} grad logvar");
                break;
            }
        }
    }

    // ---- optimisers -----------------------------------------------------------------------------------

    /// <summary>A bare holder of two parameters, for the optimiser cases.</summary>
    sealed class Params : Module
    {
        public readonly Parameter P0, P1;
        public Params() { P0 = AddParameter("p0", 4, 3); P1 = AddParameter("p1", 5); }
    }

    public static TheoryData<string> OptimizerCases => new(OfKind("optimizer").Select(c => c.Name));

    /// <summary>Three steps with fixed gradients against torch's float32 steps: relative 2e−6 of the parameters' scale.</summary>
    [Theory]
    [MemberData(nameof(OptimizerCases))]
    public void OptimizerMatchesTorch(string caseName)
    {
        var c = Get(caseName);
        using var m = new Params();
        c.Load("p0", m.P0.Value);
        c.Load("p1", m.P1.Value);
        var ps = new[] { m.P0, m.P1 };
        float lr = c.Float("lr");
        float wd = c.HasParam("weight_decay") ? c.Float("weight_decay") : 0f;
        using Optimizer opt = c.Str("optimizer") switch
        {
            "Sgd" => new Sgd(ps, lr, c.HasParam("momentum") ? c.Float("momentum") : 0f, c.HasParam("dampening") ? c.Float("dampening") : 0f,
                wd, c.HasParam("nesterov") && c.Bool("nesterov")),
            "Adam" => new Adam(ps, lr, Beta(c, 0, 0.9f), Beta(c, 1, 0.999f), c.HasParam("eps") ? c.Float("eps") : 1e-8f, wd),
            "AdamW" => new AdamW(ps, lr, Beta(c, 0, 0.9f), Beta(c, 1, 0.999f), c.HasParam("eps") ? c.Float("eps") : 1e-8f, c.HasParam("weight_decay") ? wd : 1e-2f),
            _ => throw new ArgumentException(c.Str("optimizer")),
        };
        for (int s = 0; s < c.Int("steps"); s++)
        {
            c.Load($"g{s}.0", m.P0.Grad);
            c.Load($"g{s}.1", m.P1.Grad);
            opt.Step();
            Close(c, $"p0.step{s}", m.P0.Value, $"{caseName} p0 step {s}");
            Close(c, $"p1.step{s}", m.P1.Value, $"{caseName} p1 step {s}");
        }
    }

    static float Beta(LayerCase c, int i, float fallback) =>
        c.HasParam("betas") ? (float)c.Param("betas")[i].GetDouble() : fallback;

    [Fact]
    public void FrozenParametersAreNotUpdated()
    {
        using var m = new Params();
        m.P1.RequiresGrad = false;
        m.Backend.Fill(m.P0.Grad.View, 1f);
        m.Backend.Fill(m.P1.Grad.View, 1f);
        using var opt = new Adam(m.NamedParameters().Select(p => p.Parameter), 0.1f);
        opt.Step();
        Assert.All(m.P0.Value.ToArray(), v => Assert.NotEqual(0f, v));
        Assert.All(m.P1.Value.ToArray(), v => Assert.Equal(0f, v));
    }

    public static TheoryData<string> ClipCases => new(OfKind("clip_grad_norm").Select(c => c.Name));

    [Theory]
    [MemberData(nameof(ClipCases))]
    public void ClipGradNormMatchesTorch(string caseName)
    {
        var c = Get(caseName);
        using var m = new Params();
        c.Load("g0", m.P0.Grad);
        c.Load("g1", m.P1.Grad);
        float normType = c.Param("norm_type").ValueKind == System.Text.Json.JsonValueKind.String ? float.PositiveInfinity : c.Float("norm_type");
        float total = GradClip.ClipGradNorm([m.P0, m.P1], c.Float("max_norm"), normType);
        Close(c.Data("total"), [total], [1], $"{caseName} total norm");
        Close(c, "clipped0", m.P0.Grad, $"{caseName} grad 0");
        Close(c, "clipped1", m.P1.Grad, $"{caseName} grad 1");
    }

    // ---- init -------------------------------------------------------------------------------------------

    [Fact]
    public void FansAndGainsMatchTorch()
    {
        var c = Get("fans");
        var shapes = c.Param("shapes").EnumerateArray().Select(s => s.EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToArray();
        var expected = c.Param("expected").EnumerateArray().Select(s => s.EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToArray();
        for (int i = 0; i < shapes.Length; i++)
            Assert.Equal((expected[i][0], expected[i][1]), Init.Fans(shapes[i]));
        var gains = c.Param("gains");
        Assert.Equal(gains.GetProperty("linear").GetDouble(), Init.Gain(Nonlinearity.Linear), 6);
        Assert.Equal(gains.GetProperty("relu").GetDouble(), Init.Gain(Nonlinearity.Relu), 6);
        Assert.Equal(gains.GetProperty("tanh").GetDouble(), Init.Gain(Nonlinearity.Tanh), 6);
        Assert.Equal(gains.GetProperty("leaky_relu_0.2").GetDouble(), Init.Gain(Nonlinearity.LeakyRelu, 0.2f), 6);
    }

    // ---- a small network end to end ---------------------------------------------------------------------

    /// <summary>Linear → BatchNorm1d → ReLU → Linear, cross-entropy, backward, one Adam step: loss, every gradient, every updated parameter.</summary>
    [Theory]
    [InlineData("cpu")]
    [InlineData("ilgpu-cpu")]
    public void MlpTrainingStepMatchesTorch(string backendName)
    {
        var c = Get("mlp_adam");
        var backend = TestBackends.Get(backendName);
        using var model = new Sequential(new Linear(7, 6, bias: false, backend: backend), new BatchNorm1d(6, backend: backend), new ReLU(backend), new Linear(6, 3, backend: backend));
        foreach (var (name, p) in model.NamedParameters()) c.Load(name, p.Value);
        using var x = c.Tensor("x", backend);
        using var logits = model.Forward(x);
        using var loss = Loss.SoftmaxCrossEntropy(logits, c.Data("targets").Select(v => (int)v).ToArray());
        Close(c.Data("loss"), [loss.Value], [1], $"mlp loss on {backendName}");
        model.Backward(loss.Grad).Dispose();
        foreach (var (name, p) in model.NamedParameters()) Close(c, name + ".grad", p.Grad, $"mlp {name}.grad on {backendName}", rel: 1e-5);
        using var opt = new Adam(model.NamedParameters().Select(p => p.Parameter), 1e-2f);
        opt.Step();
        foreach (var (name, p) in model.NamedParameters()) Close(c, name + ".after", p.Value, $"mlp {name} after Adam on {backendName}");
        foreach (var (name, b) in model.NamedBuffers()) Close(c, name, b, $"mlp {name} on {backendName}");
    }
}
