using NativeASD.Kernels;

namespace NativeASD.Engine.Layers;

/// <summary>A layer that only changes the shape: backward reshapes dy back to the input's shape.</summary>
public abstract class ShapeLayer(IBackend? backend) : Layer(backend)
{
    int[]? _inShape;

    /// <summary>Keeps the input's shape for backward (in training).</summary>
    protected void Remember(Tensor x) => _inShape = Training ? x.ShapeArray() : null;

    public override Tensor Backward(Tensor dy)
    {
        var shape = _inShape ?? throw NoForward();
        if (dy.Count != Layout.Count(shape))
            throw new ArgumentException($"{Describe()}: gradient {Layout.Format(dy.Shape)} does not fit the input {Layout.Format(shape)}");
        _inShape = null;
        return dy.Reshape(shape);
    }
}

/// <summary>
/// Flattens axes [startDim, endDim] into one (torch.nn.Flatten; defaults keep the batch axis).
/// A view when the input is contiguous; backward reshapes dy back to the input's shape.
/// </summary>
public sealed class Flatten(int startDim = 1, int endDim = -1, IBackend? backend = null) : ShapeLayer(backend)
{
    public override string Describe() => $"Flatten({startDim},{endDim})";

    public override Tensor Forward(Tensor x)
    {
        int s = startDim < 0 ? startDim + x.Rank : startDim, e = endDim < 0 ? endDim + x.Rank : endDim;
        if (s < 0 || e >= x.Rank || s > e)
            throw new ArgumentException($"{Describe()}: axes out of range for input {Layout.Format(x.Shape)}");
        var shape = new List<int>();
        for (int i = 0; i < s; i++) shape.Add(x.Dim(i));
        int merged = 1;
        for (int i = s; i <= e; i++) merged *= x.Dim(i);
        shape.Add(merged);
        for (int i = e + 1; i < x.Rank; i++) shape.Add(x.Dim(i));
        Remember(x);
        return x.Reshape([.. shape]);
    }
}

/// <summary>
/// Reshapes each sample: [N, ...] → [N, shape...], the batch axis kept (torch.nn.Unflatten on dims 1..);
/// one entry of <c>shape</c> may be −1.
/// </summary>
public sealed class Reshape(int[] shape, IBackend? backend = null) : ShapeLayer(backend)
{
    readonly int[] _shape = (int[])shape.Clone();

    public override string Describe() => $"Reshape([N,{string.Join(",", _shape)}])";

    public override Tensor Forward(Tensor x)
    {
        if (x.Rank < 1) throw new ArgumentException($"{Describe()}: input {Layout.Format(x.Shape)} has no batch axis");
        Tensor y;
        try { y = x.Reshape([x.Dim(0), .. _shape]); }
        catch (ArgumentException e) { throw new ArgumentException($"{Describe()}: cannot reshape input {Layout.Format(x.Shape)}: {e.Message}", e); }
        Remember(x);
        return y;
    }
}
