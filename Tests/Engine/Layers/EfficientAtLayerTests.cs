using System.Text.Json;
using NativeASD.Engine;
using NativeASD.Engine.Layers;
using NativeASD.Engine.Optim;
using NativeASD.Kernels;

namespace NativeASD.Tests.Engine.Layers;

/// <summary>
/// The layers EfficientAT's MobileNetV3 adds: Hardswish, channel squeeze-and-excitation and the inverted residual block
/// (expansion, depthwise stride, SE, projection, residual), each forward and backward against torch (fixtures of
/// Tests/Reference/make_efficientat_references.py, training mode so BatchNorm uses batch statistics) and by finite
/// differences.
/// </summary>
public class EfficientAtLayerTests
{
    static IBackend Cpu => TestBackends.Reference;

    static JsonElement Case(string id)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.PathOf("efficientat", "manifest.json")));
        return doc.RootElement.GetProperty("layers").EnumerateArray().Single(c => c.GetProperty("id").GetString() == id).Clone();
    }

    static Tensor Load(JsonElement c, string key)
    {
        var (data, shape) = Fixtures.Npy("efficientat", c.GetProperty(key).GetString()!);
        return Tensor.FromSpan(data, shape, Cpu);
    }

    /// <summary>Copies the fixture's parameters and float buffers into the layer by state-dict name (every one must be there).</summary>
    static void SetWeights(Module layer, JsonElement c)
    {
        var targets = layer.NamedParameters().Select(p => (p.Name, p.Parameter.Value)).Concat(layer.NamedBuffers()).ToDictionary(e => e.Item1, e => e.Item2);
        foreach (var p in c.GetProperty("params").EnumerateObject())
        {
            var (data, shape) = Fixtures.Npy("efficientat", p.Value.GetString()!);
            Assert.True(targets.TryGetValue(p.Name, out var t), $"{p.Name} is not a parameter or buffer of the layer");
            Assert.Equal(shape, t!.ShapeArray());
            t.Backend.Upload(data, t.Storage, t.Offset);
        }
    }

    /// <summary>Forward and backward against torch: output, dx and every parameter gradient within 1e-5 (max abs, values of order 1).</summary>
    static void MatchesTorch(string id, Layer layer)
    {
        var c = Case(id);
        SetWeights(layer, c);
        layer.Train();
        layer.ZeroGrad();
        using var x = Load(c, "x");
        using var y = layer.Forward(x);
        TensorAssert.Close(Fixtures.Npy("efficientat", c.GetProperty("y").GetString()!).Data, Fixtures.Npy("efficientat", c.GetProperty("y").GetString()!).Shape, y,
            new Tolerance(1e-5, 1e-3, 1e-10), $"{id} forward");
        using var dy = Load(c, "dy");
        using var dx = layer.Backward(dy);
        var (edx, sdx) = Fixtures.Npy("efficientat", c.GetProperty("dx").GetString()!);
        TensorAssert.Close(edx, sdx, dx, new Tolerance(1e-5, 1e-3, 1e-10), $"{id} dx");
        var grads = layer.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Grad);
        foreach (var g in c.GetProperty("grads").EnumerateObject())
        {
            var (eg, sg) = Fixtures.Npy("efficientat", g.Value.GetString()!);
            TensorAssert.Close(eg, sg, grads[g.Name], new Tolerance(1e-5 * Math.Max(1, eg.Max(MathF.Abs)), 1e-3, 1e-10), $"{id} {g.Name}.grad");
        }
    }

    static InvertedResidual Block(JsonElement c)
    {
        int cin = c.GetProperty("in").GetInt32(), k = c.GetProperty("kernel").GetInt32(), exp = c.GetProperty("expanded").GetInt32();
        int cout = c.GetProperty("out").GetInt32(), stride = c.GetProperty("stride").GetInt32();
        bool hs = c.GetProperty("hardswish").GetBoolean();
        Layer Act() => hs ? new Hardswish(Cpu) : new ReLU(Cpu);
        Sequential ConvBn(int i, int o, int kernel, int s, int groups, Layer? act)
        {
            var conv = new Conv2d(i, o, kernel, s, (kernel - 1) / 2, groups: groups, bias: false, backend: Cpu);
            var bn = new BatchNorm2d(o, eps: 1e-3f, momentum: 0.01f, backend: Cpu);
            return act is null ? new Sequential(conv, bn) : new Sequential(conv, bn, act);
        }
        var layers = new List<Layer>();
        if (exp != cin) layers.Add(ConvBn(cin, exp, 1, 1, 1, Act()));
        layers.Add(ConvBn(exp, exp, k, stride, exp, Act()));
        if (c.GetProperty("se").GetBoolean()) layers.Add(new ConcurrentSqueezeExcitation(exp, c.GetProperty("squeeze").GetInt32(), Cpu));
        layers.Add(ConvBn(exp, cout, 1, 1, 1, null));
        return new InvertedResidual(new Sequential([.. layers.Select((l, i) => (i.ToString(), l))], Cpu), stride == 1 && cin == cout);
    }

    [Fact]
    public void Hardswish_matches_torch() { using var l = new Hardswish(Cpu); MatchesTorch("hardswish", l); }

    [Fact]
    public void SqueezeExcitation_matches_torch()
    {
        var c = Case("se");
        using var l = new SqueezeExcitation(c.GetProperty("channels").GetInt32(), c.GetProperty("squeeze").GetInt32(), Cpu);
        MatchesTorch("se", l);
    }

    [Theory]
    [InlineData("ir_se_residual")]
    [InlineData("ir_stride2")]
    public void InvertedResidual_matches_torch(string id)
    {
        using var block = Block(Case(id));
        MatchesTorch(id, block);
    }

    [Fact]
    public void Hardswish_gradient_by_finite_differences()
    {
        // Values at least 0.1 away from the kinks at −3 and 3 (and spanning all three pieces).
        var x = GradientCheckTests.Random(48, 21, 3f).Select(v => MathF.Abs(MathF.Abs(v) - 3f) < 0.1f ? v + 0.25f : v).ToArray();
        using var l = new Hardswish(Cpu);
        GradientCheckTests.Check("Hardswish", l, x, [2, 4, 6]);
    }

    [Fact]
    public void SqueezeExcitation_gradient_by_finite_differences()
    {
        using var se = GradientCheckTests.Initialised(new SqueezeExcitation(6, 3, Cpu), 22);
        GradientCheckTests.Check("SqueezeExcitation", se, GradientCheckTests.Random(2 * 6 * 3 * 4, 23, avoidKinks: true), [2, 6, 3, 4]);
    }

    [Fact]
    public void InvertedResidual_gradient_by_finite_differences()
    {
        // Expansion 4→8 (Hardswish: its kinks at ±3 are rarer than ReLU's at 0), depthwise 3×3 stride 1, SE, projection 8→4, residual; BatchNorm in training mode.
        using var block = Block(JsonDocument.Parse("""{"in":4,"kernel":3,"expanded":8,"out":4,"stride":1,"hardswish":true,"se":true,"squeeze":8}""").RootElement);
        var rng = new SeededRandom(24);
        foreach (var (name, p) in block.NamedParameters())
            Init.Normal(p.Value, rng, name.EndsWith(".1.weight") ? 1f : 0f, 0.4f);
        GradientCheckTests.Check("InvertedResidual", block, GradientCheckTests.Random(2 * 4 * 4 * 5, 25), [2, 4, 4, 5]);
    }
}
