using NativeASD.Engine;
using NativeASD.Engine.Layers;

namespace NativeASD.Tests.Engine.Layers;

/// <summary>ZeroPad2d (torch.nn.ZeroPad2d / Keras ZeroPadding2D): the input in the middle of zeros; backward takes the middle.</summary>
public class ZeroPad2dTests
{
    [Theory]
    [MemberData(nameof(TestBackends.Cpu), MemberType = typeof(TestBackends))]
    public void Pads_with_zeros_and_backward_takes_the_middle(string backendName)
    {
        var backend = TestBackends.Get(backendName);
        using var pad = new ZeroPad2d(new ConvPadding(1, 2, 0, 1), backend);
        float[] x = [1, -2, 3, 4, -5, 6];                                  // [1, 1, 2, 3]
        using var xt = Tensor.FromSpan(x, [1, 1, 2, 3], backend);
        pad.Train();
        using var y = pad.Forward(xt);
        Assert.Equal([1, 1, 5, 4], y.ShapeArray());
        Assert.Equal(new float[]
        {
            0, 0, 0, 0,
            1, -2, 3, 0,
            4, -5, 6, 0,
            0, 0, 0, 0,
            0, 0, 0, 0,
        }, y.ToArray());
        var dy = Enumerable.Range(1, 20).Select(i => (float)i).ToArray();
        using var dyt = Tensor.FromSpan(dy, [1, 1, 5, 4], backend);
        using var dx = pad.Backward(dyt);
        Assert.Equal([1, 1, 2, 3], dx.ShapeArray());
        Assert.Equal(new float[] { 5, 6, 7, 9, 10, 11 }, dx.ToArray());
    }

    [Fact]
    public void Refuses_same_or_negative_padding_and_other_ranks()
    {
        Assert.Throws<ArgumentException>(() => new ZeroPad2d(ConvPadding.Same));
        Assert.Throws<ArgumentException>(() => new ZeroPad2d(new ConvPadding(-1, 0, 0, 0)));
        using var pad = new ZeroPad2d(1);
        using var x = Tensor.Zeros([2, 3]);
        Assert.Throws<ArgumentException>(() => pad.Forward(x));
    }
}
