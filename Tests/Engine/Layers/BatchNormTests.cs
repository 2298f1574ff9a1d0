using NativeASD.Engine;
using NativeASD.Engine.Layers;
using NativeASD.Kernels;
using static NativeASD.Tests.Engine.Layers.LayerManifest;

namespace NativeASD.Tests.Engine.Layers;

/// <summary>
/// BatchNorm1d/2d: against PyTorch 1.13 (the "batchnorm" cases of Tests/Fixtures/layers, written by
/// make_layer_references.py) in training mode (output, running statistics after warm-up batches, input and parameter
/// gradients) and evaluation mode (output from the running statistics), on the CPU backend and, for a subset, on
/// ilgpu-cpu; and finite differences of the training-mode backward. The eval-mode fold into a conv
/// (<see cref="BatchNorm.EvalAffine"/> through <see cref="Conv2d.ForwardFused"/>) is tested in <see cref="Conv2dTests"/>.
/// </summary>
public class BatchNormTests
{
    static readonly string[] IlgpuSubset = ["bn2d", "bn1d_eval"];

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var c in OfKind("batchnorm")) data.Add(c.Name, "cpu");
        foreach (var name in IlgpuSubset) data.Add(name, "ilgpu-cpu");
        return data;
    }

    static BatchNorm Build(LayerCase c, IBackend backend)
    {
        float? momentum = c.HasParam("momentum") ? c.Float("momentum") : null;
        return c.Int("dims") == 1
            ? new BatchNorm1d(c.Int("features"), c.Float("eps"), momentum, c.Bool("affine"), backend)
            : new BatchNorm2d(c.Int("features"), c.Float("eps"), momentum, c.Bool("affine"), backend);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTorch(string caseName, string backendName)
    {
        var c = Get(caseName);
        var backend = TestBackends.Get(backendName);
        string label = $"{caseName} on {backendName}";
        using var layer = Build(c, backend);
        LoadInitialState(c, layer);
        if (!c.Bool("train")) layer.Eval();

        for (int i = 0; c.Has($"x{i}"); i++)                 // warm-up batches move the running statistics
        {
            using var xi = c.Tensor($"x{i}", backend);
            layer.Forward(xi).Dispose();
        }
        using var x = c.Tensor("x", backend);
        using var y = layer.Forward(x);
        Close(c, "y", y, $"{label} y");
        foreach (var (name, b) in layer.NamedBuffers()) Close(c, name, b, $"{label} {name}");

        if (layer.Training)
        {
            CheckBackward(c, layer, backend, label);
            return;
        }
        // Eval mode keeps nothing for backward (the engine trains BatchNorm only in training mode), so torch's eval-mode
        // gradients in the fixture have no counterpart: the refusal is what is checked.
        using var dy = c.Tensor("dy", backend);
        var e = Assert.Throws<InvalidOperationException>(() => layer.Backward(dy));
        Assert.Contains($"{layer.Describe()}: Backward needs a training-mode Forward", e.Message);
    }

    /// <summary>Training-mode backward against central differences (see <see cref="GradientCheckTests"/> for the tolerance).</summary>
    [Fact]
    public void PassesFiniteDifferences()
    {
        var cpu = TestBackends.Reference;
        using var a = GradientCheckTests.Initialised(new BatchNorm1d(4, backend: cpu), 5);
        GradientCheckTests.Check("BatchNorm1d [N,C]", a, GradientCheckTests.Random(20, 6, 2f), [5, 4]);
        using var b = GradientCheckTests.Initialised(new BatchNorm1d(3, backend: cpu), 7);
        GradientCheckTests.Check("BatchNorm1d [N,C,L]", b, GradientCheckTests.Random(24, 8, 2f), [2, 3, 4]);
        using var c = GradientCheckTests.Initialised(new BatchNorm2d(2, eps: 1e-3f, backend: cpu), 9);
        GradientCheckTests.Check("BatchNorm2d", c, GradientCheckTests.Random(36, 10, 2f), [3, 2, 2, 3]);
        using var d = new BatchNorm1d(3, affine: false, backend: cpu);
        GradientCheckTests.Check("BatchNorm1d no affine", d, GradientCheckTests.Random(12, 11, 2f), [4, 3]);
    }
}
