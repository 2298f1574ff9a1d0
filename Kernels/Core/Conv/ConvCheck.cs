namespace NativeASD.Kernels;

/// <summary>Argument checks of the convolution and pooling ops, shared by every backend.</summary>
public static class ConvCheck
{
    public static void Tensor(string op, IBackend backend, in StridedView v, string name, int[] expected)
    {
        Check.SameBackend(op, backend, v, name);
        if (!Layout.SameShape(v.Shape, expected))
            throw new ArgumentException($"{op}: {name} is {Layout.Format(v.Shape)}, expected {Layout.Format(expected)}");
        if (!v.IsContiguous)
            throw new ArgumentException($"{op}: {name} {Layout.Format(v.Shape)} must be contiguous");
    }

    public static void Forward(IBackend backend, in Conv2dGeometry g, in StridedView x, in StridedView w, StridedView? bias, in StridedView y)
    {
        const string op = "conv2d";
        g.Validate(op);
        Tensor(op, backend, x, "x", g.InputShape);
        Tensor(op, backend, w, "weight", g.WeightShape);
        if (bias is { } b) Tensor(op, backend, b, "bias", [g.OutChannels]);
        Tensor(op, backend, y, "y", g.OutputShape);
    }

    public static void ForwardFused(IBackend backend, in Conv2dGeometry g, in StridedView x, in StridedView w, in ConvEpilogue e, in StridedView y)
    {
        const string op = "conv2d fused";
        g.Validate(op);
        Tensor(op, backend, x, "x", g.InputShape);
        Tensor(op, backend, w, "weight", g.WeightShape);
        Tensor(op, backend, e.Scale, "scale", [g.OutChannels]);
        Tensor(op, backend, e.Shift, "shift", [g.OutChannels]);
        if (e.Residual is { } r) Tensor(op, backend, r, "residual", g.OutputShape);
        Tensor(op, backend, y, "y", g.OutputShape);
    }

    public static void BackwardData(IBackend backend, in Conv2dGeometry g, in StridedView dy, in StridedView w, in StridedView dx)
    {
        const string op = "conv2d backward data";
        g.Validate(op);
        Tensor(op, backend, dy, "dy", g.OutputShape);
        Tensor(op, backend, w, "weight", g.WeightShape);
        Tensor(op, backend, dx, "dx", g.InputShape);
    }

    public static void BackwardWeight(IBackend backend, in Conv2dGeometry g, in StridedView x, in StridedView dy, in StridedView dw, StridedView? db)
    {
        const string op = "conv2d backward weight";
        g.Validate(op);
        Tensor(op, backend, x, "x", g.InputShape);
        Tensor(op, backend, dy, "dy", g.OutputShape);
        Tensor(op, backend, dw, "dweight", g.WeightShape);
        if (db is { } b) Tensor(op, backend, b, "dbias", [g.OutChannels]);
    }

    public static void PoolForward(IBackend backend, in Pool2dGeometry g, in StridedView x, in StridedView y, StridedView? indices)
    {
        string op = g.Kind == PoolKind.Max ? "max_pool2d" : "avg_pool2d";
        g.Validate(op);
        Tensor(op, backend, x, "x", g.InputShape);
        Tensor(op, backend, y, "y", g.OutputShape);
        if (indices is { } i) Tensor(op, backend, i, "indices", g.OutputShape);
    }

    public static void PoolBackward(IBackend backend, in Pool2dGeometry g, in StridedView dy, StridedView? indices, in StridedView dx)
    {
        string op = g.Kind == PoolKind.Max ? "max_pool2d backward" : "avg_pool2d backward";
        g.Validate(op);
        Tensor(op, backend, dy, "dy", g.OutputShape);
        Tensor(op, backend, dx, "dx", g.InputShape);
        if (g.Kind == PoolKind.Max)
        {
            if (indices is not { } i) throw new ArgumentException($"{op}: needs the indices written by the forward pass");
            Tensor(op, backend, i, "indices", g.OutputShape);
        }
    }
}
