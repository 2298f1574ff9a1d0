using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NativeASD.Kernels.Cpu;

/// <summary>
/// CPU GEMM entry point: a BLIS-style packed GEMM. C is cut into tiles (one task each, spread over the worker pool);
/// a task walks K in blocks of KC, packs its block of op(A) (rows × KC) and op(B) (KC × cols) into per-thread
/// aligned scratch, and runs a register-blocked micro-kernel over MR×NR sub-tiles (see <see cref="GemmMicroKernels"/>).
/// The K blocking depends only on K and the SIMD level, never on the thread count, and every C element is computed
/// by the same instruction sequence wherever its tile falls: results are bit-identical for any number of threads.
/// </summary>
internal static unsafe class CpuGemm
{
    public static void Run(in GemmArgs g, WorkerPool pool, SimdLevel level)
    {
        if (g.M == 0 || g.N == 0) return;
        float* a = ((CpuStorage)g.A).Pointer + g.OffsetA;
        float* b = ((CpuStorage)g.B).Pointer + g.OffsetB;
        float* c = ((CpuStorage)g.C).Pointer + g.OffsetC;
        if (g.K == 0 || g.Alpha == 0f)
        {
            ScaleC(g, c); // BLAS semantics: C = beta·C, A and B are not read
            return;
        }
        var job = GemmJob.Rent();
        int tasks = job.Prepare(g, a, b, c, level, pool.Threads);
        pool.Run(job, tasks);
        job.Clear();
    }

    /// <summary>
    /// A GEMM on raw pointers run entirely on the calling thread, for kernels that call GEMM from inside their own
    /// parallel tasks (convolutions). Only the sizes, strides, flags and scalars of <paramref name="shape"/> are used.
    /// </summary>
    public static void RunOnThisThread(in GemmArgs shape, float* a, float* b, float* c, SimdLevel level)
    {
        if (shape.M == 0 || shape.N == 0) return;
        if (shape.K == 0 || shape.Alpha == 0f)
        {
            ScaleC(shape, c);
            return;
        }
        var job = GemmJob.Rent();
        int tasks = job.Prepare(shape, a, b, c, level, threads: 1);
        for (int t = 0; t < tasks; t++) job.Execute(t);
        job.Clear();
    }

    static void ScaleC(in GemmArgs g, float* c)
    {
        if (g.Beta == 1f) return;
        for (int batch = 0; batch < g.Batch; batch++)
            for (int i = 0; i < g.M; i++)
            {
                var row = new Span<float>(c + batch * g.StrideC + i * (long)g.Ldc, g.N);
                if (g.Beta == 0f) row.Clear();
                else System.Numerics.Tensors.TensorPrimitives.Multiply(row, g.Beta, row);
            }
    }
}

/// <summary>Register and cache blocking for one SIMD level.</summary>
/// <remarks>
/// The NR-wide B micro-panel (KC·NR floats) stays in L1 while MR-row A panels stream from the MC×KC A block in L2;
/// the packed B block (KC × up to NC columns) lives in L3. Vector256/128 were tuned on the 2-vCPU AVX2 machine this
/// was written on (MC 72–288 and KC 192–512 all within ±3 %; KC below 192 loses). Vector512 (12×32) could not be
/// measured there (no AVX-512): KC is 192 so its 24 KB B micro-panel leaves room in a 32–48 KB L1, MC 288 suits
/// 1–2 MB L2s (Zen 4/5, recent Intel).
/// </remarks>
internal readonly record struct GemmBlocking(int MR, int NR, int MC, int KC, int NC)
{
    public static GemmBlocking For(SimdLevel level) => level switch
    {
        SimdLevel.Vector512 => new(12, 32, 288, 192, 2048),
        SimdLevel.Vector256 => new(6, 16, 144, 256, 2048),
        SimdLevel.Vector128 => new(6, 8, 144, 256, 2048),
        _ => new(6, 2, 72, 256, 512),
    };
}

/// <summary>One GEMM call cut into C tiles; reused per calling thread so a call allocates nothing.</summary>
internal sealed unsafe class GemmJob : ParallelJob
{
    /// <summary>Up to this many multiply-adds C is not split for the threads (only by batch and the NC limit).</summary>
    const long SmallWork = 32 * 32 * 32;

    /// <summary>Cost of packing one float, in multiply-adds of the micro-kernel (measured: about 1 cycle per float).</summary>
    const double PackCost = 12;

    [ThreadStatic] static GemmJob? _cached;

    float* _a, _b, _c;
    nint _lda, _ldb, _ldc;
    long _strideA, _strideB, _strideC;
    bool _transA, _transB;
    int _m, _n, _k;
    float _alpha, _beta;
    SimdLevel _level;
    GemmBlocking _blk;
    int _kcBlock;           // K block length (depends on K and the level only)
    int _rowsPerTile, _colsPerTile, _tilesM, _tilesN;

    public static GemmJob Rent() => _cached ??= new GemmJob();

    public int Prepare(in GemmArgs g, float* a, float* b, float* c, SimdLevel level, int threads)
    {
        _a = a; _b = b; _c = c;
        _lda = g.Lda; _ldb = g.Ldb; _ldc = g.Ldc;
        _strideA = g.StrideA; _strideB = g.StrideB; _strideC = g.StrideC;
        _transA = g.TransA; _transB = g.TransB;
        _m = g.M; _n = g.N; _k = g.K;
        _alpha = g.Alpha; _beta = g.Beta;
        _level = level;
        var blk = _blk = GemmBlocking.For(level);

        int kBlocks = (_k + blk.KC - 1) / blk.KC;
        _kcBlock = (_k + kBlocks - 1) / kBlocks; // equal K blocks: no short tail block

        // Tiles: a task packs its B columns once and its A rows once per K block, so A is packed tilesN times and B
        // tilesM times in all. Pick the split with the least (packing + compute) on the slowest thread, with tiles at
        // most NC columns wide (the packed B block lives in per-thread scratch).
        int mPanels = Ceil(_m, blk.MR), nPanels = Ceil(_n, blk.NR);
        int minTilesN = Ceil(nPanels, blk.NC / blk.NR);
        bool single = threads <= 1 || (long)_m * _n * _k <= SmallWork;
        int bestM = 1, bestN = minTilesN;
        if (!single)
        {
            double best = double.MaxValue;
            int maxM = Math.Min(mPanels, 4 * threads), maxN = Math.Min(nPanels, minTilesN + 4 * threads);
            for (int tm = 1; tm <= maxM; tm++)
                for (int tn = minTilesN; tn <= maxN; tn++)
                {
                    double r = Ceil(mPanels, tm) * blk.MR, w = Ceil(nPanels, tn) * blk.NR;
                    long tasks = (long)g.Batch * tm * tn, rounds = (tasks + threads - 1) / threads;
                    double cost = rounds * (r * w + PackCost * (r + w));
                    if (cost < best * 0.999) { best = cost; bestM = tm; bestN = tn; }
                }
        }
        _rowsPerTile = Ceil(mPanels, bestM) * blk.MR; // even out the tiles
        _colsPerTile = Ceil(nPanels, bestN) * blk.NR;
        _tilesM = Ceil(_m, _rowsPerTile); _tilesN = Ceil(_n, _colsPerTile);
        return checked(g.Batch * _tilesM * _tilesN);
    }

    static int Ceil(int x, int y) => (x + y - 1) / y;

    /// <summary>Drops the pointers so a stale job cannot touch released storage.</summary>
    public void Clear() { _a = _b = _c = null; }

    public override void Execute(int task)
    {
        int perBatch = _tilesM * _tilesN;
        int batch = task / perBatch, t = task % perBatch;
        int tm = t / _tilesN, tn = t % _tilesN;
        int i0 = tm * _rowsPerTile, j0 = tn * _colsPerTile;
        int rows = Math.Min(_rowsPerTile, _m - i0), cols = Math.Min(_colsPerTile, _n - j0);
        SimdWidth.Run(_level, new TileTask(this, batch, i0, rows, j0, cols));
    }

    readonly struct TileTask(GemmJob job, int batch, int i0, int rows, int j0, int cols) : IWidthGeneric
    {
        public void Run<T, V>() where T : struct, IGemmVector<V> where V : struct => job.Tile<T, V>(batch, i0, rows, j0, cols);
    }

    /// <summary>
    /// One C tile, BLIS loop order. Per K block: with several MC-row blocks, pack op(B) (kc × cols) once and, per row
    /// block, pack op(A) (mc × kc, L2-sized) and sweep NR-column B micro-panels (kept in L1) over its MR-row A panels.
    /// With a single row block (thin M, e.g. convolutions) B is not reused across row blocks, so each B panel is packed
    /// right before the kernels that use it and is still in L1 when they run (measured 7–11 % faster there).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Tile<T, V>(int batch, int i0, int rows, int j0, int cols) where T : struct, IGemmVector<V> where V : struct
    {
        int mr = _blk.MR, nr = _blk.NR, kcMax = _kcBlock;
        float* a = _a + batch * _strideA, b = _b + batch * _strideB;
        float* c = _c + batch * _strideC + i0 * _ldc + j0;
        nint lda = _lda, ldb = _ldb, ldc = _ldc;
        int mcBlocks = Ceil(rows, _blk.MC), mcMax = Ceil(Ceil(rows, mcBlocks), mr) * mr;
        var scratch = GemmScratch.ForThisThread();
        float* ap = scratch.A((long)mcMax * kcMax);
        float* bp = scratch.B((long)(mcBlocks == 1 ? nr : Ceil(cols, nr) * nr) * kcMax);
        float* edge = stackalloc float[12 * 32];

        for (int p0 = 0; p0 < _k; p0 += kcMax)
        {
            int kc = Math.Min(kcMax, _k - p0);
            float beta = p0 == 0 ? _beta : 1f;
            if (mcBlocks == 1)
            {
                GemmPacking.PackA(ap, _transA ? a + p0 * lda + i0 : a + i0 * lda + p0, lda, _transA, rows, kc, mr);
                for (int jr = 0; jr < cols; jr += nr)
                {
                    int w = Math.Min(nr, cols - jr);
                    GemmPacking.PackBPanel<T, V>(bp, _transB ? b + (j0 + jr) * ldb + p0 : b + p0 * ldb + j0 + jr, ldb, _transB, w, kc,
                        prefetchNext: jr + nr < cols);
                    RowPanels<T, V>(ap, bp, c + jr, rows, w, kc, beta, edge);
                }
                continue;
            }
            GemmPacking.PackB<T, V>(bp, _transB ? b + j0 * ldb + p0 : b + p0 * ldb + j0, ldb, _transB, cols, kc);
            for (int ic = 0; ic < rows; ic += mcMax)
            {
                int mc = Math.Min(mcMax, rows - ic);
                GemmPacking.PackA(ap, _transA ? a + p0 * lda + i0 + ic : a + (i0 + ic) * lda + p0, lda, _transA, mc, kc, mr);
                for (int jr = 0; jr < cols; jr += nr)
                    RowPanels<T, V>(ap, bp + (nint)jr * kc, c + ic * ldc + jr, mc, Math.Min(nr, cols - jr), kc, beta, edge);
            }
        }
    }

    /// <summary>Runs the micro-kernel down one B panel: <paramref name="rows"/> rows of packed A against <paramref name="width"/> columns.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void RowPanels<T, V>(float* ap, float* bPanel, float* c, int rows, int width, int kc, float beta, float* edge)
        where T : struct, IGemmVector<V> where V : struct
    {
        int mr = _blk.MR, nr = _blk.NR;
        nint ldc = _ldc;
        for (int ir = 0; ir < rows; ir += mr)
        {
            int h = Math.Min(mr, rows - ir);
            float* aPanel = ap + (nint)ir * kc;
            float* cTile = c + ir * ldc;
            if (h == mr && width == nr)
            {
                Kernel<T, V>(mr, kc, aPanel, bPanel, cTile, ldc, _alpha, beta);
                continue;
            }
            // Edge tile: run the full kernel on a local tile and copy the valid part (beta = 0 never reads C).
            if (beta != 0f)
                for (int r = 0; r < h; r++)
                    for (int q = 0; q < width; q++) edge[r * nr + q] = cTile[r * ldc + q];
            Kernel<T, V>(mr, kc, aPanel, bPanel, edge, nr, _alpha, beta);
            for (int r = 0; r < h; r++)
                for (int q = 0; q < width; q++) cTile[r * ldc + q] = edge[r * nr + q];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Kernel<T, V>(int mr, int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
        where T : struct, IGemmVector<V> where V : struct
    {
        if (mr == 12) GemmMicroKernels.Kernel12x2<T, V>(kc, a, b, c, ldc, alpha, beta);
        else GemmMicroKernels.Kernel6x2<T, V>(kc, a, b, c, ldc, alpha, beta);
    }
}

/// <summary>Per-thread packing buffers (64-byte aligned native memory), grown on demand and freed with the thread.</summary>
internal sealed unsafe class GemmScratch
{
    [ThreadStatic] static GemmScratch? _current;

    float* _a, _b;
    long _capA, _capB;

    public static GemmScratch ForThisThread() => _current ??= new GemmScratch();

    public float* A(long floats) => Ensure(ref _a, ref _capA, floats);
    public float* B(long floats) => Ensure(ref _b, ref _capB, floats);

    static float* Ensure(ref float* p, ref long cap, long floats)
    {
        if (floats <= cap) return p;
        if (p != null) NativeMemory.AlignedFree(p);
        long grown = Math.Max(floats, cap + cap / 2);
        p = (float*)NativeMemory.AlignedAlloc((nuint)(grown * sizeof(float)), 64);
        cap = grown;
        return p;
    }

    ~GemmScratch()
    {
        if (_a != null) NativeMemory.AlignedFree(_a);
        if (_b != null) NativeMemory.AlignedFree(_b);
    }
}
