using NativeASD.Engine;
using NativeASD.Engine.Layers;
using NativeASD.Engine.Losses;
using NativeASD.Engine.Architectures;
using NativeASD.Engine.Architectures.Panns;
using NativeASD.Engine.Optim;
using Xunit.Abstractions;

namespace NativeASD.Tests.Engine.Architectures.Panns;

/// <summary>
/// One Adam step of a small PANNs ResNet22 (width 1/64, training mode: batch-statistics BatchNorm, dropout off) plus a
/// linear head on the embedding tap, cross-entropy loss, against PyTorch (resnet22_w64_train in make_arch_references.py):
/// the loss, every parameter gradient (backward through the whole network), the updated parameters and the updated
/// BatchNorm running statistics.
/// </summary>
public class PannsTrainStepTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("cpu")]
    [InlineData("cpu-1thread")]
    public void OneAdamStepMatchesTorch(string backendName)
    {
        var c = ArchFixtures.Get("resnet22_w64_train");
        var backend = TestBackends.Get(backendName);
        using var model = new PannsResNet(c.PannsConfig(dropoutScale: 0f), backend);
        model.Load(c.StateTensors("weights"), c.PathOf("weights"));
        int classes = c.Json.GetProperty("head_out").GetInt32();
        using var head = new Linear(model.EmbeddingSize, classes, backend: backend);
        StateDict.Load(head, c.StateTensors("head"), c.PathOf("head"));
        int[] labels = c.Json.GetProperty("labels").EnumerateArray().Select(e => e.GetInt32()).ToArray();

        var parameters = model.NamedParameters().Concat(head.NamedParameters("head.")).ToList();
        var opt = c.Json.GetProperty("optimizer");
        using var adam = new Adam(parameters.Select(p => p.Parameter), opt.GetProperty("lr").GetSingle(),
            opt.GetProperty("beta1").GetSingle(), opt.GetProperty("beta2").GetSingle(), opt.GetProperty("eps").GetSingle());

        model.Train();
        head.Train();
        adam.ZeroGrad();
        using var x = c.Tensor(backend, "input.npy");
        using (var features = model.Forward(x, ["embedding"]))
        using (var logits = head.Forward(features.Output))
        using (var loss = Loss.SoftmaxCrossEntropy(logits, labels))
        {
            float expectedLoss = c.Npy("loss.npy").Data[0];
            output.WriteLine($"loss {loss.Value} (torch {expectedLoss})");
            Assert.True(Math.Abs(loss.Value - expectedLoss) <= 1e-5 * Math.Max(1, Math.Abs(expectedLoss)), $"loss {loss.Value} vs torch {expectedLoss}");
            using var dFeatures = head.Backward(loss.Grad);
            using var dx = model.Backward(dFeatures);
            Assert.Equal(x.ShapeArray(), dx.ShapeArray());
        }

        var failures = new List<string>();
        foreach (var (name, p) in parameters.Where(p => !p.Name.StartsWith("fc_audioset.")))
            Check("grad", name, c.Npy("grad", name + ".npy").Data, p.Grad, 1e-3, failures);
        adam.Step();
        foreach (var (name, p) in parameters.Where(p => !p.Name.StartsWith("fc_audioset.")))
            Check("after", name, c.Npy("after", name + ".npy").Data, p.Value, 1e-5, failures);
        foreach (var (name, b) in model.NamedBuffers())
            Check("after", name, c.Npy("after", name + ".npy").Data, b, 1e-5, failures);
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    /// <summary>
    /// ‖a − e‖ ≤ tolerance·‖e‖ + 1e-5·√n. The absolute floor is for gradients that are zero in exact arithmetic and
    /// float32 noise in both implementations: a conv from ONE channel feeding a training-mode BatchNorm (width 1/64's
    /// layer2.0.downsample.1) has dW = Σ dy·x = 0, because BatchNorm's backward makes dy orthogonal to its input.
    /// </summary>
    void Check(string kind, string name, float[] expected, Tensor actual, double tolerance, List<string> failures)
    {
        var values = actual.ToArray();
        var (rel, maxAbs) = ArchFixtures.Compare(expected, values);
        double norm = Math.Sqrt(expected.Sum(v => (double)v * v));
        double diff = Math.Sqrt(expected.Zip(values, (e, a) => ((double)a - e) * ((double)a - e)).Sum());
        output.WriteLine($"{kind} {name,-40} relL2 {rel:E2} maxAbs {maxAbs:E2}");
        if (!(diff <= tolerance * norm + 1e-5 * Math.Sqrt(expected.Length))) failures.Add($"{kind} {name}: relL2 {rel:E3} > {tolerance} (‖diff‖ {diff:E2})");
    }
}
