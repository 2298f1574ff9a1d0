using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeASD.Kernels.Cpu;

/// <summary>
/// Convolution forward as an implicit GEMM: per image and group, Y[O/g, Ho·Wo] = W[O/g, C/g·kh·kw] · col(x), where the
/// columns of col(x) are never materialised. The weights are packed into the GEMM's MR-row panels, a slice of output
/// channels at a time (<see cref="Slices"/>; one slice unless the packed weights would pass <see cref="PackedBudget"/>,
/// so a 2048→2048 3×3 conv does not hold a 150 MB packed copy of its weights); per slice, each task owns a strip of output positions and, per K block, packs one NR-column B panel at a time straight from x
/// (for stride 1 a panel row is two vector loads of one input row; padding becomes zeros) and runs the GEMM
/// micro-kernel down the weight panels while the panel is in L1. 1×1 stride-1 unpadded convs read x as a plain matrix.
/// The K blocking depends only on the patch size and the SIMD level, so results do not depend on the thread count.
/// <para>
/// Eval-only streamed-weights mode (<see cref="Streams"/>): for a small output map and large weights (PANNs' 2048→2048
/// 3×3 conv on 31×2 positions) packing the weights costs as much as the GEMM, since every weight is used only a
/// few dozen times. Instead the whole im2col of one image (K × positions, a few MB) is packed into NR-column panels and
/// the weights are read in place, row-major: a micro-kernel broadcasts from MR weight rows while vectorising over the
/// packed positions, the threads split the output channels, and per K block the weight rows stream once from memory
/// while the packed input block stays in L2. Each output is the same chain of FMAs as on the packed path (same K blocks,
/// same order within a block), so results are bit-identical to it; only the fused (inference) op uses the mode, so the
/// training kernels are untouched.
/// </para>
/// </summary>
internal sealed unsafe class ConvForwardJob : ParallelJob
{
    /// <summary>Target output positions per task: the C strip (O/g × this) stays in L2.</summary>
    const int StripColumns = 256;

    /// <summary>Most floats of packed weights per slice (8 MB): the packed copy stays small next to the weights themselves.</summary>
    const long PackedBudget = 2L << 20;

    [ThreadStatic] static ConvForwardJob? _cached;
    public static ConvForwardJob Rent() => _cached ??= new ConvForwardJob();

    readonly NativeBuffer _packedWeights = new();
    int[] _tapOffset = [], _tapDy = [], _tapDx = [];

    Conv2dGeometry _g;
    float* _x, _y, _bias, _w, _weights;
    SimdLevel _level;
    GemmBlocking _blk;
    int _kc, _mPad, _positions, _stripColumns, _strips, _sliceRows, _m0, _mc;
    bool _flat, _packing;
    FusedEpilogue _epilogue;

    /// <summary>Streamed-weights mode: most output positions per image (the packed im2col is K × positions floats: 4.7 MB
    /// for PANNs' 512-channel 3×3 convs on 62×4 and 2048-channel ones on 31×2), and fewest weights per group, below which
    /// packing them costs little next to the GEMM (measured: ResNet38's 512→512 3×3 on 62×4 is no slower streamed, the
    /// 2048→2048 3×3 on 31×2 1.5× faster).</summary>
    const int StreamMaxPositions = 256;
    const long StreamMinWeights = 1L << 20;

    /// <summary>Streamed-weights mode: output-channel tasks per thread (balance on a shared machine).</summary>
    const int StreamTasksPerThread = 4;

    readonly NativeBuffer _columns = new();
    int _nPad, _panels, _image, _rowsPerTask;
    bool _stream, _packingColumns;

    /// <summary>Packing tasks per group and slice.</summary>
    const int PackParts = 8;

    /// <summary>Largest kernel (kh·kw) whose wrapping panels are packed through a per-tap offset table.</summary>
    const int MaxTableTaps = 25;

    /// <summary>Sets up one call; an active <paramref name="epilogue"/> (no bias then) is applied to each strip as it is finished.</summary>
    public int Prepare(in Conv2dGeometry g, float* x, float* w, float* bias, float* y, SimdLevel level, int threads, bool allowFlat = true,
        FusedEpilogue epilogue = default, bool allowStream = false)
    {
        _g = g; _x = x; _y = y; _bias = bias; _level = level; _weights = w; _epilogue = epilogue;
        _blk = GemmBlocking.For(level);
        int k = g.PatchSize, og = g.OutPerGroup, mr = _blk.MR;
        int kBlocks = (k + _blk.KC - 1) / _blk.KC;
        _kc = (k + kBlocks - 1) / kBlocks;
        _positions = g.OutHeight * g.OutWidth;
        _flat = allowFlat && g.KernelH == 1 && g.KernelW == 1 && g.StrideH == 1 && g.StrideW == 1
                && g.PadTop == 0 && g.PadBottom == 0 && g.PadLeft == 0 && g.PadRight == 0;
        int allRows = (og + mr - 1) / mr * mr;
        _sliceRows = (int)Math.Clamp(PackedBudget / ((long)g.Groups * k) / mr * mr, mr, allRows);

        // Patch index p = (ci, ky, kx) → channel offset and the tap's displacement from the window's corner.
        if (_tapOffset.Length < k) { _tapOffset = new int[k]; _tapDy = new int[k]; _tapDx = new int[k]; }
        int khw = g.KernelH * g.KernelW;
        for (int p = 0; p < k; p++)
        {
            int ci = p / khw, ky = p % khw / g.KernelW, kx = p % g.KernelW;
            _tapOffset[p] = ci * g.Height * g.Width;
            _tapDy[p] = ky * g.DilationH - g.PadTop;
            _tapDx[p] = kx * g.DilationW - g.PadLeft;
        }

        int nr = _blk.NR;
        long images = (long)g.Batch * g.Groups;
        _stream = allowStream && _positions <= StreamMaxPositions && (long)og * k >= StreamMinWeights;
        if (_stream)
        {
            _nPad = (_positions + nr - 1) / nr * nr;
            _panels = _nPad / nr;
            int rowBlocks = (og + StreamRows - 1) / StreamRows, tasks = Math.Min(rowBlocks, threads * StreamTasksPerThread);
            _rowsPerTask = (rowBlocks + tasks - 1) / tasks * StreamRows;
            _m0 = 0;
            _mc = og;
        }
        int wanted = (int)Math.Clamp((images * _positions + (long)threads - 1) / threads, nr, StripColumns);
        _stripColumns = (wanted + nr - 1) / nr * nr;
        _strips = (_positions + _stripColumns - 1) / _stripColumns;
        return checked((int)(images * _strips));
    }

    /// <summary>Set up in the streamed-weights mode: run <see cref="RunStreamed"/> instead of the slices.</summary>
    public bool Streams => _stream;

    /// <summary>Weight rows per micro-kernel call in the streamed-weights mode (one register block of any SIMD level).</summary>
    const int StreamRows = 6;

    /// <summary>Streamed-weights mode, image by image: its im2col packed on the pool, then the output-channel tasks.</summary>
    public void RunStreamed(WorkerPool pool)
    {
        _columns.Get((long)_g.PatchSize * _nPad);
        int kBlocks = (_g.PatchSize + _kc - 1) / _kc, images = _g.Batch * _g.Groups;
        for (_image = 0; _image < images; _image++)
        {
            _packingColumns = true;
            pool.Run(this, kBlocks * _panels);
            _packingColumns = false;
            pool.Run(this, (_mc + _rowsPerTask - 1) / _rowsPerTask);
        }
    }

    /// <summary>Output-channel slices: run the tasks once per slice (<see cref="RunSlice"/>).</summary>
    public int Slices => (_g.OutPerGroup + _sliceRows - 1) / _sliceRows;

    /// <summary>Output-channel slice s: its weights packed, then its <paramref name="tasks"/> strips, both on the pool.</summary>
    public void RunSlice(WorkerPool pool, int s, int tasks)
    {
        pool.Run(this, PackSlice(s));
        _packing = false;
        pool.Run(this, tasks);
    }

    /// <summary>
    /// Sets up packing the weights of output channels [s·rows, (s+1)·rows) of every group in MR-row panels (group g's K block
    /// at p0 starts at (g·K + p0)·mPad) and returns the packing tasks. The packing is a copy spread over the threads (a
    /// 2048→2048 3×3 conv packs 150 MB per forward); splitting the rows does not change any output's sum, so results do
    /// not depend on the slicing.
    /// </summary>
    int PackSlice(int s)
    {
        int k = _g.PatchSize, og = _g.OutPerGroup;
        _m0 = s * _sliceRows;
        _mc = Math.Min(_sliceRows, og - _m0);
        _mPad = (_mc + _blk.MR - 1) / _blk.MR * _blk.MR;
        _w = _packedWeights.Get((long)_g.Groups * k * _mPad);
        _packing = true;
        return _g.Groups * PackParts;
    }

    /// <summary>Packs one of <see cref="PackParts"/> row ranges (whole MR panels) of one group, every K block.</summary>
    void Pack(int task)
    {
        int k = _g.PatchSize, og = _g.OutPerGroup, mr = _blk.MR, grp = task / PackParts, part = task % PackParts;
        int panels = _mPad / mr, r0 = (int)((long)panels * part / PackParts) * mr, r1 = Math.Min(_mc, (int)((long)panels * (part + 1) / PackParts) * mr);
        if (r1 <= r0) return;
        for (int p0 = 0; p0 < k; p0 += _kc)
        {
            int kc = Math.Min(_kc, k - p0);
            GemmPacking.PackA(_w + ((long)grp * k + p0) * _mPad + (long)r0 * kc, _weights + ((long)grp * og + _m0 + r0) * k + p0, k, false, r1 - r0, kc, mr);
        }
    }

    public void Clear() { _x = _y = _bias = _weights = null; _epilogue = default; _stream = _packingColumns = false; }

    public override void Execute(int task)
    {
        if (_packing)
        {
            Pack(task);
            return;
        }
        SimdWidth.Run(_level, new Task(this, task));
    }

    readonly struct Task(ConvForwardJob job, int task) : IWidthGeneric
    {
        public void Run<T, V>() where T : struct, IGemmVector<V> where V : struct => job.Run<T, V>(task);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void Run<T, V>(int task) where T : struct, IGemmVector<V> where V : struct
    {
        if (!_stream) Strip<T, V>(task);
        else if (_packingColumns) PackColumns<T, V>(task);
        else StreamRowsTask<T, V>(task);
    }

    /// <summary>Streamed-weights mode: panel (task % panels) of K block (task / panels) of the current image's im2col,
    /// at (p0·nPad + panel·NR·kc) in the columns buffer.</summary>
    void PackColumns<T, V>(int task) where T : struct, IGemmVector<V> where V : struct
    {
        ref readonly var g = ref _g;
        int nr = _blk.NR, q = task % _panels, p0 = task / _panels * _kc, kc = Math.Min(_kc, g.PatchSize - p0);
        int n = _image / g.Groups, grp = _image % g.Groups, j = q * nr;
        float* x = _x + ((long)n * g.InChannels + (long)grp * g.InPerGroup) * g.Height * g.Width;
        PackPanel<T, V>(_columns.Get(0) + (long)p0 * _nPad + (long)q * nr * kc, x, j, Math.Min(nr, _positions - j), p0, kc);
    }

    /// <summary>
    /// Streamed-weights mode: output channels [task·rowsPerTask, …) of the current image. K blocks outermost, so the
    /// packed input block (kc × nPad) stays in L2 while the weight rows pass once; per StreamRows rows the micro-kernel
    /// runs across every panel with those rows' kc weights still in L1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void StreamRowsTask<T, V>(int task) where T : struct, IGemmVector<V> where V : struct
    {
        ref readonly var g = ref _g;
        int n = _image / g.Groups, grp = _image % g.Groups, k = g.PatchSize, nr = _blk.NR, og = g.OutPerGroup;
        int r0 = task * _rowsPerTask, r1 = Math.Min(og, r0 + _rowsPerTask);
        float* weights = _weights + (long)grp * og * k, columns = _columns.Get(0);
        float* y = _y + ((long)n * g.OutChannels + (long)grp * og) * _positions;
        nint ldc = _positions;
        float* edge = stackalloc float[StreamRows * 32];
        for (int p0 = 0; p0 < k; p0 += _kc)
        {
            int kc = Math.Min(_kc, k - p0);
            float beta = p0 == 0 ? 0f : 1f;
            float* b = columns + (long)p0 * _nPad;
            for (int ir = r0; ir < r1; ir += StreamRows)
            {
                int h = Math.Min(StreamRows, r1 - ir);
                float* a = weights + (long)ir * k + p0;
                for (int q = 0; q < _panels; q++)
                {
                    int width = Math.Min(nr, _positions - q * nr);
                    float* panel = b + (long)q * nr * kc, cTile = y + (long)ir * ldc + q * nr;
                    if (h == StreamRows && width == nr)
                    {
                        GemmMicroKernels.Kernel6x2Rows<T, V>(kc, a, k, h, panel, cTile, ldc, beta);
                        continue;
                    }
                    if (beta != 0f)
                        for (int r = 0; r < h; r++)
                            for (int c = 0; c < width; c++) edge[r * nr + c] = cTile[r * ldc + c];
                    GemmMicroKernels.Kernel6x2Rows<T, V>(kc, a, k, h, panel, edge, nr, beta);
                    for (int r = 0; r < h; r++)
                        for (int c = 0; c < width; c++) cTile[r * ldc + c] = edge[r * nr + c];
                }
            }
        }
        for (int r = r0; r < r1; r++)
        {
            float* row = y + (long)r * ldc;
            if (_epilogue.Active) _epilogue.Row(row, grp * og + r, _positions);
            else if (_bias != null)
                System.Numerics.Tensors.TensorPrimitives.Add(new Span<float>(row, _positions), _bias[grp * og + r], new Span<float>(row, _positions));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Strip<T, V>(int task) where T : struct, IGemmVector<V> where V : struct
    {
        ref readonly var g = ref _g;
        int strip = task % _strips, image = task / _strips;
        int n = image / g.Groups, grp = image % g.Groups;
        int og = _mc, k = g.PatchSize, mr = _blk.MR, nr = _blk.NR;
        int j0 = strip * _stripColumns, cols = Math.Min(_stripColumns, _positions - j0);
        float* x = _x + ((long)n * g.InChannels + (long)grp * g.InPerGroup) * g.Height * g.Width;
        float* y = _y + ((long)n * g.OutChannels + (long)grp * g.OutPerGroup + _m0) * _positions + j0;
        nint ldc = _positions;
        float* panel = ConvScratch.Panel.Get((long)nr * _kc);
        float* edge = stackalloc float[12 * 32];

        for (int p0 = 0; p0 < k; p0 += _kc)
        {
            int kc = Math.Min(_kc, k - p0);
            float beta = p0 == 0 ? 0f : 1f;
            float* a = _w + ((long)grp * k + p0) * _mPad;
            for (int jr = 0; jr < cols; jr += nr)
            {
                int width = Math.Min(nr, cols - jr);
                PackPanel<T, V>(panel, x, j0 + jr, width, p0, kc);
                float* c = y + jr;
                for (int ir = 0; ir < og; ir += mr)
                {
                    int h = Math.Min(mr, og - ir);
                    float* aPanel = a + (nint)ir * kc, cTile = c + ir * ldc;
                    if (h == mr && width == nr)
                    {
                        Kernel<T, V>(mr, kc, aPanel, panel, cTile, ldc, beta);
                        continue;
                    }
                    if (beta != 0f)
                        for (int r = 0; r < h; r++)
                            for (int q = 0; q < width; q++) edge[r * nr + q] = cTile[r * ldc + q];
                    Kernel<T, V>(mr, kc, aPanel, panel, edge, nr, beta);
                    for (int r = 0; r < h; r++)
                        for (int q = 0; q < width; q++) cTile[r * ldc + q] = edge[r * nr + q];
                }
            }
        }
        if (_epilogue.Active)
            for (int r = 0; r < og; r++) _epilogue.Row(y + r * ldc, grp * g.OutPerGroup + _m0 + r, cols);
        else if (_bias != null)
            for (int r = 0; r < og; r++)
            {
                var row = new Span<float>(y + r * ldc, cols);
                System.Numerics.Tensors.TensorPrimitives.Add(row, _bias[grp * g.OutPerGroup + _m0 + r], row);
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Kernel<T, V>(int mr, int kc, float* a, float* b, float* c, nint ldc, float beta)
        where T : struct, IGemmVector<V> where V : struct
    {
        if (mr == 12) GemmMicroKernels.Kernel12x2<T, V>(kc, a, b, c, ldc, 1f, beta);
        else GemmMicroKernels.Kernel6x2<T, V>(kc, a, b, c, ldc, 1f, beta);
    }

    /// <summary>
    /// B panel rows p0..p0+kc for output positions j..j+width: dst[p·nr + q] = x[ci, iy, ix] of patch entry p at
    /// position j+q (zero outside the input), columns past <paramref name="width"/> zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void PackPanel<T, V>(float* dst, float* x, int j, int width, int p0, int kc) where T : struct, IGemmVector<V> where V : struct
    {
        ref readonly var g = ref _g;
        int w = T.Width, nr = 2 * w, H = g.Height, W = g.Width;
        if (_flat)
        {
            long plane = (long)H * W;
            float* s = x + p0 * plane + j;
            for (int p = 0; p < kc; p++, s += plane, dst += nr)
            {
                if (width == nr) { T.Store(dst, T.Load(s)); T.Store(dst + w, T.Load(s + w)); continue; }
                int q = 0;
                for (; q < width; q++) dst[q] = s[q];
                for (; q < nr; q++) dst[q] = 0f;
            }
            return;
        }
        int wo = g.OutWidth, sh = g.StrideH, sw = g.StrideW;
        int oy = j / wo, ox = j % wo;
        if (ox + width <= wo)
        {
            // One output row: one input row per patch entry.
            int iy0 = oy * sh, ix0 = ox * sw;
            for (int p = p0; p < p0 + kc; p++, dst += nr)
            {
                int iy = iy0 + _tapDy[p], ix = ix0 + _tapDx[p];
                if ((uint)iy >= (uint)H) { T.Store(dst, T.Zero); T.Store(dst + w, T.Zero); continue; }
                float* row = x + _tapOffset[p] + (long)iy * W;
                if (sw == 1 && width == nr && ix >= 0 && ix + nr <= W)
                {
                    T.Store(dst, T.Load(row + ix));
                    T.Store(dst + w, T.Load(row + ix + w));
                    continue;
                }
                int q = 0;
                for (; q < width; q++, ix += sw) dst[q] = (uint)ix < (uint)W ? row[ix] : 0f;
                for (; q < nr; q++) dst[q] = 0f;
            }
            return;
        }
        // The panel wraps to the next output row(s): locate each column separately.
        int* iyq = stackalloc int[32];
        int* ixq = stackalloc int[32];
        for (int q = 0; q < width; q++)
        {
            int jj = j + q;
            iyq[q] = jj / wo * sh;
            ixq[q] = jj % wo * sw;
        }
        int khw = g.KernelH * g.KernelW;
        if (khw <= MaxTableTaps && Avx2.IsSupported && w == 8)
        {
            // Narrow maps (PANNs' last stages: 4 or 2 columns) wrap in every panel: where each column reads depends on the
            // tap (ky, kx) only, not the channel, so a table of in-plane offsets per tap (−1: padding) turns the rows into
            // two masked AVX2 gathers each.
            int* table = stackalloc int[MaxTableTaps * 16];
            for (int t = 0; t < khw; t++)
                for (int q = 0; q < 16; q++)
                {
                    int iy = q < width ? iyq[q] + _tapDy[t] : -1, ix = q < width ? ixq[q] + _tapDx[t] : -1;
                    table[t * 16 + q] = (uint)iy < (uint)H && (uint)ix < (uint)W ? iy * W + ix : -1;
                }
            for (int p = p0; p < p0 + kc; p++, dst += nr)
            {
                float* plane = x + _tapOffset[p];
                int* row = table + p % khw * 16;
                var lo = Vector256.Load(row);
                var hi = Vector256.Load(row + 8);
                var mLo = Vector256.GreaterThanOrEqual(lo, Vector256<int>.Zero).AsSingle();
                var mHi = Vector256.GreaterThanOrEqual(hi, Vector256<int>.Zero).AsSingle();
                Avx2.GatherMaskVector256(Vector256<float>.Zero, plane, lo, mLo, 4).Store(dst);
                Avx2.GatherMaskVector256(Vector256<float>.Zero, plane, hi, mHi, 4).Store(dst + 8);
            }
            return;
        }
        for (int p = p0; p < p0 + kc; p++, dst += nr)
        {
            float* plane = x + _tapOffset[p];
            int dy = _tapDy[p], dx = _tapDx[p];
            int q = 0;
            for (; q < width; q++)
            {
                int iy = iyq[q] + dy, ix = ixq[q] + dx;
                dst[q] = (uint)iy < (uint)H && (uint)ix < (uint)W ? plane[(long)iy * W + ix] : 0f;
            }
            for (; q < nr; q++) dst[q] = 0f;
        }
    }
}
