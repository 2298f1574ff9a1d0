using ILGPU;

namespace NativeASD.Kernels.Ilgpu;

// ---- convolution and pooling: implicit GEMM on the tiled kernels (ConvGemm.cs), direct kernels (ConvKernels.cs) for
// convs too narrow for it and for pooling; compiled on first use ----
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
        var ops = new ConvForwardOperands { X = View(x), Weight = View(w), Y = View(y), P = Offsets(p, x, w, bias, y) }.Sized();
        ops.Bias = ops.Scale = ops.Shift = ops.Residual = bias is { } b ? View(b) : ops.Y;
        if (!LaunchTiled(k => k.TiledForward, ops))
            Launch(k => k.Forward, Elements(g.OutputShape, "conv2d"), x, w, bias, y, p);
    }

    /// <summary>
    /// The tiled implicit GEMM with the epilogue in its store (one pass over y). Convs too narrow for it (depthwise):
    /// the direct conv, then the epilogue as broadcast elementwise passes.
    /// </summary>
    public void Conv2dForwardFused(in Conv2dGeometry g, in StridedView x, in StridedView w, in ConvEpilogue e, in StridedView y)
    {
        ConvCheck.ForwardFused(this, g, x, w, e, y);
        var ops = new ConvForwardOperands
        {
            X = View(x), Weight = View(w), Y = View(y), P = Offsets(ConvParams.From(g), x, w, null, y),
            Scale = View(e.Scale), Shift = View(e.Shift), OffScale = e.Scale.Offset, OffShift = e.Shift.Offset, HasScale = 1,
            HasResidual = e.Residual is null ? 0 : 1, Relu = e.Relu ? 1 : 0,
        };
        ops = ops.Sized();
        ops.Bias = ops.Y;
        (ops.Residual, ops.OffResidual) = e.Residual is { } r ? (View(r), r.Offset) : (ops.Y, 0);
        if (LaunchTiled(k => k.TiledForward, ops)) return;
        Conv2dForward(g, x, w, null, y);
        long[] perChannel = [0, 1, 0, 0];
        Binary(BinaryOp.Mul, y, new StridedView(e.Scale.Storage, e.Scale.Offset, y.Shape, perChannel), y);
        Binary(BinaryOp.Add, y, new StridedView(e.Shift.Storage, e.Shift.Offset, y.Shape, perChannel), y);
        if (e.Residual is { } res) Binary(BinaryOp.Add, y, res, y);
        if (e.Relu) Unary(UnaryOp.Relu, y, y);
    }

    public void Conv2dBackwardData(in Conv2dGeometry g, in StridedView dy, in StridedView w, in StridedView dx)
    {
        ConvCheck.BackwardData(this, g, dy, w, dx);
        if (g.Batch == 0) return;
        var p = Offsets(ConvParams.From(g), dy, w, null, dx);
        if (!LaunchTiled(k => k.TiledBackwardData, new ConvBackwardDataOperands { Dy = View(dy), Weight = View(w), Dx = View(dx), P = p }.Sized()))
            Launch(k => k.BackwardData, Elements(g.InputShape, "conv2d backward data"), dy, w, null, dx, p);
    }

    /// <summary>Forces the split-K count of the tiled weight gradient (tests); null chooses by size.</summary>
    internal int? WeightGradSplits { get; set; }

    public void Conv2dBackwardWeight(in Conv2dGeometry g, in StridedView x, in StridedView dy, in StridedView dw, StridedView? db)
    {
        ConvCheck.BackwardWeight(this, g, x, dy, dw, db);
        if (g.Batch == 0) return;
        var p = Offsets(ConvParams.From(g), x, dy, null, dw);
        var ops = new ConvBackwardWeightOperands { X = View(x), Dy = View(dy), Dw = View(dw), P = p }.Sized(1);
        int positions = checked(g.Batch * g.OutHeight * g.OutWidth);
        lock (_gate)
        {
            Enter();
            var kernels = ConvKernelSet();
            var tiled = Ilgpu.GemmVariants.Choose(kernels.TiledBackwardWeight, ops.M, ops.N, g.Groups, Multiprocessors, GemmVariant);
            if (tiled is null)
            {
                var perElement = new KernelConfig(new Index1D(Elements(g.WeightShape, "conv2d backward weight")), new Index1D(_kernels.RowGroup));
                kernels.WeightGradPerElement(perElement, ops.X, ops.Dy, ops.Dw, p, ops.D);
            }
            else
            {
                ops = ops.Sized(WeightGradSplits ?? Ilgpu.GemmVariants.SplitK(tiled.Blocks(ops.M, ops.N, g.Groups), positions, Multiprocessors));
                if (ops.Splits == 1)
                {
                    ops.Partial = ops.Dw;
                    tiled.Launch(ops);
                }
                else
                {
                    int perGroup = ops.M * ops.N;
                    var partial = (IlgpuStorage)Allocate((long)g.Groups * ops.Splits * perGroup);
                    ops.Partial = partial.View;
                    tiled.Launch(ops);
                    kernels.SumSplits(g.Groups * perGroup, ops.Partial, ops.Dw, dw.Offset, perGroup, ops.Splits);
                    partial.Release(); // the stream orders the next user after these kernels
                }
            }
            if (db is { } b)
            {
                var q = p;
                q.OffB = dy.Offset;
                q.OffD = b.Offset;
                kernels.BiasGrad(new KernelConfig(new Index1D(g.OutChannels), new Index1D(_kernels.RowGroup)), ops.Dy, View(b), q);
            }
        }
    }

    /// <summary>Sets the view offsets: A, B, C (bias), D (output) as the kernels read them.</summary>
    static ConvParams Offsets(ConvParams p, in StridedView a, in StridedView b, StridedView? c, in StridedView d)
    {
        p.OffA = a.Offset; p.OffB = b.Offset; p.OffC = c?.Offset ?? 0; p.OffD = d.Offset;
        return p;
    }

    /// <summary>Launches the tiled implicit GEMM when one suits the shape (see <see cref="GemmVariants.Choose"/>).</summary>
    bool LaunchTiled<TOps>(Func<IlgpuConvKernels, GemmVariant<TOps>[]> pick, in TOps ops) where TOps : struct, IGemmOperands
    {
        if (ops.M == 0 || ops.N == 0) return true;
        lock (_gate)
        {
            Enter();
            var tiled = Ilgpu.GemmVariants.Choose(pick(ConvKernelSet()), ops.M, ops.N, ops.Batch, Multiprocessors, GemmVariant);
            if (tiled is null) return false;
            tiled.Launch(ops);
            return true;
        }
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
