using NativeASD.Engine;
using NativeASD.Engine.Architectures;
using NativeASD.Engine.Layers;
using NativeASD.Engine.Optim;
using Xunit.Abstractions;

namespace NativeASD.Tests.Engine.Architectures;

/// <summary>
/// MiniResNet's hand-written backward (blocks of both versions with every shortcut, and whole small networks in
/// training mode) against finite differences along random directions: for L = Σ y·r and a step h·v, the difference
/// quotient must equal ⟨dL/dx, v⟩, and likewise along a random direction of each parameter. A ReLU or max-pooling
/// kink inside [−h, h] (some element of some layer changing sides) bends L, so the central quotient can miss by O(1)
/// there; the one-sided quotient on the side without the kink is still the derivative, so the check passes when the
/// central or either one-sided quotient matches. A missing or doubled gradient path (a shortcut, a pre-activation)
/// matches none of them.
/// </summary>
public class MiniResNetTests(ITestOutputHelper output)
{
    const float H = 1e-3f;

    static float[] Normal(long n, ulong seed, float mean = 0f, float std = 1f)
    {
        var v = new float[n];
        new SeededRandom(seed).FillNormal(v, mean, std);
        return v;
    }

    static double Dot(float[] a, float[] b) => a.Zip(b, (x, y) => (double)x * y).Sum();

    void Check(string label, Layer layer, int[] shape)
    {
        var cpu = TestBackends.Reference;
        ulong seed = 21;
        foreach (var (_, p) in layer.NamedParameters()) Init.Normal(p.Value, new SeededRandom(seed++), 0.3f, 0.5f);
        var x = Normal(shape.Aggregate(1, (a, d) => a * d), 1);
        layer.Train();
        layer.ZeroGrad();
        float[] r, dx;
        using (var xt = Tensor.FromSpan(x, shape, cpu))
        using (var y = layer.Forward(xt))
        {
            r = Normal(y.Count, 2);
            using var rt = Tensor.FromSpan(r, y.ShapeArray(), cpu);
            using var dxt = layer.Backward(rt);
            dx = dxt.ToArray();
        }
        double Loss(float[] input)
        {
            using var t = Tensor.FromSpan(input, shape, cpu);
            using var y = layer.Forward(t);
            return Dot(y.ToArray(), r);
        }
        void Compare(string what, Func<float, double> along, double analytic)
        {
            double minus = along(-H), zero = along(0), plus = along(H);
            double[] quotients = [(plus - minus) / (2 * H), (plus - zero) / H, (zero - minus) / H];
            double error = quotients.Min(q => Math.Abs(q - analytic));
            string text = $"{label} {what}: analytic {analytic:G6}, central {quotients[0]:G6}, right {quotients[1]:G6}, left {quotients[2]:G6}";
            output.WriteLine(text);
            Assert.True(error <= 1e-2 + 2e-2 * Math.Abs(analytic), text);
        }
        var v = Normal(x.Length, 3);
        Compare("dx", step => Loss([.. x.Zip(v, (a, b) => a + step * b)]), Dot(dx, v));
        foreach (var (name, p) in layer.NamedParameters())
        {
            var value = p.Value.ToArray();
            var direction = Normal(value.Length, seed++);
            double Moved(float step)
            {
                p.Value.Backend.Upload([.. value.Zip(direction, (a, b) => a + step * b)], p.Value.Storage, p.Value.Offset);
                return Loss(x);
            }
            Compare(name, Moved, Dot(p.Grad.ToArray(), direction));
            p.Value.Backend.Upload(value, p.Value.Storage, p.Value.Offset);
        }
        layer.ClearSaved();
    }

    [Fact]
    public void V1_blocks_backward_matches_finite_differences()
    {
        using var down = new MiniResNetBlock(3, 4, stride: 2, convShortcut: true, eps: 1e-3f, TestBackends.Reference);
        Check("v1 conv shortcut", down, [2, 3, 6, 5]);
        using var same = new MiniResNetBlock(4, 4, stride: 1, convShortcut: false, eps: 1e-3f, TestBackends.Reference);
        Check("v1 identity", same, [2, 4, 5, 4]);
    }

    [Fact]
    public void V2_blocks_backward_matches_finite_differences()
    {
        using var conv = new MiniResNetV2Block(3, 4, stride: 1, V2Shortcut.Conv, eps: 1e-3f, TestBackends.Reference);
        Check("v2 conv shortcut", conv, [2, 3, 5, 4]);
        using var pool = new MiniResNetV2Block(4, 4, stride: 2, V2Shortcut.Pool, eps: 1e-3f, TestBackends.Reference);
        Check("v2 pool shortcut", pool, [2, 4, 6, 5]);
        using var identity = new MiniResNetV2Block(4, 4, stride: 1, V2Shortcut.Identity, eps: 1e-3f, TestBackends.Reference);
        Check("v2 identity", identity, [2, 4, 5, 4]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Whole_network_backward_matches_finite_differences(int version)
    {
        using var model = new MiniResNet(new MiniResNetConfig(version, Stacks: 2, Blocks: 2, Width: 2), TestBackends.Reference);
        Check($"MiniResNet v{version}", model, [2, 1, 20, 18]);
    }

    [Fact]
    public void Taps_follow_stacks_and_blocks_and_shapes_follow_the_keras_model()
    {
        using var v1 = new MiniResNet(new MiniResNetConfig(1));
        Assert.Equal(["conv1", "pool1", "conv2_block1", "conv2_block2", "conv2", "conv3_block1", "conv3_block2", "conv3", "embedding"], v1.TapNames);
        using var v2 = new MiniResNet(new MiniResNetConfig(2));
        Assert.Contains("post", v2.TapNames);
        Assert.Equal(128, v1.EmbeddingSize);
        foreach (var model in new[] { v1, v2 })   // Values() counts what the built network holds (num_batches_tracked aside)
            Assert.Equal(StateDict.Entries(model).Where(e => !e.Name.EndsWith("num_batches_tracked")).Sum(e => e.Tensor.Count), model.Config.Values());
        Assert.Equal(long.MaxValue, new MiniResNetConfig(1, Stacks: 30, Width: int.MaxValue).Values());
        using var x = Tensor.Zeros([3, 1, 50, 64]);
        v1.Eval();
        v2.Eval();
        using var a = v1.Forward(x, ["conv1", "pool1", "conv2", "conv3", "embedding"]);
        Assert.Equal([3, 64, 25, 32], a["conv1"].ShapeArray());             // Keras [32 mel, 25 time] transposed
        Assert.Equal([3, 64, 13, 16], a["pool1"].ShapeArray());
        Assert.Equal([3, 64, 7, 8], a["conv2"].ShapeArray());
        Assert.Equal([3, 128, 4, 4], a["conv3"].ShapeArray());
        Assert.Equal([3, 128], a["embedding"].ShapeArray());
        using var b = v2.Forward(x, ["conv2_block1", "conv2", "conv3_block1", "post"]);
        Assert.Equal([3, 64, 13, 16], b["conv2_block1"].ShapeArray());
        Assert.Equal([3, 64, 7, 8], b["conv2"].ShapeArray());
        Assert.Equal([3, 128, 7, 8], b["conv3_block1"].ShapeArray());
        Assert.Equal([3, 128, 4, 4], b["post"].ShapeArray());
        Assert.Throws<ArgumentException>(() => new MiniResNet(new MiniResNetConfig(2, Blocks: 1)));
        using var wrong = Tensor.Zeros([1, 2, 50, 64]);
        Assert.Throws<ArgumentException>(() => v1.Forward(wrong));
    }
}
