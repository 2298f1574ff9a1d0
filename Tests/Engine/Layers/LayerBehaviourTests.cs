using NativeASD.Engine;
using NativeASD.Engine.Layers;
using NativeASD.Engine.Losses;
using NativeASD.Engine.Optim;

namespace NativeASD.Tests.Engine.Layers;

/// <summary>Dropout, init and the generator (which cannot be compared with torch's RNG), and the error messages.</summary>
public class LayerBehaviourTests
{
    static NativeASD.Kernels.IBackend Cpu => TestBackends.Reference;

    [Fact]
    public void DropoutIsSeededInvertedAndIdentityInEval()
    {
        var x = Enumerable.Range(0, 4000).Select(i => 1f + i % 7).ToArray();
        using var xt = Tensor.FromSpan(x, [40, 100], Cpu);
        using var a = new Dropout(0.3f, seed: 5, Cpu);
        using var b = new Dropout(0.3f, seed: 5, Cpu);
        using var ya = a.Forward(xt);
        using var yb = b.Forward(xt);
        var va = ya.ToArray();
        Assert.Equal(va, yb.ToArray());                                   // same seed, same mask
        int zeros = va.Count(v => v == 0f);
        Assert.InRange(zeros / 4000.0, 0.27, 0.33);
        for (int i = 0; i < va.Length; i++)
            if (va[i] != 0f) Assert.Equal(x[i] / 0.7f, va[i], 5);
        using var dy = Tensor.Full([40, 100], 2f, Cpu);
        using var dx = a.Backward(dy);
        var g = dx.ToArray();
        for (int i = 0; i < g.Length; i++) Assert.Equal(va[i] == 0f ? 0f : 2f / 0.7f, g[i], 5);
        using var y2 = a.Forward(xt);
        Assert.NotEqual(va, y2.ToArray());                                // the generator moves on
        a.Eval();
        using var ye = a.Forward(xt);
        Assert.Equal(x, ye.ToArray());
    }

    [Fact]
    public void SeededRandomIsDeterministicAndWellSpread()
    {
        var a = new SeededRandom(42);
        var b = new SeededRandom(42);
        for (int i = 0; i < 100; i++) Assert.Equal(a.NextUInt64(), b.NextUInt64());
        var r = new SeededRandom(7);
        var n = Enumerable.Range(0, 20000).Select(_ => (double)r.Normal()).ToArray();
        Assert.InRange(n.Average(), -0.03, 0.03);
        Assert.InRange(Math.Sqrt(n.Select(v => v * v).Average()), 0.98, 1.02);
        var u = Enumerable.Range(0, 20000).Select(_ => r.NextFloat()).ToArray();
        Assert.All(u, v => Assert.InRange(v, 0f, 0.99999994f));
        Assert.InRange(u.Average(), 0.49, 0.51);
    }

    [Fact]
    public void InitFollowsTorchBoundsAndStds()
    {
        using var w = Tensor.Empty([256, 128, 3], Cpu);                   // fan_in 384, fan_out 768
        var rng = new SeededRandom(3);

        Init.KaimingUniform(w, rng, nonlinearity: Nonlinearity.Relu);
        float bound = MathF.Sqrt(3f) * MathF.Sqrt(2f) / MathF.Sqrt(384);
        var v = w.ToArray();
        Assert.All(v, x => Assert.InRange(x, -bound, bound));
        Assert.InRange(Std(v) / (bound / Math.Sqrt(3)), 0.98, 1.02);

        Init.KaimingNormal(w, rng, mode: FanMode.FanOut, nonlinearity: Nonlinearity.Relu);
        Assert.InRange(Std(w.ToArray()) / (Math.Sqrt(2) / Math.Sqrt(768)), 0.98, 1.02);

        Init.XavierUniform(w, rng);
        float xb = MathF.Sqrt(6f / (384 + 768));
        Assert.All(w.ToArray(), x => Assert.InRange(x, -xb, xb));

        Init.XavierNormal(w, rng, gain: 2f);
        Assert.InRange(Std(w.ToArray()) / (2 * Math.Sqrt(2.0 / (384 + 768))), 0.98, 1.02);

        using var w2 = Tensor.Empty([256, 128, 3], Cpu);
        Init.XavierNormal(w2, new SeededRandom(9));
        Init.XavierNormal(w, new SeededRandom(9));
        Assert.Equal(w.ToArray(), w2.ToArray());

        using var lin = new Linear(50, 20, init: new SeededRandom(1), backend: Cpu);
        float lb = 1f / MathF.Sqrt(50);
        Assert.All(lin.Weight.Value.ToArray(), x => Assert.InRange(x, -lb, lb));
        Assert.All(lin.Bias!.Value.ToArray(), x => Assert.InRange(x, -lb, lb));
    }

    static double Std(float[] v)
    {
        double mean = v.Average(x => (double)x);
        return Math.Sqrt(v.Average(x => (x - mean) * (x - mean)));
    }

    [Fact]
    public void StateDictNamesMatchTorch()
    {
        using var seq = new Sequential(new Linear(4, 3, backend: Cpu), new BatchNorm1d(3, backend: Cpu), new ReLU(Cpu));
        Assert.Equal(["0.weight", "0.bias", "1.weight", "1.bias"], seq.NamedParameters().Select(p => p.Name));
        Assert.Equal(["1.running_mean", "1.running_var", "1.num_batches_tracked"], seq.NamedBuffers().Select(p => p.Name));
    }

    [Fact]
    public void ShapeMistakesNameTheLayerAndShapes()
    {
        using var x = Tensor.Zeros([3, 4], Cpu);
        using var lin = new Linear(7, 5, backend: Cpu);
        var e = Assert.Throws<ArgumentException>(() => lin.Forward(x));
        Assert.Contains("Linear(7→5)", e.Message);
        Assert.Contains("[3,4]", e.Message);

        using var bn = new BatchNorm2d(4, backend: Cpu);
        e = Assert.Throws<ArgumentException>(() => bn.Forward(x));
        Assert.Contains("BatchNorm2d(4)", e.Message);
        Assert.Contains("[3,4]", e.Message);

        using var one = Tensor.Zeros([1, 4], Cpu);
        using var bn1 = new BatchNorm1d(4, backend: Cpu);
        e = Assert.Throws<ArgumentException>(() => bn1.Forward(one));
        Assert.Contains("more than one value per channel", e.Message);

        using var seq = new Sequential(new Linear(4, 6, backend: Cpu), new Linear(5, 2, backend: Cpu));
        e = Assert.Throws<ArgumentException>(() => seq.Forward(x));
        Assert.Contains("layer 1 Linear(5→2)", e.Message);
        Assert.Contains("[3,6]", e.Message);

        using var relu = new ReLU(Cpu);
        var inv = Assert.Throws<InvalidOperationException>(() => relu.Backward(x));
        Assert.Contains("Relu", inv.Message);
        relu.Forward(x).Dispose();
        using var wrong = Tensor.Zeros([4, 3], Cpu);
        e = Assert.Throws<ArgumentException>(() => relu.Backward(wrong));
        Assert.Contains("[4,3]", e.Message);
        Assert.Contains("[3,4]", e.Message);

        relu.Eval();
        relu.Forward(x).Dispose();
        Assert.Throws<InvalidOperationException>(() => relu.Backward(x));

        using var cat = new Concat(1, Cpu);
        using var z = Tensor.Zeros([2, 4], Cpu);
        e = Assert.Throws<ArgumentException>(() => cat.Forward([x, z]));
        Assert.Contains("[3,4], [2,4]", e.Message);

        e = Assert.Throws<ArgumentException>(() => Loss.SoftmaxCrossEntropy(x, [0, 4, 1]));
        Assert.Contains("target 4", e.Message);

        using var pool = new GlobalPool([5], PoolMode.Mean, backend: Cpu);
        e = Assert.Throws<ArgumentException>(() => pool.Forward(x));
        Assert.Contains("[3,4]", e.Message);
    }
}
