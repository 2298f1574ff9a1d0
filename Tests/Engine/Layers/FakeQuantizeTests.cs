using NativeASD.Engine;
using NativeASD.Engine.Layers;

namespace NativeASD.Tests.Engine.Layers;

/// <summary>Int8 activation emulation: TFLite's quantize rounding and clamping, pass-through when off, straight-through backward.</summary>
public class FakeQuantizeTests
{
    [Fact]
    public void Quantises_rounding_half_away_from_zero_and_clamps_to_int8()
    {
        var backend = TestBackends.Get("cpu");
        using var q = new FakeQuantize(backend) { Quantization = new ActivationQuantization(0.5f, 10) };
        // x/scale: 0.5 → 1 (+10 = 11); −0.5 → −1; 2.5 → 3; −2.5 → −3; 100 → 200+10 clamps to 127 → 58.5; −100 clamps to −128 → −69
        using var x = Tensor.FromSpan([0.25f, -0.25f, 1.25f, -1.25f, 100f, -100f], [2, 3], backend);
        using var y = q.Forward(x);
        Assert.Equal([0.5f, -0.5f, 1.5f, -1.5f, 58.5f, -69f], y.ToArray());
        Assert.Equal([2, 3], y.ShapeArray());
    }

    [Fact]
    public void Off_is_the_identity_and_backward_passes_gradients_only_inside_the_range()
    {
        var backend = TestBackends.Get("cpu");
        using var q = new FakeQuantize(backend);
        using var x = Tensor.FromSpan([0.3f, 100f, -100f], [3], backend);
        using (var y = q.Forward(x)) Assert.Equal(x.ToArray(), y.ToArray());

        q.Quantization = new ActivationQuantization(0.5f, 0);
        q.Train();
        using var _ = q.Forward(x);
        using var dy = Tensor.FromSpan([1f, 2f, 3f], [3], backend);
        using var dx = q.Backward(dy);
        Assert.Equal([1f, 0f, 0f], dx.ToArray());
    }
}
