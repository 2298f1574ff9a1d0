using NativeASD.Kernels;

namespace NativeASD.Engine.Layers;

/// <summary>
/// A single-input layer with a hand-written backward pass.
/// <para><b>Protocol.</b> <see cref="Forward"/> computes y = f(x); in training mode it also keeps what
/// <see cref="Backward"/> needs. <see cref="Backward"/> takes dL/dy, ADDS the parameter gradients into
/// <see cref="Parameter.Grad"/> (skipped for parameters with RequiresGrad = false; call ZeroGrad between steps)
/// and returns dL/dx. One Backward per training-mode Forward; in evaluation mode nothing is kept and Backward throws.</para>
/// <para><b>Tensor ownership</b> (tensors are pooled and IDisposable):
/// <list type="number">
/// <item>Forward and Backward BORROW their argument: they never dispose it and never write into it.</item>
/// <item>They RETURN a tensor the caller owns and must dispose. It may be a view sharing storage with the
/// argument (Flatten, Reshape, Dropout in eval mode), so tensors passed between layers are never written in place.</item>
/// <item>What a layer keeps for Backward is its own reference (<see cref="Tensor.Share"/> or a tensor it made);
/// Backward releases it, as do the next Forward, <see cref="ClearSaved"/> and Dispose.</item>
/// <item>Parameters and buffers belong to the module that registered them (disposed with it).</item>
/// </list></para>
/// Shape or configuration mistakes throw <see cref="ArgumentException"/> naming the layer (<see cref="Describe"/>) and the shapes.
/// </summary>
public abstract class Layer : Module
{
    protected Layer(IBackend? backend = null) : base(backend) { }

    /// <summary>y = f(x). x: borrowed; result: owned by the caller.</summary>
    public abstract Tensor Forward(Tensor x);

    /// <summary>dx from dy; accumulates parameter gradients. dy: borrowed; result: owned by the caller.</summary>
    public abstract Tensor Backward(Tensor dy);

    /// <summary>Releases whatever the last training-mode Forward kept for Backward.</summary>
    public virtual void ClearSaved() { }

    /// <summary>The layer and its configuration as it appears in error messages, e.g. "Linear(640→128)".</summary>
    public virtual string Describe() => GetType().Name;

    public override void Dispose()
    {
        ClearSaved();
        base.Dispose();
    }

    /// <summary>Replaces a saved tensor, releasing the previous one.</summary>
    protected static void Keep(ref Tensor? slot, Tensor? value)
    {
        slot?.Dispose();
        slot = value;
    }

    /// <summary>A saved tensor, or a clear error when Backward comes without a training-mode Forward.</summary>
    protected Tensor Saved(Tensor? slot) => slot ?? throw NoForward();

    /// <summary>The error for a Backward that has nothing saved to work from.</summary>
    protected InvalidOperationException NoForward() =>
        new($"{Describe()}: Backward needs a training-mode Forward first (Train(), then Forward, then one Backward)");

    /// <summary>grad(p) += g, unless p is frozen.</summary>
    protected static void Accumulate(Parameter p, Tensor g)
    {
        if (!p.RequiresGrad) return;
        if (!Layout.SameShape(p.Grad.Shape, g.Shape))
        {
            using var r = g.Reshape(p.Grad.ShapeArray());
            Ops.Add(p.Grad, r, into: p.Grad);
        }
        else Ops.Add(p.Grad, g, into: p.Grad);
    }

    /// <summary>Throws naming the layer when dy's shape is not the shape Forward produced.</summary>
    protected void CheckGradShape(Tensor dy, ReadOnlySpan<int> expected)
    {
        if (!Layout.SameShape(dy.Shape, expected))
            throw new ArgumentException($"{Describe()}: gradient {Layout.Format(dy.Shape)} does not match the forward output {Layout.Format(expected)}");
    }
}
