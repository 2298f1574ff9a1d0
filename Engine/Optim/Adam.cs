using NativeASD.Engine.Layers;
using NativeASD.Kernels;

namespace NativeASD.Engine.Optim;

/// <summary>
/// torch.optim.Adam (amsgrad off). At step t: g = grad (+ wd·p for Adam's L2 decay);
/// m = β₁m + (1 − β₁)g; v = β₂v + (1 − β₂)g²; p −= lr/(1 − β₁ᵗ) · m / (√v/√(1 − β₂ᵗ) + eps) — eps added AFTER the
/// bias-corrected square root, as torch. <see cref="AdamW"/> instead decays decoupled: p ·= 1 − lr·wd before the step.
/// </summary>
public class Adam : Optimizer
{
    readonly Tensor?[] _m, _v;
    readonly bool _decoupled;

    public float Beta1 { get; }
    public float Beta2 { get; }
    public float Eps { get; }
    public float WeightDecay { get; }

    public Adam(IEnumerable<Parameter> parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f, float weightDecay = 0f)
        : this(parameters, learningRate, beta1, beta2, eps, weightDecay, decoupled: false) { }

    protected Adam(IEnumerable<Parameter> parameters, float learningRate, float beta1, float beta2, float eps, float weightDecay, bool decoupled)
        : base(parameters, learningRate)
    {
        if (!(beta1 is >= 0f and < 1f) || !(beta2 is >= 0f and < 1f))
            throw new ArgumentException($"{GetType().Name}: betas must be in [0, 1), got ({beta1}, {beta2})");
        (Beta1, Beta2, Eps, WeightDecay, _decoupled) = (beta1, beta2, eps, weightDecay, decoupled);
        _m = new Tensor?[Parameters.Count];
        _v = new Tensor?[Parameters.Count];
    }

    protected override void Update(int index, Parameter p)
    {
        var m = _m[index] ??= Tensor.Zeros(p.Value.ShapeArray(), p.Value.Backend);
        var v = _v[index] ??= Tensor.Zeros(p.Value.ShapeArray(), p.Value.Backend);
        int t = Steps;
        var args = new AdamArgs(Beta1, Beta2, Eps,
            StepSize: (float)(LearningRate / (1 - Math.Pow(Beta1, t))),
            Bias2Sqrt: (float)Math.Sqrt(1 - Math.Pow(Beta2, t)),
            L2Decay: _decoupled ? 0f : WeightDecay,
            DecoupledScale: _decoupled ? 1f - LearningRate * WeightDecay : 1f);
        p.Value.Backend.AdamStep(p.Value.View, p.Grad.View, m.View, v.View, args);   // one fused pass
    }

    /// <summary>First and second moments of parameter <paramref name="index"/> (null before its first step), for checkpoints.</summary>
    public (Tensor? M, Tensor? V) Moments(int index) => (_m[index], _v[index]);

    /// <summary>Restores a checkpoint: the moments of every parameter and the step count (bias correction continues from it).</summary>
    public void Restore(int steps, IReadOnlyList<(float[] M, float[] V)> moments)
    {
        if (moments.Count != Parameters.Count)
            throw new ArgumentException($"{GetType().Name}: checkpoint has moments for {moments.Count} parameters, the optimiser has {Parameters.Count}");
        for (int i = 0; i < Parameters.Count; i++)
        {
            var shape = Parameters[i].Value.ShapeArray();
            if (moments[i].M.Length != Parameters[i].Value.Count || moments[i].V.Length != Parameters[i].Value.Count)
                throw new ArgumentException($"{GetType().Name}: checkpoint moments of parameter {i} have {moments[i].M.Length} values, the parameter {Parameters[i].Value.Count}");
            _m[i]?.Dispose();
            _v[i]?.Dispose();
            _m[i] = Tensor.FromSpan(moments[i].M, shape, Parameters[i].Value.Backend);
            _v[i] = Tensor.FromSpan(moments[i].V, shape, Parameters[i].Value.Backend);
        }
        RestoreSteps(steps);
    }

    public override void Dispose()
    {
        DisposeAll(_m);
        DisposeAll(_v);
        base.Dispose();
    }
}

/// <summary>torch.optim.AdamW: Adam with decoupled weight decay (default 0.01).</summary>
public sealed class AdamW(IEnumerable<Parameter> parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f, float weightDecay = 1e-2f)
    : Adam(parameters, learningRate, beta1, beta2, eps, weightDecay, decoupled: true);
