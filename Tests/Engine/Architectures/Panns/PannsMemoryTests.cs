using NativeASD.Engine;
using NativeASD.Engine.Architectures;
using NativeASD.Engine.Architectures.Panns;
using NativeASD.Kernels;
using NativeASD.Kernels.Cpu;

namespace NativeASD.Tests.Engine.Architectures.Panns;

/// <summary>
/// What an inference forward holds, counted exactly in tensor-storage bytes on a private CPU backend (not timed, not the
/// process's resident memory): the weights once (no gradient buffers), nothing left behind by a forward, and only a few
/// feature maps alive at any moment during it.
/// </summary>
public class PannsMemoryTests
{
    static long Bytes(long count) => SizeClasses.Round(count) * sizeof(float);

    [Fact]
    public void EvalForwardHoldsTheWeightsOnceAndRetainsNothing()
    {
        using var backend = new CpuBackend(1);
        using var model = new PannsResNet(new PannsConfig([1, 1, 1, 1], Width: 1 / 16.0), backend);
        long weights = StateDict.Entries(model).Sum(e => Bytes(e.Tensor.Count));
        Assert.Equal(weights, backend.LiveBytes);

        model.Eval();
        var data = new float[1 * 1 * 96 * 64];
        var rng = new Random(4);
        for (int i = 0; i < data.Length; i++) data[i] = (float)rng.NextDouble() * 20 - 10;
        using var x = Tensor.FromSpan(data, [1, 1, 96, 64], backend);
        long before = backend.LiveBytes;
        backend.ResetPeakLiveBytes();
        using (model.Forward(x)) { }
        Assert.Equal(before, backend.LiveBytes);

        // The largest feature map is conv_block1's before its pooling: [1, 4, 96, 64]. A block keeps its input, the
        // map being made and the one before it, and at the residual add the shortcut and the sum.
        long largest = Bytes(4L * 96 * 64);
        long extra = backend.PeakLiveBytes - before;
        Assert.True(extra <= 3 * largest, $"a forward held {extra} bytes beyond the weights and input at once; 3 of the largest feature maps are {3 * largest}");
    }

    [Fact]
    public void GradientsAreAllocatedByTheFirstTrainingBackward()
    {
        using var backend = new CpuBackend(1);
        using var model = new PannsResNet(new PannsConfig([1, 1, 1, 1], Width: 1 / 16.0, DropoutScale: 0f), backend);
        long weights = backend.LiveBytes;
        using var x = Tensor.Zeros([1, 1, 64, 64], backend);
        using (var y = model.Forward(x))
        using (var dy = Tensor.Zeros(y.ShapeArray(), backend))
        using (model.Backward(dy)) { }
        long parameters = model.NamedParameters().Sum(p => Bytes(p.Parameter.Value.Count));
        Assert.Equal(weights + parameters, backend.LiveBytes - x.Storage.Length * sizeof(float));
    }
}
