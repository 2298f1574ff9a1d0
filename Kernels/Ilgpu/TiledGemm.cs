using ILGPU;

namespace NativeASD.Kernels.Ilgpu;

/// <summary>
/// Shape of one <see cref="TiledGemm"/> instantiation, compile-time constants (ILGPU folds the struct's properties, so
/// shared arrays get fixed sizes and the loops fixed trip counts). A group computes a BM×BN block of C, stepping over K
/// in BK-deep slabs; each of its (BM/8)·(BN/8) threads accumulates an 8×8 block of C in registers (<see cref="Vec8"/>
/// rows: ILGPU keeps struct fields in registers but puts indexed local arrays in local memory, and does not unroll the
/// loops that would make their indices constant, so the thread tile is fixed at 8×8 and written out).
/// Each thread stages at most 8 elements of each operand per slab: BM·BK and BK·BN are 1–8 times the thread count.
/// </summary>
internal interface IGemmConfig
{
    int BM { get; }
    int BN { get; }
    int BK { get; }
}

// Every tunable constant of the tiled kernels is here (the variants below and GemmVariants' choice among them).
// Names: block tile BMxBN and slab depth kBK; threads per group = (BM/8)·(BN/8): 256, 128 or 64 on GPUs, 16 on ILGPU's
// CPU simulator (its cap), which runs the same code with a smaller block.

/// <summary>128×128 block, BK 8, 256 threads (Boehm's kernels 5–6, CUTLASS' SGEMM shape): big GEMMs.</summary>
internal struct Gemm128x128k8 : IGemmConfig { public readonly int BM => 128; public readonly int BN => 128; public readonly int BK => 8; }

/// <summary>128×128 block, BK 16 (half the barriers per FMA, twice the shared memory), 256 threads.</summary>
internal struct Gemm128x128k16 : IGemmConfig { public readonly int BM => 128; public readonly int BN => 128; public readonly int BK => 16; }

/// <summary>128×64 block, BK 8, 128 threads: twice the groups of 128×128 on mid-sized problems.</summary>
internal struct Gemm128x64k8 : IGemmConfig { public readonly int BM => 128; public readonly int BN => 64; public readonly int BK => 8; }

/// <summary>64×128 block, BK 8, 128 threads: 64-row problems (convs with 64 output channels per group) without idle rows.</summary>
internal struct Gemm64x128k8 : IGemmConfig { public readonly int BM => 64; public readonly int BN => 128; public readonly int BK => 8; }

/// <summary>64×64 block, BK 8, 64 threads: problems of a few hundred outputs a side.</summary>
internal struct Gemm64x64k8 : IGemmConfig { public readonly int BM => 64; public readonly int BN => 64; public readonly int BK => 8; }

/// <summary>32×32 block, BK 4, 16 threads: the register-blocked code on ILGPU's CPU simulator (16-thread groups).</summary>
internal struct Gemm32x32k4 : IGemmConfig { public readonly int BM => 32; public readonly int BN => 32; public readonly int BK => 4; }

/// <summary>Eight floats as fields, so that a thread's accumulators and fragments live in registers.</summary>
internal struct Vec8
{
    public float V0, V1, V2, V3, V4, V5, V6, V7;
}

/// <summary>
/// What the tiled kernel multiplies: element reads of op(A) [M, K] and op(B) [K, N] per batch entry, and the store of a
/// finished C element. A dense GEMM reads strided matrices; the convolutions compute im2col addresses in the loads
/// (<see cref="ConvGemm"/>), never materialising the patch matrix. Loads are only called for in-range indices.
/// </summary>
internal interface IGemmOperands
{
    int M { get; }
    int N { get; }
    int K { get; }
    int Batch { get; }
    /// <summary>True when consecutive k of one row of op(A) are adjacent in memory (row-major A): threads then walk k.</summary>
    bool AAlongK { get; }
    /// <summary>True when consecutive columns of op(B) are adjacent in memory (row-major B): threads then walk columns.</summary>
    bool BAlongN { get; }
    float A(int batch, int i, int k);
    float B(int batch, int k, int j);
    void Store(int batch, int i, int j, float sum);
}

/// <summary>A plain strided GEMM (<see cref="GemmParams"/>): C = alpha·op(A)·op(B) + beta·C; beta = 0 never reads C.</summary>
internal struct DenseOperands : IGemmOperands
{
    public ArrayView<float> AData, BData, CData;
    public GemmParams P;

    public readonly int M => P.M;
    public readonly int N => P.N;
    public readonly int K => P.K;
    public readonly int Batch => P.Batch;
    public readonly bool AAlongK => P.TransA == 0;
    public readonly bool BAlongN => P.TransB == 0;

    public readonly float A(int batch, int i, int k) =>
        AData[P.OffsetA + batch * P.StrideA + (P.TransA == 0 ? (long)i * P.Lda + k : (long)k * P.Lda + i)];

    public readonly float B(int batch, int k, int j) =>
        BData[P.OffsetB + batch * P.StrideB + (P.TransB == 0 ? (long)k * P.Ldb + j : (long)j * P.Ldb + k)];

    public readonly void Store(int batch, int i, int j, float sum)
    {
        long at = P.OffsetC + batch * P.StrideC + (long)i * P.Ldc + j;
        CData[at] = P.Beta == 0f ? P.Alpha * sum : P.Alpha * sum + P.Beta * CData[at];
    }
}

/// <summary>
/// Register-blocked, double-buffered shared-memory GEMM after Simon Boehm's "How to optimize a CUDA matmul kernel"
/// (kernels 5–6 and 9) and CUTLASS' SGEMM: each group computes a BM×BN block of C for one batch entry; per BK-deep slab
/// its threads copy BM×BK of op(A) and BK×BN of op(B) into shared memory (A stored k-major so a thread's 8 rows are
/// 8 reads), then every thread multiplies 8 values of A by 8 values of B per k from registers (64 FMAs for 16 shared
/// reads). The next slab is read from global memory into registers before the current one is multiplied, and stored
/// to the other shared buffer after, so one barrier per slab suffices and global loads overlap the math.
/// A thread's rows and columns are interleaved (row ty + r·BM/8, column tx + c·BN/8): neighbouring threads read
/// neighbouring shared words (no bank conflicts) and store neighbouring C elements (coalesced).
/// Global loads follow the operand's contiguous axis (<see cref="IGemmOperands.AAlongK"/>, BAlongN) so they coalesce;
/// out-of-range elements load as zeros, so edge blocks need no other care.
/// Grid: X = column blocks, Y = row blocks, Z = batch (Y and Z loop with the grid stride: CUDA caps them at 65535).
/// </summary>
internal static class TiledGemm
{
    public static void Run<TConfig, TOps>(TOps ops)
        where TConfig : struct, IGemmConfig
        where TOps : struct, IGemmOperands
    {
        var cfg = default(TConfig);
        int BM = cfg.BM, BN = cfg.BN, BK = cfg.BK;
        int threadsM = BM / 8, threadsN = BN / 8;

        var sharedA = SharedMemory.Allocate<float>(2 * BK * BM); // [buffer][k][row]
        var sharedB = SharedMemory.Allocate<float>(2 * BK * BN); // [buffer][k][column]

        int t = Group.IdxX, tx = t % threadsN, ty = t / threadsN;
        int m = ops.M, n = ops.N;
        int blocksM = (m + BM - 1) / BM, slabs = (ops.K + BK - 1) / BK;
        int j0 = Grid.IdxX * BN;

        for (int batch = Grid.IdxZ; batch < ops.Batch; batch += Grid.DimZ)
            for (int blockRow = Grid.IdxY; blockRow < blocksM; blockRow += Grid.DimY)
            {
                int i0 = blockRow * BM;
                Vec8 c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
                Vec8 nextA = default, nextB = default;
                if (slabs > 0)
                {
                    LoadSlab<TConfig, TOps>(ops, batch, i0, j0, 0, t, ref nextA, ref nextB);
                    StoreSlab<TConfig, TOps>(ops, sharedA, sharedB, 0, t, nextA, nextB);
                    Group.Barrier();
                }
                for (int s = 0; s < slabs; s++)
                {
                    int current = s % 2;
                    if (s + 1 < slabs) LoadSlab<TConfig, TOps>(ops, batch, i0, j0, (s + 1) * BK, t, ref nextA, ref nextB);
                    int atA = current * BK * BM + ty, atB = current * BK * BN + tx;
                    for (int kk = 0; kk < BK; kk++)
                    {
                        var a = Fragment(sharedA, atA + kk * BM, threadsM);
                        var b = Fragment(sharedB, atB + kk * BN, threadsN);
                        Fma(ref c0, a.V0, b); Fma(ref c1, a.V1, b); Fma(ref c2, a.V2, b); Fma(ref c3, a.V3, b);
                        Fma(ref c4, a.V4, b); Fma(ref c5, a.V5, b); Fma(ref c6, a.V6, b); Fma(ref c7, a.V7, b);
                    }
                    if (s + 1 < slabs) StoreSlab<TConfig, TOps>(ops, sharedA, sharedB, 1 - current, t, nextA, nextB);
                    Group.Barrier();
                }
                int i = i0 + ty, j = j0 + tx;
                StoreRow(ops, batch, i, j, threadsN, c0); StoreRow(ops, batch, i + threadsM, j, threadsN, c1);
                StoreRow(ops, batch, i + 2 * threadsM, j, threadsN, c2); StoreRow(ops, batch, i + 3 * threadsM, j, threadsN, c3);
                StoreRow(ops, batch, i + 4 * threadsM, j, threadsN, c4); StoreRow(ops, batch, i + 5 * threadsM, j, threadsN, c5);
                StoreRow(ops, batch, i + 6 * threadsM, j, threadsN, c6); StoreRow(ops, batch, i + 7 * threadsM, j, threadsN, c7);
            }
    }

    /// <summary>Eight shared values <paramref name="stride"/> apart.</summary>
    static Vec8 Fragment(ArrayView<float> shared, int at, int stride) => new()
    {
        V0 = shared[at], V1 = shared[at + stride], V2 = shared[at + 2 * stride], V3 = shared[at + 3 * stride],
        V4 = shared[at + 4 * stride], V5 = shared[at + 5 * stride], V6 = shared[at + 6 * stride], V7 = shared[at + 7 * stride],
    };

    /// <summary>acc += a·b, one row of the thread's 8×8 block.</summary>
    static void Fma(ref Vec8 acc, float a, in Vec8 b)
    {
        acc.V0 += a * b.V0; acc.V1 += a * b.V1; acc.V2 += a * b.V2; acc.V3 += a * b.V3;
        acc.V4 += a * b.V4; acc.V5 += a * b.V5; acc.V6 += a * b.V6; acc.V7 += a * b.V7;
    }

    /// <summary>One row of the thread's block: columns j, j + stride, …, those inside C.</summary>
    static void StoreRow<TOps>(TOps ops, int batch, int i, int j, int stride, in Vec8 row) where TOps : struct, IGemmOperands
    {
        if (i >= ops.M) return;
        int n = ops.N;
        if (j < n) ops.Store(batch, i, j, row.V0);
        if (j + stride < n) ops.Store(batch, i, j + stride, row.V1);
        if (j + 2 * stride < n) ops.Store(batch, i, j + 2 * stride, row.V2);
        if (j + 3 * stride < n) ops.Store(batch, i, j + 3 * stride, row.V3);
        if (j + 4 * stride < n) ops.Store(batch, i, j + 4 * stride, row.V4);
        if (j + 5 * stride < n) ops.Store(batch, i, j + 5 * stride, row.V5);
        if (j + 6 * stride < n) ops.Store(batch, i, j + 6 * stride, row.V6);
        if (j + 7 * stride < n) ops.Store(batch, i, j + 7 * stride, row.V7);
    }

    /// <summary>
    /// Thread t's share of the slab at k0 into registers: elements e = t + q·threads (q &lt; 8) of the BM×BK slab of
    /// op(A) and of the BK×BN slab of op(B), counted along each operand's contiguous axis so a warp reads consecutive
    /// addresses. The counts are constants (unused q fold away).
    /// </summary>
    static void LoadSlab<TConfig, TOps>(TOps ops, int batch, int i0, int j0, int k0, int t, ref Vec8 a, ref Vec8 b)
        where TConfig : struct, IGemmConfig
        where TOps : struct, IGemmOperands
    {
        Stage<TConfig, TOps>(ops, true, batch, i0, k0, t, ref a);
        Stage<TConfig, TOps>(ops, false, batch, j0, k0, t, ref b);
    }

    /// <summary>One operand's share of <see cref="LoadSlab"/>: A when <paramref name="isA"/> (block origin row i0), else B (column j0).</summary>
    static void Stage<TConfig, TOps>(TOps ops, bool isA, int batch, int origin, int k0, int t, ref Vec8 v)
        where TConfig : struct, IGemmConfig
        where TOps : struct, IGemmOperands
    {
        int threads = Threads<TConfig>(), loads = Loads<TConfig>(isA);
        v.V0 = Element<TConfig, TOps>(ops, isA, batch, origin, k0, t);
        if (loads > 1) v.V1 = Element<TConfig, TOps>(ops, isA, batch, origin, k0, t + threads);
        if (loads > 2) v.V2 = Element<TConfig, TOps>(ops, isA, batch, origin, k0, t + 2 * threads);
        if (loads > 3) v.V3 = Element<TConfig, TOps>(ops, isA, batch, origin, k0, t + 3 * threads);
        if (loads > 4) v.V4 = Element<TConfig, TOps>(ops, isA, batch, origin, k0, t + 4 * threads);
        if (loads > 5) v.V5 = Element<TConfig, TOps>(ops, isA, batch, origin, k0, t + 5 * threads);
        if (loads > 6) v.V6 = Element<TConfig, TOps>(ops, isA, batch, origin, k0, t + 6 * threads);
        if (loads > 7) v.V7 = Element<TConfig, TOps>(ops, isA, batch, origin, k0, t + 7 * threads);
    }

    /// <summary>The registers of <see cref="LoadSlab"/> into shared buffer <paramref name="buffer"/>, same element order.</summary>
    static void StoreSlab<TConfig, TOps>(TOps ops, ArrayView<float> sharedA, ArrayView<float> sharedB, int buffer, int t, in Vec8 a, in Vec8 b)
        where TConfig : struct, IGemmConfig
        where TOps : struct, IGemmOperands
    {
        var cfg = default(TConfig);
        Unstage<TConfig>(sharedA.SubView(buffer * cfg.BK * cfg.BM, cfg.BK * cfg.BM), true, ops.AAlongK, t, a);
        Unstage<TConfig>(sharedB.SubView(buffer * cfg.BK * cfg.BN, cfg.BK * cfg.BN), false, ops.BAlongN, t, b);
    }

    static void Unstage<TConfig>(ArrayView<float> shared, bool isA, bool contiguous, int t, in Vec8 v) where TConfig : struct, IGemmConfig
    {
        int threads = Threads<TConfig>(), loads = Loads<TConfig>(isA);
        shared[Slot<TConfig>(isA, contiguous, t)] = v.V0;
        if (loads > 1) shared[Slot<TConfig>(isA, contiguous, t + threads)] = v.V1;
        if (loads > 2) shared[Slot<TConfig>(isA, contiguous, t + 2 * threads)] = v.V2;
        if (loads > 3) shared[Slot<TConfig>(isA, contiguous, t + 3 * threads)] = v.V3;
        if (loads > 4) shared[Slot<TConfig>(isA, contiguous, t + 4 * threads)] = v.V4;
        if (loads > 5) shared[Slot<TConfig>(isA, contiguous, t + 5 * threads)] = v.V5;
        if (loads > 6) shared[Slot<TConfig>(isA, contiguous, t + 6 * threads)] = v.V6;
        if (loads > 7) shared[Slot<TConfig>(isA, contiguous, t + 7 * threads)] = v.V7;
    }

    static int Threads<TConfig>() where TConfig : struct, IGemmConfig => default(TConfig).BM / 8 * (default(TConfig).BN / 8);

    /// <summary>Elements of op(A)'s (op(B)'s) slab per thread.</summary>
    static int Loads<TConfig>(bool isA) where TConfig : struct, IGemmConfig =>
        (isA ? default(TConfig).BM : default(TConfig).BN) * default(TConfig).BK / Threads<TConfig>();

    /// <summary>
    /// Slab element e as (k, position in the block): along k in rows of BK when the operand is contiguous in k
    /// (row-major A, transposed B), else along the block's rows (columns) in runs of BM (BN).
    /// </summary>
    static (int K, int At) Place<TConfig>(bool isA, bool contiguous, int e) where TConfig : struct, IGemmConfig
    {
        var cfg = default(TConfig);
        int width = isA ? cfg.BM : cfg.BN;
        bool alongK = isA == contiguous; // A "contiguous" means along k; B "contiguous" means along columns
        return alongK ? (e % cfg.BK, e / cfg.BK) : (e / width, e % width);
    }

    static float Element<TConfig, TOps>(TOps ops, bool isA, int batch, int origin, int k0, int e)
        where TConfig : struct, IGemmConfig
        where TOps : struct, IGemmOperands
    {
        var (kk, at) = Place<TConfig>(isA, isA ? ops.AAlongK : ops.BAlongN, e);
        int index = origin + at, k = k0 + kk;
        if (isA) return index < ops.M && k < ops.K ? ops.A(batch, index, k) : 0f;
        return index < ops.N && k < ops.K ? ops.B(batch, k, index) : 0f;
    }

    static int Slot<TConfig>(bool isA, bool contiguous, int e) where TConfig : struct, IGemmConfig
    {
        var (kk, at) = Place<TConfig>(isA, contiguous, e);
        return kk * (isA ? default(TConfig).BM : default(TConfig).BN) + at;
    }
}
