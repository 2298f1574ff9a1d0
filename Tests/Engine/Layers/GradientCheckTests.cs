using NativeASD.Engine;
using NativeASD.Engine.Layers;
using NativeASD.Engine.Losses;
using NativeASD.Engine.Optim;
using NativeASD.Kernels;

namespace NativeASD.Tests.Engine.Layers;

/// <summary>
/// Finite-difference checks of every layer's and loss's backward (BatchNorm's in <see cref="BatchNormTests"/>, the conv and
/// pool layers' in <see cref="Conv2dTests"/>), in float32 on small inputs (CPU backend).
/// The scalar checked is L = Σ y·r for a fixed random r, so dL/dy = r; each input and parameter element is moved by
/// ±h (h = 1e−2) and the central difference (L(+h) − L(−h))/2h compared with the analytic gradient:
/// |numeric − analytic| ≤ 4e−3 + 1e−2·|analytic|, which covers float32 rounding of L (≈ 1e−7·Σ|y·r|/h) and the
/// O(h²) truncation. Inputs keep ≥ 0.1 away from the ReLU-family kinks and pooled maxima are ≥ 0.05 apart, so no
/// difference straddles a kink.
/// </summary>
public class GradientCheckTests
{
    const float H = 1e-2f;
    static IBackend Cpu => TestBackends.Reference;

    internal static float[] Random(int n, int seed, float scale = 1f, bool avoidKinks = false)
    {
        var rng = new SeededRandom((ulong)seed);
        var v = new float[n];
        for (int i = 0; i < n; i++)
        {
            float x = rng.Normal(0f, scale);
            if (avoidKinks)
            {
                if (MathF.Abs(x) < 0.1f) x += x < 0 ? -0.2f : 0.2f;
                if (MathF.Abs(x - 6f) < 0.1f) x += 0.3f;
            }
            v[i] = x;
        }
        return v;
    }

    /// <summary>Distinct values 0.05 apart in a seeded order: max pooling has no near-ties.</summary>
    static float[] Distinct(int n, int seed)
    {
        var rng = new SeededRandom((ulong)seed);
        var v = Enumerable.Range(0, n).Select(i => (i - n / 2) * 0.05f).ToArray();
        for (int i = n - 1; i > 0; i--)
        {
            int j = (int)(rng.NextUInt64() % (ulong)(i + 1));
            (v[i], v[j]) = (v[j], v[i]);
        }
        return v;
    }

    static double Dot(Tensor y, float[] r)
    {
        var a = y.ToArray();
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += (double)a[i] * r[i];
        return s;
    }

    static void AssertGrad(string label, double numeric, float analytic)
    {
        double tol = 4e-3 + 1e-2 * Math.Abs(analytic);
        Assert.True(Math.Abs(numeric - analytic) <= tol, $"{label}: numeric {numeric:G6}, analytic {analytic:G6} (tolerance {tol:G3})");
    }

    /// <summary>Checks dx and every parameter gradient of <paramref name="layer"/> at input x.</summary>
    internal static void Check(string label, Layer layer, float[] x, int[] shape)
    {
        using var xt = Tensor.FromSpan(x, shape, Cpu);
        float[] r;
        float[] dx;
        layer.Train();
        layer.ZeroGrad();
        using (var y = layer.Forward(xt))
        {
            r = Random((int)y.Count, 99);
            using var rt = Tensor.FromSpan(r, y.ShapeArray(), Cpu);
            using var dxt = layer.Backward(rt);
            Assert.Equal(shape, dxt.ShapeArray());
            dx = dxt.ToArray();
        }

        double Loss(float[] input)
        {
            using var t = Tensor.FromSpan(input, shape, Cpu);
            using var y = layer.Forward(t);
            return Dot(y, r);
        }

        for (int i = 0; i < x.Length; i++)
        {
            var p = (float[])x.Clone(); p[i] += H;
            var m = (float[])x.Clone(); m[i] -= H;
            AssertGrad($"{label} dx[{i}]", (Loss(p) - Loss(m)) / (2 * H), dx[i]);
        }
        foreach (var (name, param) in layer.NamedParameters())
        {
            var value = param.Value.ToArray();
            var grad = param.Grad.ToArray();
            for (int i = 0; i < value.Length; i++)
            {
                double Perturbed(float delta)
                {
                    var v = (float[])value.Clone(); v[i] += delta;
                    param.Value.Backend.Upload(v, param.Value.Storage, param.Value.Offset);
                    return Loss(x);
                }
                double numeric = (Perturbed(H) - Perturbed(-H)) / (2 * H);
                param.Value.Backend.Upload(value, param.Value.Storage, param.Value.Offset);
                AssertGrad($"{label} {name}.grad[{i}]", numeric, grad[i]);
            }
        }
        layer.ClearSaved();
    }

    internal static T Initialised<T>(T layer, ulong seed) where T : Layer
    {
        var rng = new SeededRandom(seed);
        foreach (var (_, p) in layer.NamedParameters()) Init.Normal(p.Value, rng, 0.3f, 0.5f);
        return layer;
    }

    [Fact]
    public void Linear()
    {
        using var a = Initialised(new Linear(5, 4, backend: Cpu), 1);
        Check("Linear(5→4)", a, Random(15, 2), [3, 5]);
        using var b = Initialised(new Linear(3, 2, bias: false, backend: Cpu), 3);
        Check("Linear(3→2) 3-D", b, Random(12, 4), [2, 2, 3]);
    }

    public static TheoryData<UnaryOp> ActivationOps => new([UnaryOp.Relu, UnaryOp.Relu6, UnaryOp.LeakyRelu, UnaryOp.Sigmoid, UnaryOp.Tanh]);

    [Theory]
    [MemberData(nameof(ActivationOps))]
    public void Activations(UnaryOp op)
    {
        using var a = new Activation(op, 0.2f, Cpu);
        var x = Random(24, 12, 4f, avoidKinks: true);
        Check(op.ToString(), a, x, [2, 3, 4]);
    }

    [Theory]
    [InlineData(new[] { 3 }, PoolMode.Mean, false)]
    [InlineData(new[] { 2, 3 }, PoolMode.Mean, true)]
    [InlineData(new[] { 2 }, PoolMode.Max, false)]
    [InlineData(new[] { 1, 3 }, PoolMode.Max, true)]
    [InlineData(new[] { 0, 2 }, PoolMode.Max, false)]
    public void GlobalPooling(int[] axes, PoolMode mode, bool keep)
    {
        using var p = new GlobalPool(axes, mode, keep, Cpu);
        Check($"GlobalPool {mode} [{string.Join(",", axes)}]", p, Distinct(60, 13), [2, 3, 2, 5]);
    }

    [Fact]
    public void ShapeLayersResidualAndSequential()
    {
        using var f = new Flatten(backend: Cpu);
        Check("Flatten", f, Random(24, 14), [2, 3, 4]);
        using var r = new Reshape([4, 3], Cpu);
        Check("Reshape", r, Random(24, 15), [2, 12]);
        using var res = new Residual(Initialised(new Linear(4, 4, backend: Cpu), 16));
        Check("Residual(Linear)", res, Random(12, 17), [3, 4]);
        using var seq = new Sequential(Initialised(new Linear(4, 5, backend: Cpu), 18), Initialised(new BatchNorm1d(5, backend: Cpu), 19),
            new Tanh(Cpu), Initialised(new Linear(5, 2, backend: Cpu), 20));
        Check("Sequential", seq, Random(24, 21), [6, 4]);
    }

    [Fact]
    public void ConcatRoutesGradientsToEachInput()
    {
        using var cat = new Concat(1, Cpu);
        float[] a = Random(6, 22), b = Random(9, 23);
        using var at = Tensor.FromSpan(a, [3, 2], Cpu);
        using var bt = Tensor.FromSpan(b, [3, 3], Cpu);
        using var y = cat.Forward([at, bt]);
        Assert.Equal([3, 5], y.ShapeArray());
        var r = Random(15, 24);
        using var rt = Tensor.FromSpan(r, [3, 5], Cpu);
        var grads = cat.Backward(rt);
        try
        {
            Assert.Equal(new[] { r[0], r[1], r[5], r[6], r[10], r[11] }, grads[0].ToArray());
            Assert.Equal(new[] { r[2], r[3], r[4], r[7], r[8], r[9], r[12], r[13], r[14] }, grads[1].ToArray());
            var yv = y.ToArray();
            Assert.Equal(a[2], yv[5]);
            Assert.Equal(b[8], yv[14]);
        }
        finally { foreach (var g in grads) g.Dispose(); }
    }

    /// <summary>The losses' gradients by central differences of the loss value itself.</summary>
    [Fact]
    public void Losses()
    {
        int[] targets = [2, 0, 3];
        CheckLoss("cross-entropy", Random(12, 25, 2f), [3, 4], t => Loss.SoftmaxCrossEntropy(t, targets));
        var target = Random(12, 26);
        CheckLoss("mse", Random(12, 27), [3, 4], t =>
        {
            using var tt = Tensor.FromSpan(target, [3, 4], Cpu);
            return Loss.Mse(t, tt);
        });
        var logVar = Random(8, 28, 0.5f);
        var mu = Random(8, 29);
        foreach (var reduction in Enum.GetValues<KlReduction>())
        {
            CheckLoss($"kl {reduction} d/dmu", mu, [2, 4], t =>
            {
                using var lv = Tensor.FromSpan(logVar, [2, 4], Cpu);
                var r = Loss.GaussianKl(t, lv, reduction);
                r.GradLogVar.Dispose();
                return new LossResult(r.Value, r.GradMu);
            });
            CheckLoss($"kl {reduction} d/dlogvar", logVar, [2, 4], t =>
            {
                using var m = Tensor.FromSpan(mu, [2, 4], Cpu);
                var r = Loss.GaussianKl(m, t, reduction);
                r.GradMu.Dispose();
                return new LossResult(r.Value, r.GradLogVar);
            });
        }
    }

    static void CheckLoss(string label, float[] x, int[] shape, Func<Tensor, LossResult> loss)
    {
        float[] grad;
        using (var t = Tensor.FromSpan(x, shape, Cpu))
        using (var r = loss(t)) grad = r.Grad.ToArray();
        double Value(float[] v)
        {
            using var t = Tensor.FromSpan(v, shape, Cpu);
            using var r = loss(t);
            return r.Value;
        }
        for (int i = 0; i < x.Length; i++)
        {
            var p = (float[])x.Clone(); p[i] += H;
            var m = (float[])x.Clone(); m[i] -= H;
            AssertGrad($"{label}[{i}]", (Value(p) - Value(m)) / (2 * H), grad[i]);
        }
    }
}
