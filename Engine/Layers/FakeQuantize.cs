using NativeASD.Kernels;

namespace NativeASD.Engine.Layers;

/// <summary>One tensor's affine int8 quantisation, as TFLite stores it: real = (q − ZeroPoint)·Scale, q in [−128, 127].</summary>
public readonly record struct ActivationQuantization(float Scale, int ZeroPoint)
{
    public const int Min = -128, Max = 127;
}

/// <summary>
/// Int8 activation emulation (any shape): y = (clamp(round(x/scale) + zero_point, −128, 127) − zero_point)·scale, the
/// value an int8 runtime holds after quantising x (round half away from zero, as TFLite's quantize). Off (no
/// <see cref="Quantization"/>): y = x. Backward is the straight-through estimator of torch's fake_quantize: dx = dy where
/// x quantised inside [−128, 127], 0 where it was clamped. Computed on the host (it sits between layers of small maps).
/// </summary>
public sealed class FakeQuantize(IBackend? backend = null) : Layer(backend)
{
    Tensor? _mask;

    /// <summary>The quantisation to emulate; null passes x through unchanged.</summary>
    public ActivationQuantization? Quantization { get; set; }

    public override string Describe() => Quantization is { } q ? $"FakeQuantize(scale {q.Scale}, zero point {q.ZeroPoint})" : "FakeQuantize(off)";

    public override Tensor Forward(Tensor x)
    {
        if (Quantization is not { } q)
        {
            ClearSaved();
            return x.Share();
        }
        var values = x.ToArray();
        var mask = Training ? new float[values.Length] : null;
        double scale = q.Scale;
        for (int i = 0; i < values.Length; i++)
        {
            double level = Math.Round(values[i] / scale, MidpointRounding.AwayFromZero) + q.ZeroPoint;
            if (mask is not null) mask[i] = level is >= ActivationQuantization.Min and <= ActivationQuantization.Max ? 1f : 0f;
            values[i] = (float)((Math.Clamp(level, ActivationQuantization.Min, ActivationQuantization.Max) - q.ZeroPoint) * scale);
        }
        Keep(ref _mask, mask is null ? null : Tensor.FromSpan(mask, x.ShapeArray(), x.Backend));
        return Tensor.FromSpan(values, x.ShapeArray(), x.Backend);
    }

    public override Tensor Backward(Tensor dy)
    {
        if (Quantization is null) return dy.Share();
        var mask = Saved(_mask);
        CheckGradShape(dy, mask.ShapeArray());
        var dx = Ops.Mul(dy, mask);
        ClearSaved();
        return dx;
    }

    public override void ClearSaved() => Keep(ref _mask, null);
}
