using ILGPU;

namespace NativeASD.Kernels.Ilgpu;

// ---- convolution and pooling (kernels in ConvKernels.cs, compiled on first use) ----
public sealed partial class IlgpuBackend
{
    IlgpuConvKernels? _convKernels;

    /// <summary>Under the lock.</summary>
    IlgpuConvKernels ConvKernelSet() => _convKernels ??= new IlgpuConvKernels(_accelerator);

    static int Elements(int[] shape, string op) =>
        checked((int)Layout.Count(shape)) is var n ? n : throw new ArgumentException($"{op}: too many elements");

    void Launch(Func<IlgpuConvKernels, Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvParams>> pick,
        int count, in StridedView a, in StridedView b, StridedView? c, in StridedView d, ConvParams p)
    {
        if (count == 0) return;
        p.OffA = a.Offset; p.OffB = b.Offset; p.OffC = c?.Offset ?? 0; p.OffD = d.Offset;
        var cv = c is { } cc ? View(cc) : View(d);
        lock (_gate)
        {
            Enter();
            pick(ConvKernelSet())(count, View(a), View(b), cv, View(d), p);
        }
    }

    public void Conv2dForward(in Conv2dGeometry g, in StridedView x, in StridedView w, StridedView? bias, in StridedView y)
    {
        ConvCheck.Forward(this, g, x, w, bias, y);
        var p = ConvParams.From(g);
        p.HasBias = bias is null ? 0 : 1;
        Launch(k => k.Forward, Elements(g.OutputShape, "conv2d"), x, w, bias, y, p);
    }

    /// <summary>The plain conv, then the epilogue as broadcast elementwise passes (simple; the device is not where inference is tuned).</summary>
    public void Conv2dForwardFused(in Conv2dGeometry g, in StridedView x, in StridedView w, in ConvEpilogue e, in StridedView y)
    {
        ConvCheck.ForwardFused(this, g, x, w, e, y);
        Conv2dForward(g, x, w, null, y);
        long[] perChannel = [0, 1, 0, 0];
        Binary(BinaryOp.Mul, y, new StridedView(e.Scale.Storage, e.Scale.Offset, y.Shape, perChannel), y);
        Binary(BinaryOp.Add, y, new StridedView(e.Shift.Storage, e.Shift.Offset, y.Shape, perChannel), y);
        if (e.Residual is { } r) Binary(BinaryOp.Add, y, r, y);
        if (e.Relu) Unary(UnaryOp.Relu, y, y);
    }

    public void Conv2dBackwardData(in Conv2dGeometry g, in StridedView dy, in StridedView w, in StridedView dx)
    {
        ConvCheck.BackwardData(this, g, dy, w, dx);
        if (g.Batch == 0) return;
        Launch(k => k.BackwardData, Elements(g.InputShape, "conv2d backward data"), dy, w, null, dx, ConvParams.From(g));
    }

    public void Conv2dBackwardWeight(in Conv2dGeometry g, in StridedView x, in StridedView dy, in StridedView dw, StridedView? db)
    {
        ConvCheck.BackwardWeight(this, g, x, dy, dw, db);
        if (g.Batch == 0) return;
        var p = ConvParams.From(g);
        Launch(k => k.BackwardWeight, Elements(g.WeightShape, "conv2d backward weight"), x, dy, null, dw, p);
        if (db is { } b) Launch(k => k.BackwardBias, g.OutChannels, x, dy, null, b, p);
    }

    public void Pool2dForward(in Pool2dGeometry g, in StridedView x, in StridedView y, StridedView? indices)
    {
        ConvCheck.PoolForward(this, g, x, y, indices);
        var p = ConvParams.From(g);
        p.HasBias = indices is null ? 0 : 1;
        Launch(k => k.PoolForward, Elements(g.OutputShape, "pool2d"), x, x, indices, y, p);
    }

    public void Pool2dBackward(in Pool2dGeometry g, in StridedView dy, StridedView? indices, in StridedView dx)
    {
        ConvCheck.PoolBackward(this, g, dy, indices, dx);
        Launch(k => k.PoolBackward, Elements(g.InputShape, "pool2d backward"), dy, dy, indices, dx, ConvParams.From(g));
    }
}
