using System.Numerics.Tensors;

namespace NativeASD.Kernels.Cpu;

/// <summary>
/// Walks the rows of col(x) (one per patch entry ci·kh·kw + ky·kw + kx) over a range of output positions, as
/// contiguous segments of one output row each: the shared index arithmetic of im2col and col2im.
/// </summary>
internal static unsafe class Im2Col
{
    /// <summary>
    /// For patch entries [p0, p0+rows) and output positions [j0, j0+count): copies x into cols (mode gather) or adds
    /// cols into x (scatter). cols is row-major [rows, count]; x is one group's [C/g, H, W].
    /// </summary>
    public static void Run(in Conv2dGeometry g, float* x, float* cols, int p0, int rows, int j0, int count, bool scatter)
    {
        int H = g.Height, W = g.Width, wo = g.OutWidth, sw = g.StrideW, khw = g.KernelH * g.KernelW;
        for (int r = 0; r < rows; r++)
        {
            int p = p0 + r, ci = p / khw, ky = p % khw / g.KernelW, kx = p % g.KernelW;
            float* plane = x + (long)ci * H * W;
            float* col = cols + (long)r * count;
            int shiftX = kx * g.DilationW - g.PadLeft;
            var (lo, hi) = DepthwiseConvJob.InsideRange(shiftX, sw, W, wo);
            for (int j = j0; j < j0 + count;)
            {
                int oy = j / wo, ox = j % wo, end = Math.Min(wo, ox + (j0 + count - j)); // this output row: [ox, end)
                float* c = col + (j - j0);
                int iy = oy * g.StrideH + ky * g.DilationH - g.PadTop;
                int a = Math.Max(ox, lo), b = Math.Min(end, hi); // columns inside the image
                if ((uint)iy >= (uint)H || a >= b)
                {
                    if (!scatter) new Span<float>(c, end - ox).Clear();
                }
                else
                {
                    float* xr = plane + (long)iy * W;
                    if (!scatter)
                    {
                        new Span<float>(c, a - ox).Clear();
                        new Span<float>(c + (b - ox), end - b).Clear();
                    }
                    float* cc = c + (a - ox);
                    if (sw == 1)
                    {
                        var xs = new Span<float>(xr + a + shiftX, b - a);
                        var cs = new Span<float>(cc, b - a);
                        if (scatter) TensorPrimitives.Add(xs, cs, xs);
                        else xs.CopyTo(cs);
                    }
                    else if (scatter)
                        for (int q = a; q < b; q++) xr[q * sw + shiftX] += cc[q - a];
                    else
                        for (int q = a; q < b; q++) cc[q - a] = xr[q * sw + shiftX];
                }
                j += end - ox;
            }
        }
    }
}

/// <summary>
/// dx of a convolution (any stride) as GEMM + col2im: per image, group and block of input channels, for chunks of
/// output positions, dcol[rows, chunk] = Wᵀ[rows, O/g] · dy[O/g, chunk] (the block's patch rows only), then col2im
/// adds dcol into the block's dx planes. Tasks own disjoint dx channels, and each element's additions happen in a
/// fixed order (chunk, then kernel tap), so results do not depend on the thread count.
/// </summary>
internal sealed unsafe class ConvBackwardDataJob : ParallelJob
{
    /// <summary>Output positions per col2im chunk (fixed: it sets the order of the additions).</summary>
    const int Chunk = 512;

    [ThreadStatic] static ConvBackwardDataJob? _cached;
    public static ConvBackwardDataJob Rent() => _cached ??= new ConvBackwardDataJob();

    Conv2dGeometry _g;
    float* _dy, _w, _dx;
    SimdLevel _level;
    int _channelsPerTask, _blocks;

    public int Prepare(in Conv2dGeometry g, float* dy, float* w, float* dx, SimdLevel level, int threads)
    {
        _g = g; _dy = dy; _w = w; _dx = dx; _level = level;
        long images = (long)g.Batch * g.Groups;
        int wanted = (int)Math.Clamp((4L * threads + images - 1) / images, 1, g.InPerGroup);
        _channelsPerTask = (g.InPerGroup + wanted - 1) / wanted;
        _blocks = (g.InPerGroup + _channelsPerTask - 1) / _channelsPerTask;
        return checked((int)(images * _blocks));
    }

    public void Clear() { _dy = _w = _dx = null; }

    public override void Execute(int task)
    {
        ref readonly var g = ref _g;
        int block = task % _blocks, image = task / _blocks, n = image / g.Groups, grp = image % g.Groups;
        int c0 = block * _channelsPerTask, channels = Math.Min(_channelsPerTask, g.InPerGroup - c0);
        int khw = g.KernelH * g.KernelW, k = g.PatchSize, og = g.OutPerGroup, rows = channels * khw;
        int positions = g.OutHeight * g.OutWidth;
        long plane = (long)g.Height * g.Width;
        float* dx = _dx + ((long)n * g.InChannels + (long)grp * g.InPerGroup) * plane; // the group's dx
        new Span<float>(dx + c0 * plane, checked((int)(channels * plane))).Clear();
        float* dy = _dy + ((long)n * g.OutChannels + (long)grp * og) * positions;
        float* w = _w + (long)grp * og * k + c0 * khw;
        float* cols = ConvScratch.Columns.Get((long)rows * Chunk);
        for (int j0 = 0; j0 < positions; j0 += Chunk)
        {
            int count = Math.Min(Chunk, positions - j0);
            // dcol[r, j] = Σ_o W[o, c0·khw + r] · dy[o, j0 + j]
            var shape = new GemmArgs(rows, count, og, 1f, null!, 0, k, true, null!, 0, positions, false, 0f, null!, 0, count);
            CpuGemm.RunOnThisThread(shape, w, dy + j0, cols, _level);
            Im2Col.Run(g, dx, cols, c0 * khw, rows, j0, count, scatter: true);
        }
    }
}

/// <summary>
/// dW += dy · col(x)ᵀ per group: tasks own blocks of patch entries (columns of dW, disjoint writes); for each image
/// and chunk of output positions a task builds its rows of col(x) and accumulates a GEMM with K = the chunk. The
/// order of the additions (image, chunk) is fixed, so results do not depend on the thread count.
/// </summary>
internal sealed unsafe class ConvBackwardWeightJob : ParallelJob
{
    const int Chunk = 512;

    [ThreadStatic] static ConvBackwardWeightJob? _cached;
    public static ConvBackwardWeightJob Rent() => _cached ??= new ConvBackwardWeightJob();

    Conv2dGeometry _g;
    float* _x, _dy, _dw;
    SimdLevel _level;
    int _entriesPerTask, _blocks;

    public int Prepare(in Conv2dGeometry g, float* x, float* dy, float* dw, SimdLevel level, int threads)
    {
        _g = g; _x = x; _dy = dy; _dw = dw; _level = level;
        int k = g.PatchSize;
        int wanted = Math.Clamp((4 * threads + g.Groups - 1) / g.Groups, 1, Math.Max(1, k / 16));
        _entriesPerTask = (k + wanted - 1) / wanted;
        _blocks = (k + _entriesPerTask - 1) / _entriesPerTask;
        return checked(g.Groups * _blocks);
    }

    public void Clear() { _x = _dy = _dw = null; }

    public override void Execute(int task)
    {
        ref readonly var g = ref _g;
        int grp = task / _blocks, block = task % _blocks;
        int k = g.PatchSize, og = g.OutPerGroup;
        int p0 = block * _entriesPerTask, rows = Math.Min(_entriesPerTask, k - p0);
        int positions = g.OutHeight * g.OutWidth;
        long plane = (long)g.Height * g.Width;
        float* cols = ConvScratch.Columns.Get((long)rows * Chunk);
        float* dw = _dw + (long)grp * og * k + p0;
        for (int n = 0; n < g.Batch; n++)
        {
            float* x = _x + ((long)n * g.InChannels + (long)grp * g.InPerGroup) * plane;
            float* dy = _dy + ((long)n * g.OutChannels + (long)grp * og) * positions;
            for (int j0 = 0; j0 < positions; j0 += Chunk)
            {
                int count = Math.Min(Chunk, positions - j0);
                Im2Col.Run(g, x, cols, p0, rows, j0, count, scatter: false);
                // dW[o, p0 + r] += Σ_j dy[o, j0 + j] · cols[r, j]
                var shape = new GemmArgs(og, rows, count, 1f, null!, 0, positions, false, null!, 0, count, true, 1f, null!, 0, k);
                CpuGemm.RunOnThisThread(shape, dy + j0, cols, dw, _level);
            }
        }
    }
}
