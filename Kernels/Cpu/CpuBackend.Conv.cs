namespace NativeASD.Kernels.Cpu;

// ---- convolution and pooling (see Kernels/Cpu/Conv) ----
public sealed unsafe partial class CpuBackend
{
    [ThreadStatic] static NativeBuffer? _flippedWeights;

    /// <summary>Tests set this to run every convolution through the general paths (implicit GEMM with row-by-row panels,
    /// GEMM + col2im for dx) so the fast paths (depthwise, 1×1, stride-1 dx as a forward conv) can be compared with them.</summary>
    internal bool GeneralConvOnly { get; set; }

    static float* P(in StridedView v) => ((CpuStorage)v.Storage).Pointer + v.Offset;
    static float* P(StridedView? v) => v is { } view ? P(view) : null;

    public void Conv2dForward(in Conv2dGeometry g, in StridedView x, in StridedView w, StridedView? bias, in StridedView y)
    {
        ConvCheck.Forward(this, g, x, w, bias, y);
        if (g.Batch == 0) return;
        Conv2dForward(g, P(x), P(w), P(bias), P(y));
    }

    void Conv2dForward(in Conv2dGeometry g, float* x, float* w, float* bias, float* y)
    {
        if (g.InPerGroup == 1 && g.Groups > 1 && !GeneralConvOnly)
        {
            var dw = DepthwiseConvJob.Rent();
            _pool.Run(dw, dw.Prepare(g, x, w, bias, y));
            dw.Clear();
            return;
        }
        if (WinogradConvJob.Suits(g) && !GeneralConvOnly)
        {
            var wino = WinogradConvJob.Rent();
            _pool.Run(wino, wino.Prepare(_pool, g, x, w, bias, y, Simd));
            wino.Clear();
            return;
        }
        var job = ConvForwardJob.Rent();
        int tasks = job.Prepare(g, x, w, bias, y, Simd, Threads, allowFlat: !GeneralConvOnly);
        for (int s = 0; s < job.Slices; s++)
            job.RunSlice(_pool, s, tasks);
        job.Clear();
    }

    /// <summary>
    /// The conv with the epilogue applied in the kernels as each output block is finished (no extra pass over y). A 3×3
    /// conv takes Winograd also where only its transposed layout pays (<see cref="WinogradConvJob.SuitsFused"/>); the plain
    /// forward keeps its own choice, so training numerics do not depend on this op.
    /// </summary>
    public void Conv2dForwardFused(in Conv2dGeometry g, in StridedView x, in StridedView w, in ConvEpilogue epilogue, in StridedView y)
    {
        ConvCheck.ForwardFused(this, g, x, w, epilogue, y);
        if (g.Batch == 0) return;
        float* yp = P(y);
        var e = new FusedEpilogue(yp, P(epilogue.Scale), P(epilogue.Shift), P(epilogue.Residual), epilogue.Relu);
        if (g.InPerGroup == 1 && g.Groups > 1 && !GeneralConvOnly)
        {
            // Depthwise: the plain kernel, then the epilogue plane by plane (no network here depends on its speed).
            Conv2dForward(g, P(x), P(w), null, yp);
            int planes = g.OutHeight * g.OutWidth;
            for (long n = 0; n < g.Batch; n++)
                for (int o = 0; o < g.OutChannels; o++) e.Row(yp + (n * g.OutChannels + o) * planes, o, planes);
            return;
        }
        if (!GeneralConvOnly && WinogradConvJob.SuitsFused(g, out bool transposed))
        {
            var wino = WinogradConvJob.Rent();
            _pool.Run(wino, wino.Prepare(_pool, g, P(x), P(w), null, yp, Simd, e, transposed));
            wino.Clear();
            return;
        }
        var job = ConvForwardJob.Rent();
        int tasks = job.Prepare(g, P(x), P(w), null, yp, Simd, Threads, allowFlat: !GeneralConvOnly, e, allowStream: !GeneralConvOnly);
        if (job.Streams) job.RunStreamed(_pool);
        else
            for (int s = 0; s < job.Slices; s++)
                job.RunSlice(_pool, s, tasks);
        job.Clear();
    }

    public void Conv2dBackwardData(in Conv2dGeometry g, in StridedView dy, in StridedView w, in StridedView dx)
    {
        ConvCheck.BackwardData(this, g, dy, w, dx);
        if (g.Batch == 0) return;
        if (!GeneralConvOnly && TransposedAsForward(g, out var t))
        {
            // Stride 1: dx = conv(dy, W flipped in space with in/out channels swapped), padded by reach − pad per side.
            int og = g.OutPerGroup, cg = g.InPerGroup, khw = g.KernelH * g.KernelW;
            float* src = P(w);
            float* flipped = (_flippedWeights ??= new NativeBuffer()).Get((long)g.OutChannels * g.PatchSize);
            for (int grp = 0; grp < g.Groups; grp++)
                for (int co = 0; co < og; co++)
                    for (int ci = 0; ci < cg; ci++)
                    {
                        float* s = src + (((long)grp * og + co) * cg + ci) * khw;
                        float* d = flipped + (((long)grp * cg + ci) * og + co) * khw;
                        for (int q = 0; q < khw; q++) d[q] = s[khw - 1 - q];
                    }
            Conv2dForward(t, P(dy), flipped, null, P(dx));
            return;
        }
        var job = ConvBackwardDataJob.Rent();
        _pool.Run(job, job.Prepare(g, P(dy), P(w), P(dx), Simd, Threads));
        job.Clear();
    }

    /// <summary>The stride-1 conv whose forward is the backward-data pass of <paramref name="g"/>, when padding allows.</summary>
    static bool TransposedAsForward(in Conv2dGeometry g, out Conv2dGeometry t)
    {
        int reachH = g.DilationH * (g.KernelH - 1), reachW = g.DilationW * (g.KernelW - 1);
        t = new Conv2dGeometry(g.Batch, g.OutChannels, g.OutHeight, g.OutWidth, g.InChannels, g.KernelH, g.KernelW, 1, 1,
            reachH - g.PadTop, reachH - g.PadBottom, reachW - g.PadLeft, reachW - g.PadRight, g.DilationH, g.DilationW, g.Groups);
        return g.StrideH == 1 && g.StrideW == 1 && t.PadTop >= 0 && t.PadBottom >= 0 && t.PadLeft >= 0 && t.PadRight >= 0;
    }

    public void Conv2dBackwardWeight(in Conv2dGeometry g, in StridedView x, in StridedView dy, in StridedView dw, StridedView? db)
    {
        ConvCheck.BackwardWeight(this, g, x, dy, dw, db);
        if (g.Batch == 0) return;
        if (WinogradConvJob.Suits(g) && !GeneralConvOnly)
        {
            var wino = WinogradWeightGradJob.Rent();
            wino.Prepare(g, P(x), P(dy), P(dw), Simd);
            for (int n = 0; n < g.Batch; n++)
                for (int chunk = 0; chunk < wino.ChunksPerImage; chunk++)
                {
                    wino.SetChunk(n, chunk);
                    _pool.Run(wino, wino.TransformTasks);
                    wino.BeginGemms();
                    _pool.Run(wino, 16);
                }
            wino.Finish();
            wino.Clear();
        }
        else
        {
            var job = ConvBackwardWeightJob.Rent();
            _pool.Run(job, job.Prepare(g, P(x), P(dy), P(dw), Simd, Threads));
            job.Clear();
        }
        if (db is not { } bias) return;
        float* b = P(bias), d = P(dy);
        int positions = g.OutHeight * g.OutWidth;
        for (int n = 0; n < g.Batch; n++)
            for (int o = 0; o < g.OutChannels; o++)
                b[o] += System.Numerics.Tensors.TensorPrimitives.Sum(new ReadOnlySpan<float>(d + ((long)n * g.OutChannels + o) * positions, positions));
    }

    public void Pool2dForward(in Pool2dGeometry g, in StridedView x, in StridedView y, StridedView? indices)
    {
        ConvCheck.PoolForward(this, g, x, y, indices);
        var job = PoolJob.Rent();
        _pool.Run(job, job.Prepare(g, P(x), P(y), P(indices), backward: false));
        job.Clear();
    }

    public void Pool2dBackward(in Pool2dGeometry g, in StridedView dy, StridedView? indices, in StridedView dx)
    {
        ConvCheck.PoolBackward(this, g, dy, indices, dx);
        var job = PoolJob.Rent();
        _pool.Run(job, job.Prepare(g, P(dy), P(dx), P(indices), backward: true));
        job.Clear();
    }
}
