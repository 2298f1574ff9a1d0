using NativeASD.Kernels;

namespace NativeASD.Engine.Layers;

/// <summary>
/// MobileNetV2/V3 inverted residual block: y = block(x) (+ x when the block keeps the shape: stride 1 and as many
/// output as input channels). block (child "block", torch's name) is the expand 1×1 conv, the depthwise conv, optional
/// squeeze-and-excitation and the linear 1×1 projection. Backward: dx = block.Backward(dy) (+ dy).
/// </summary>
public sealed class InvertedResidual : Layer
{
    public Sequential Block { get; }
    public bool UsesResidual { get; }

    public InvertedResidual(Sequential block, bool residual, IBackend? backend = null) : base(backend ?? block.Backend)
    {
        Block = AddChild("block", block);
        UsesResidual = residual;
    }

    public override string Describe() => $"InvertedResidual({Block.Layers.Count} layers{(UsesResidual ? ", residual" : "")})";

    public override Tensor Forward(Tensor x)
    {
        var y = Block.Forward(x);
        if (!UsesResidual) return y;
        using (y)
        {
            if (!Layout.SameShape(y.Shape, x.Shape))
                throw new ArgumentException($"{Describe()}: block output {Layout.Format(y.Shape)} differs from input {Layout.Format(x.Shape)}");
            return Ops.Add(y, x);   // a new tensor: the block's last layer may have kept y
        }
    }

    public override Tensor Backward(Tensor dy)
    {
        var dx = Block.Backward(dy);
        if (!UsesResidual) return dx;
        using (dx) return Ops.Add(dx, dy);
    }

    public override void ClearSaved() => Block.ClearSaved();
}
