using NativeASD.Kernels;

namespace NativeASD.Engine.Layers;

/// <summary>y = x + inner(x) (inner must keep the shape). Backward: dx = dy + inner.Backward(dy). The inner layer is child "inner".</summary>
public sealed class Residual : Layer
{
    public Layer Inner { get; }

    public Residual(Layer inner, IBackend? backend = null) : base(backend ?? inner.Backend) => Inner = AddChild("inner", inner);

    public override string Describe() => $"Residual({Inner.Describe()})";

    public override Tensor Forward(Tensor x)
    {
        using var fx = Inner.Forward(x);
        if (!Layout.SameShape(fx.Shape, x.Shape))
            throw new ArgumentException($"{Describe()}: inner output {Layout.Format(fx.Shape)} differs from input {Layout.Format(x.Shape)}");
        return Ops.Add(x, fx);   // a new tensor: the inner layer may have kept fx for its backward
    }

    public override Tensor Backward(Tensor dy)
    {
        using var d = Inner.Backward(dy);
        return Ops.Add(dy, d);
    }

    public override void ClearSaved() => Inner.ClearSaved();
}
