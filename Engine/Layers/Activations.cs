using NativeASD.Kernels;

namespace NativeASD.Engine.Layers;

/// <summary>
/// Elementwise activation y = f(x) (any shape). Backward: dx = dy · f'(·) in one kernel (<see cref="IBackend.UnaryGrad"/>),
/// from the saved input x (ReLU family, Hardswish) or the saved output y (Sigmoid, Tanh), whichever the derivative needs.
/// </summary>
public class Activation : Layer
{
    readonly UnaryOp _op;
    readonly float _alpha;
    Tensor? _saved;
    int[]? _shape;

    public Activation(UnaryOp op, float alpha = 0f, IBackend? backend = null) : base(backend)
    {
        if (op is not (UnaryOp.Relu or UnaryOp.Relu6 or UnaryOp.LeakyRelu or UnaryOp.Sigmoid or UnaryOp.Tanh or UnaryOp.Hardswish))
            throw new ArgumentException($"Activation: {op} is not an activation (Relu, Relu6, LeakyRelu, Sigmoid, Tanh, Hardswish)");
        (_op, _alpha) = (op, alpha);
    }

    public UnaryOp Op => _op;

    public override string Describe() => _op == UnaryOp.LeakyRelu ? $"LeakyReLU({_alpha})" : _op.ToString();

    public override Tensor Forward(Tensor x)
    {
        var y = Ops.Unary(_op, x, alpha: _alpha);
        if (Training)
        {
            Keep(ref _saved, NnGrad.UsesOutput(_op) ? y.Share() : x.Share());
            _shape = x.ShapeArray();
        }
        else ClearSaved();
        return y;
    }

    public override Tensor Backward(Tensor dy)
    {
        var saved = Saved(_saved);
        CheckGradShape(dy, _shape!);
        var dx = Tensor.Empty(_shape!, dy.Backend);
        dy.Backend.UnaryGrad(_op, saved.View, dy.View, dx.View, _alpha);
        ClearSaved();
        return dx;
    }

    public override void ClearSaved() => Keep(ref _saved, null);
}

/// <summary>max(x, 0).</summary>
public sealed class ReLU(IBackend? backend = null) : Activation(UnaryOp.Relu, 0f, backend);

/// <summary>min(max(x, 0), 6) (MobileNet/YAMNet).</summary>
public sealed class ReLU6(IBackend? backend = null) : Activation(UnaryOp.Relu6, 0f, backend);

/// <summary>x for x ≥ 0, slope·x below (torch default slope 0.01).</summary>
public sealed class LeakyReLU(float slope = 0.01f, IBackend? backend = null) : Activation(UnaryOp.LeakyRelu, slope, backend);

/// <summary>1 / (1 + e^−x).</summary>
public sealed class Sigmoid(IBackend? backend = null) : Activation(UnaryOp.Sigmoid, 0f, backend);

public sealed class Tanh(IBackend? backend = null) : Activation(UnaryOp.Tanh, 0f, backend);

/// <summary>x·min(max(x + 3, 0), 6)/6 (MobileNetV3, EfficientAT). Gradient as torch: 0 below −3, x/3 + ½ up to 3, 1 above.</summary>
public sealed class Hardswish(IBackend? backend = null) : Activation(UnaryOp.Hardswish, 0f, backend);
