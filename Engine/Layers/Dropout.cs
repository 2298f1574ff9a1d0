using NativeASD.Kernels;

namespace NativeASD.Engine.Layers;

/// <summary>
/// Training: zeroes each element with probability p and scales the rest by 1/(1 − p) (torch's inverted dropout);
/// evaluation: the identity. The mask comes from this layer's own <see cref="SeededRandom"/>, advanced once per
/// element on each training Forward, so a seed fixes every mask of a run. Backward: dx = dy·mask.
/// </summary>
public sealed class Dropout : Layer
{
    readonly SeededRandom _rng;
    Tensor? _mask;

    public float P { get; }

    public Dropout(float p, ulong seed, IBackend? backend = null) : base(backend)
    {
        if (!(p >= 0f && p <= 1f)) throw new ArgumentException($"Dropout: probability must be in [0, 1], got {p}");
        P = p;
        _rng = new SeededRandom(seed);
    }

    public override string Describe() => $"Dropout({P})";

    public override Tensor Forward(Tensor x)
    {
        if (!Training) { ClearSaved(); return x.Share(); }
        var mask = new float[x.Count];
        float keep = P >= 1f ? 0f : 1f / (1f - P);
        for (int i = 0; i < mask.Length; i++) mask[i] = _rng.NextFloat() < P ? 0f : keep;
        var m = Tensor.FromSpan(mask, x.ShapeArray(), x.Backend);
        Keep(ref _mask, m);
        return Ops.Mul(x, m);
    }

    public override Tensor Backward(Tensor dy)
    {
        var mask = Saved(_mask);
        CheckGradShape(dy, mask.Shape);
        var dx = Ops.Mul(dy, mask);
        ClearSaved();
        return dx;
    }

    public override void ClearSaved() => Keep(ref _mask, null);
}
