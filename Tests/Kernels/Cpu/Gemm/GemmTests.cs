using NativeASD.Kernels;
using NativeASD.Kernels.Cpu;
using Xunit;

namespace NativeASD.Tests.Kernels.Cpu.Gemm;

/// <summary>
/// CPU GEMM against a double-precision reference loop: many shapes (edges of the MR×NR register tiles and of the
/// KC/MC/NC cache blocks), all four transpose combinations, alpha/beta variants (beta = 0 over NaN), batches with
/// strides (including a shared B), padded leading dimensions and non-zero offsets, on every CPU backend variant.
/// Every element of C's storage outside the matrices must be left untouched.
/// </summary>
public class GemmTests
{
    /// <summary>Worst-case float32 error of a k-term dot product is about k·2⁻²⁴·Σ|a||b|; 1e-4 covers k ≤ ~1600.</summary>
    const double RelTol = 1e-4;

    public static TheoryData<string> Backends => TestBackends.Cpu;

    // (m, n, k): tiny, primes, MR/NR edges of every level (6/12 rows; 2/8/16/32 columns), KC edges (192/256; K is
    // split into equal blocks), MC edges (72/144/288-row A blocks), NC edges (512/2048-column tiles), thin conv-like shapes.
    static readonly (int M, int N, int K)[] Shapes =
    [
        (1, 1, 1), (1, 1, 7), (2, 3, 1), (37, 53, 71), (5, 15, 17), (6, 16, 8), (7, 17, 9), (11, 31, 2), (12, 32, 3),
        (13, 33, 5), (1, 40, 3), (40, 1, 3), (23, 9, 193), (23, 9, 255), (19, 21, 256), (9, 35, 257), (14, 18, 513),
        (143, 20, 11), (145, 33, 13), (289, 7, 6), (3, 2049, 5), (7, 2050, 3), (64, 700, 40), (700, 64, 33),
    ];

    static readonly (float Alpha, float Beta)[] Scalars = [(1f, 0f), (0.5f, 0f), (1f, 1f), (-1.5f, 0.25f), (2f, -1f)];

    [Theory]
    [MemberData(nameof(Backends))]
    public void MatchesReferenceForShapesAndTransposes(string backend)
    {
        var be = TestBackends.Get(backend);
        int seed = 0;
        foreach (var (m, n, k) in Shapes)
            for (int t = 0; t < 4; t++)
            {
                var (alpha, beta) = Scalars[seed % Scalars.Length];
                RunCase(be, new Case(m, n, k, TransA: (t & 1) != 0, TransB: (t & 2) != 0, alpha, beta), seed++);
            }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void AlphaBetaVariantsIncludingNaNInC(string backend)
    {
        var be = TestBackends.Get(backend);
        int seed = 100;
        foreach (var (alpha, beta) in Scalars.Append((0f, 2f)).Append((0f, 0f)).Append((1f, 0.5f)))
            for (int t = 0; t < 4; t++)
                RunCase(be, new Case(29, 41, 67, (t & 1) != 0, (t & 2) != 0, alpha, beta), seed++);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void EmptyDimensions(string backend)
    {
        var be = TestBackends.Get(backend);
        int seed = 200;
        foreach (var (m, n, k) in new[] { (0, 5, 7), (5, 0, 7), (0, 0, 0), (4, 6, 0), (37, 19, 0), (1, 1, 0) })
            foreach (var (alpha, beta) in new[] { (1f, 0f), (1f, 1f), (2f, -0.5f) })
                for (int t = 0; t < 4; t++)
                    RunCase(be, new Case(m, n, k, (t & 1) != 0, (t & 2) != 0, alpha, beta), seed++);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void BatchedWithStridesPaddingAndOffsets(string backend)
    {
        var be = TestBackends.Get(backend);
        int seed = 300;
        foreach (var (m, n, k) in new[] { (7, 9, 11), (13, 35, 70), (50, 3, 260) })
            for (int t = 0; t < 4; t++)
            {
                var c = new Case(m, n, k, (t & 1) != 0, (t & 2) != 0, 0.75f, t == 2 ? 0f : 0.5f,
                    Batch: 3, PadA: 3, PadB: 5, PadC: 2, OffsetA: 17, OffsetB: 5, OffsetC: 9, Gap: 13);
                RunCase(be, c, seed++);
                RunCase(be, c with { SharedB = true, Beta = 0f }, seed++); // StrideB = 0: one B for every batch
            }
    }

    /// <summary>The Vector512 kernels (12×32 tiles) run even where AVX-512 is missing (software Vector512), so their logic is always tested.</summary>
    [Fact]
    public void Vector512PathMatchesReferenceEvenWithoutAvx512()
    {
        using var be = new CpuBackend(2);
        using var pool = new WorkerPool(2);
        int seed = 400;
        foreach (var (m, n, k) in new[] { (1, 1, 1), (11, 31, 5), (12, 32, 7), (13, 33, 9), (37, 53, 71), (25, 65, 258), (150, 40, 8), (301, 35, 20) })
            for (int t = 0; t < 4; t++)
            {
                var (alpha, beta) = Scalars[seed % Scalars.Length];
                RunCase(be, new Case(m, n, k, (t & 1) != 0, (t & 2) != 0, alpha, beta, Batch: 2, PadC: 3, OffsetA: 1, Gap: 4), seed++,
                    g => CpuGemm.Run(g, pool, SimdLevel.Vector512));
            }
    }

    [Fact]
    public void ThreadCountDoesNotChangeAnyBit()
    {
        var levels = new List<SimdLevel> { SimdLevel.Scalar };
        if (SimdSupport.IsSupported(SimdLevel.Vector128)) levels.Add(SimdLevel.Vector128);
        if (SimdSupport.IsSupported(SimdLevel.Vector256)) levels.Add(SimdLevel.Vector256);
        if (SimdSupport.IsSupported(SimdLevel.Vector512)) levels.Add(SimdLevel.Vector512);
        foreach (var level in levels)
        {
            using var one = new CpuBackend(1, level);
            using var two = new CpuBackend(2, level);
            using var three = new CpuBackend(3, level);
            foreach (var (m, n, k, ta, tb) in new[] { (201, 157, 520, false, false), (64, 1100, 70, true, false), (600, 40, 30, false, true) })
            {
                if (level == SimdLevel.Scalar && m * (long)n * k > 2_000_000) continue;
                float[] r1 = Product(one, m, n, k, ta, tb), r2 = Product(two, m, n, k, ta, tb), r3 = Product(three, m, n, k, ta, tb);
                for (int i = 0; i < r1.Length; i++)
                {
                    int b1 = BitConverter.SingleToInt32Bits(r1[i]);
                    if (b1 != BitConverter.SingleToInt32Bits(r2[i]) || b1 != BitConverter.SingleToInt32Bits(r3[i]))
                        Assert.Fail($"{level} {m}x{n}x{k} element {i}: 1 thread {r1[i]:R}, 2 threads {r2[i]:R}, 3 threads {r3[i]:R}");
                }
            }
        }
    }

    [Fact]
    public void SteadyStateCallsAllocateNothing()
    {
        // Backends of its own: the shared test backends also serve other test classes running in parallel, whose calls
        // can land on this thread's count (seen as 6,640 bytes once in a full run on a loaded machine).
        foreach (int threads in new[] { 1, 2 })
        {
            using var be = new CpuBackend(threads);
            const int m = 70, n = 90, k = 300;
            var a = be.Allocate(m * k, zero: true); var b = be.Allocate(k * n, zero: true); var c = be.Allocate(m * n, zero: true);
            try
            {
                var g = new GemmArgs(m, n, k, 1f, a, 0, k, false, b, 0, n, false, 0f, c, 0, n);
                var gt = g with { TransA = true, Lda = m, Beta = 1f };
                be.Gemm(g); be.Gemm(gt); // first calls size the per-thread scratch
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 5; i++) { be.Gemm(g); be.Gemm(gt); }
                Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            }
            finally { a.Release(); b.Release(); c.Release(); }
        }
    }

    // ---- harness ---------------------------------------------------------------------------------------------

    record Case(int M, int N, int K, bool TransA, bool TransB, float Alpha, float Beta,
        int Batch = 1, int PadA = 0, int PadB = 0, int PadC = 0, long OffsetA = 0, long OffsetB = 0, long OffsetC = 0,
        long Gap = 0, bool SharedB = false)
    {
        public override string ToString() =>
            $"m={M} n={N} k={K} transA={TransA} transB={TransB} alpha={Alpha} beta={Beta} batch={Batch} pads={PadA}/{PadB}/{PadC} " +
            $"offsets={OffsetA}/{OffsetB}/{OffsetC} gap={Gap} sharedB={SharedB}";
    }

    static float[] Product(IBackend be, int m, int n, int k, bool ta, bool tb)
    {
        var rnd = new Random(m * 31 + n * 7 + k);
        var a = be.Allocate((long)m * k); var b = be.Allocate((long)k * n); var c = be.Allocate((long)m * n);
        try
        {
            be.Upload(RandomArray(rnd, m * k), a, 0);
            be.Upload(RandomArray(rnd, k * n), b, 0);
            be.Upload(RandomArray(rnd, m * n), c, 0);
            be.Gemm(new GemmArgs(m, n, k, 1.25f, a, 0, ta ? m : k, ta, b, 0, tb ? k : n, tb, 0.5f, c, 0, n));
            var result = new float[m * n];
            be.Download(c, 0, result);
            return result;
        }
        finally { a.Release(); b.Release(); c.Release(); }
    }

    static float[] RandomArray(Random rnd, long length)
    {
        var x = new float[length];
        for (long i = 0; i < length; i++) x[i] = (float)(rnd.NextDouble() * 2 - 1);
        return x;
    }

    static void RunCase(IBackend be, Case cs, int seed, Action<GemmArgs>? run = null)
    {
        var rnd = new Random(seed);
        int m = cs.M, n = cs.N, k = cs.K;
        int aRows = cs.TransA ? k : m, aCols = cs.TransA ? m : k;
        int bRows = cs.TransB ? n : k, bCols = cs.TransB ? k : n;
        int lda = Math.Max(1, aCols) + cs.PadA, ldb = Math.Max(1, bCols) + cs.PadB, ldc = Math.Max(1, n) + cs.PadC;
        long strideA = (long)aRows * lda + cs.Gap, strideB = cs.SharedB ? 0 : (long)bRows * ldb + cs.Gap, strideC = (long)m * ldc + cs.Gap;
        long lenA = cs.OffsetA + (cs.Batch - 1) * strideA + (long)aRows * lda + 1;
        long lenB = cs.OffsetB + (cs.Batch - 1) * strideB + (long)bRows * ldb + 1;
        long lenC = cs.OffsetC + (cs.Batch - 1) * strideC + (long)m * ldc + 1;

        float[] ha = RandomArray(rnd, lenA), hb = RandomArray(rnd, lenB), hc = RandomArray(rnd, lenC);
        bool[] inC = new bool[lenC];
        for (int bt = 0; bt < cs.Batch; bt++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    long at = cs.OffsetC + bt * strideC + (long)i * ldc + j;
                    inC[at] = true;
                    if (cs.Beta == 0f && (i + j) % 3 != 1) hc[at] = float.NaN; // must be overwritten, never read
                }

        var sa = be.Allocate(lenA); var sb = be.Allocate(lenB); var sc = be.Allocate(lenC);
        try
        {
            be.Upload(ha, sa, 0); be.Upload(hb, sb, 0); be.Upload(hc, sc, 0);
            var g = new GemmArgs(m, n, k, cs.Alpha, sa, cs.OffsetA, lda, cs.TransA, sb, cs.OffsetB, ldb, cs.TransB,
                cs.Beta, sc, cs.OffsetC, ldc, cs.Batch, strideA, strideB, strideC);
            if (run is null) be.Gemm(g); else run(g);
            var got = new float[lenC];
            be.Download(sc, 0, got);

            double worst = -1; string where = "";
            for (long at = 0; at < lenC; at++)
                if (!inC[at] && BitConverter.SingleToInt32Bits(got[at]) != BitConverter.SingleToInt32Bits(hc[at]))
                    Assert.Fail($"{be.Description} {cs}: wrote outside C at storage index {at}: {hc[at]} -> {got[at]}");
            for (int bt = 0; bt < cs.Batch; bt++)
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++)
                    {
                        double sum = 0, bound = 0;
                        if (cs.Alpha != 0f)
                            for (int p = 0; p < k; p++)
                            {
                                double av = ha[cs.OffsetA + bt * strideA + (cs.TransA ? (long)p * lda + i : (long)i * lda + p)];
                                double bv = hb[cs.OffsetB + bt * strideB + (cs.TransB ? (long)j * ldb + p : (long)p * ldb + j)];
                                sum += av * bv; bound += Math.Abs(av * bv);
                            }
                        long at = cs.OffsetC + bt * strideC + (long)i * ldc + j;
                        double c0 = cs.Beta == 0f ? 0 : hc[at];
                        double want = cs.Alpha * sum + cs.Beta * c0;
                        double tol = RelTol * (Math.Abs(cs.Alpha) * bound + Math.Abs(cs.Beta * c0)) + 1e-30;
                        double err = Math.Abs(got[at] - want);
                        if (double.IsNaN(err)) err = double.PositiveInfinity;
                        if (err / tol > worst) { worst = err / tol; where = $"batch {bt} C[{i},{j}] = {got[at]:R}, expected {want:R} (|err| {err:E3}, tolerance {tol:E3})"; }
                    }
            if (worst > 1) Assert.Fail($"{be.Description} {cs}: worst element {where}");
        }
        finally { sa.Release(); sb.Release(); sc.Release(); }
    }
}
