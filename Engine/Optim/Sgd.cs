using NativeASD.Engine.Layers;

namespace NativeASD.Engine.Optim;

/// <summary>
/// torch.optim.SGD: g = grad + wd·p; with momentum, buf = g on the first step, then buf = μ·buf + (1 − dampening)·g;
/// the step direction is g + μ·buf with Nesterov, else buf; p −= lr·direction.
/// </summary>
public sealed class Sgd : Optimizer
{
    readonly Tensor?[] _momentum;

    public float Momentum { get; }
    public float Dampening { get; }
    public float WeightDecay { get; }
    public bool Nesterov { get; }

    public Sgd(IEnumerable<Parameter> parameters, float learningRate, float momentum = 0f, float dampening = 0f, float weightDecay = 0f, bool nesterov = false)
        : base(parameters, learningRate)
    {
        if (nesterov && (momentum <= 0f || dampening != 0f))
            throw new ArgumentException($"Sgd: Nesterov momentum needs momentum > 0 and zero dampening (got momentum {momentum}, dampening {dampening})");
        (Momentum, Dampening, WeightDecay, Nesterov) = (momentum, dampening, weightDecay, nesterov);
        _momentum = new Tensor?[Parameters.Count];
    }

    protected override void Update(int index, Parameter p)
    {
        using var g = p.Grad.Clone();
        if (WeightDecay != 0f) AddScaled(g, p.Value, WeightDecay);
        if (Momentum != 0f)
        {
            if (_momentum[index] is not { } buf) buf = _momentum[index] = g.Clone();
            else
            {
                Ops.Scale(buf, Momentum, into: buf);
                AddScaled(buf, g, 1f - Dampening);
            }
            if (Nesterov) AddScaled(g, buf, Momentum);
            else Ops.Copy(buf, g);
        }
        AddScaled(p.Value, g, -LearningRate);
    }

    public override void Dispose()
    {
        DisposeAll(_momentum);
        base.Dispose();
    }
}
