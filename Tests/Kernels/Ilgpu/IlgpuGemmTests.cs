using NativeASD.Kernels;
using NativeASD.Kernels.Ilgpu;
using static NativeASD.Tests.Kernels.BackendParity;

namespace NativeASD.Tests.Kernels.Ilgpu;

/// <summary>
/// The ILGPU GEMMs against the CPU backend: every transpose combination, alpha/beta, beta = 0 over NaNs,
/// padded leading dimensions, offsets, batches with strides, sizes that are not multiples of the tile, K = 0.
/// On the default CPU simulator (16-thread groups) shapes of 8 or more a side run the register-blocked 32×32k4 variant
/// and narrower ones the simple kernel; a simulated device with 256-thread groups runs every GPU variant by name
/// (the same instantiations a GPU compiles; IlgpuPtxTests compiles them to PTX).
/// Tolerance: NMSE ≤ 1e-10 and relative error ≤ 1e-5 (both sum in float; the order may differ).
/// </summary>
public class IlgpuGemmTests
{
    static IBackend Ilgpu => TestBackends.Get("ilgpu-cpu");

    public sealed record Case(int M, int N, int K, bool TransA, bool TransB, float Alpha = 1f, float Beta = 0f,
        int Batch = 1, int Pad = 0, long Offset = 0, long BatchGap = 0, bool NaNInC = false)
    {
        public override string ToString() =>
            $"{M}x{N}x{K} {(TransA ? "T" : "N")}{(TransB ? "T" : "N")} a={Alpha} b={Beta} batch={Batch} pad={Pad} off={Offset}{(NaNInC ? " NaN-C" : "")}";
    }

    public static TheoryData<Case> Cases()
    {
        var data = new TheoryData<Case>();
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
            {
                data.Add(new Case(7, 9, 13, ta, tb));
                data.Add(new Case(6, 5, 11, ta, tb, Alpha: 0.5f, Beta: -1.5f, Batch: 3, Pad: 3, Offset: 5, BatchGap: 7));
                data.Add(new Case(5, 7, 9, ta, tb, NaNInC: true));
            }
        data.Add(new Case(1, 1, 37, false, false));
        data.Add(new Case(33, 31, 40, false, false, Alpha: 2f, Beta: 1f));
        data.Add(new Case(4, 6, 0, false, false, Alpha: 1f, Beta: 2f));
        data.Add(new Case(4, 6, 0, true, true, Alpha: 1f, Beta: 0f, NaNInC: true));
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gemm(Case c) => RunAndCompare(Ilgpu, c);

    [Fact]
    public void DefaultSimulatorChoosesTheRegisterBlockedKernelUnlessNarrow()
    {
        var backend = (IlgpuBackend)Ilgpu;
        Assert.Equal(["32x32k4"], backend.GemmVariants);
        Assert.Equal("32x32k4", backend.GemmVariantFor(9, 8, 1));
        Assert.Equal("simple", backend.GemmVariantFor(7, 300, 1));
        Assert.Equal("simple", backend.GemmVariantFor(300, 1, 4));
    }

    /// <summary>The simple kernel's 16×16 tile that GPUs run for GEMV-like shapes, forced on every shape here.</summary>
    [Fact]
    public void Simple16x16Tile()
    {
        using var backend = SimulatedGpu.Open();
        Assert.Equal(16, backend.GemmTile);
        backend.GemmVariant = "simple";
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
                RunAndCompare(backend, new Case(19, 21, 35, ta, tb, Alpha: 0.75f, Beta: 0.5f, Batch: 2, Pad: 1, Offset: 3, BatchGap: 2));
    }

    /// <summary>
    /// Every GPU variant by name: edge blocks on both axes (M, N not multiples of the block, a partial last slab),
    /// all transposes with alpha/beta, offsets and batch strides, and beta = 0 over NaNs.
    /// </summary>
    [Theory]
    [InlineData("128x128k8")]
    [InlineData("128x128k16")]
    [InlineData("128x64k8")]
    [InlineData("64x128k8")]
    [InlineData("64x64k8")]
    [InlineData("32x32k4")]
    public void GpuVariant(string variant)
    {
        using var backend = SimulatedGpu.Open();
        Assert.Contains(variant, backend.GemmVariants);
        backend.GemmVariant = variant;
        Assert.Equal(variant, backend.GemmVariantFor(10, 10, 1));
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
                RunAndCompare(backend, new Case(variant.StartsWith("128") ? 131 : 67, 70, 21, ta, tb, Alpha: 0.75f, Beta: 0.5f,
                    Batch: 2, Pad: 1, Offset: 3, BatchGap: 2));
        RunAndCompare(backend, new Case(9, 13, 17, false, true, NaNInC: true));
    }

    /// <summary>The choice on a GPU-shaped device with one multiprocessor: fewest padding rows and columns, ties to the larger block.</summary>
    [Fact]
    public void ChoiceAvoidsIdleRows()
    {
        using var backend = SimulatedGpu.Open();
        Assert.Equal("128x128k8", backend.GemmVariantFor(4096, 4096, 1));
        Assert.Equal("64x128k8", backend.GemmVariantFor(64, 64000, 1));  // a 64-channel conv
        Assert.Equal("128x64k8", backend.GemmVariantFor(256, 64, 3));
        Assert.Equal("64x64k8", backend.GemmVariantFor(40, 50, 1));
        Assert.Equal("simple", backend.GemmVariantFor(4096, 4, 1));
    }

    [Fact]
    public void UnknownVariantIsRefusedByName()
    {
        using var backend = SimulatedGpu.Open();
        var e = Assert.Throws<ArgumentException>(() => backend.GemmVariant = "96x96k8");
        Assert.Null(backend.GemmVariant);
        Assert.Contains("'96x96k8'", e.Message);
        Assert.Contains("128x128k8", e.Message);
    }

    static void RunAndCompare(IBackend backend, Case c)
    {
        int aRows = c.TransA ? c.K : c.M, aCols = c.TransA ? c.M : c.K;
        int bRows = c.TransB ? c.N : c.K, bCols = c.TransB ? c.K : c.N;
        int lda = Math.Max(1, aCols + c.Pad), ldb = Math.Max(1, bCols + c.Pad), ldc = c.N + c.Pad;
        long strideA = aRows * lda + c.BatchGap, strideB = bRows * ldb + c.BatchGap, strideC = c.M * ldc + c.BatchGap;
        int Length(long stride, int rows, int ld) => (int)(c.Offset + (c.Batch - 1) * stride + rows * ld + 2);

        using var a = Make(backend, Length(strideA, aRows, lda), seed: 11, Uniform(1f));
        using var b = Make(backend, Length(strideB, bRows, ldb), seed: 12, Uniform(1f));
        using var cs = Make(backend, Length(strideC, c.M, ldc), seed: 13, c.NaNInC ? (_, _) => float.NaN : Uniform(1f));

        GemmArgs Args(Storage sa, Storage sb, Storage sc) => new(c.M, c.N, c.K, c.Alpha,
            sa, c.Offset, lda, c.TransA, sb, c.Offset, ldb, c.TransB, c.Beta, sc, c.Offset, ldc,
            c.Batch, strideA, strideB, strideC);

        TestBackends.Reference.Gemm(Args(a.Expected, b.Expected, cs.Expected));
        backend.Gemm(Args(a.Actual, b.Actual, cs.Actual));
        if (c.NaNInC && c.Beta == 0f)
        {
            // Every element of C that the GEMM writes must be a number: NaNs in C may not leak through beta = 0.
            var written = Read(cs.Actual, cs.Length);
            for (int i = 0; i < c.M; i++)
                for (int j = 0; j < c.N; j++)
                    Assert.False(float.IsNaN(written[c.Offset + i * ldc + j]), $"{c}: C[{i},{j}] is NaN");
        }
        AssertClose(c.ToString(), cs, maxNmse: 1e-10, maxRelative: 1e-5);
    }
}
