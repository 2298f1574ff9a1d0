using ILGPU;
using ILGPU.Runtime;

namespace NativeASD.Kernels.Ilgpu;

/// <summary>One compiled shape of <see cref="TiledGemm"/> for one kind of operands; compiled on its first launch.</summary>
internal sealed class GemmVariant<TOps> where TOps : struct, IGemmOperands
{
    readonly Lazy<Action<KernelConfig, TOps>> _kernel;

    GemmVariant(string name, int bm, int bn, bool automatic, Func<Action<KernelConfig, TOps>> load) =>
        (Name, BM, BN, Automatic, _kernel) = (name, bm, bn, automatic, new Lazy<Action<KernelConfig, TOps>>(load));

    public string Name { get; }
    public int BM { get; }
    public int BN { get; }
    public int Threads => BM / 8 * (BN / 8);
    /// <summary>A candidate of the automatic choice (false: only when forced by name).</summary>
    public bool Automatic { get; }

    public static GemmVariant<TOps> Of<TConfig>(Accelerator accelerator, bool automatic = true) where TConfig : struct, IGemmConfig
    {
        var c = default(TConfig);
        return new GemmVariant<TOps>($"{c.BM}x{c.BN}k{c.BK}", c.BM, c.BN, automatic,
            () => accelerator.LoadStreamKernel<TOps>(TiledGemm.Run<TConfig, TOps>));
    }

    /// <summary>Blocks a problem of M×N over <paramref name="batch"/> entries needs.</summary>
    public long Blocks(int m, int n, int batch) => (long)((m + BM - 1) / BM) * ((n + BN - 1) / BN) * batch;

    /// <summary>Share of the blocks' outputs inside the M×N matrix (1: no padding rows or columns).</summary>
    public double Utilisation(int m, int n) => (double)m * n / ((long)((m + BM - 1) / BM) * BM * ((n + BN - 1) / BN) * BN);

    /// <summary>Queues the kernel: X = column blocks, Y = row blocks, Z = batch (Y and Z capped at 65535, the kernel loops).</summary>
    public void Launch(in TOps ops)
    {
        var grid = new Index3D((ops.N + BN - 1) / BN, Math.Min((ops.M + BM - 1) / BM, 65535), Math.Min(ops.Batch, 65535));
        _kernel.Value(new KernelConfig(grid, new Index3D(Threads, 1, 1)), ops);
    }
}

/// <summary>
/// The tiled-GEMM variants a device gets and the choice among them by problem size. GPUs (groups of ≥ 256 threads)
/// get the 256/128/64-thread blocks of <see cref="IGemmConfig"/>; ILGPU's CPU simulator (16 threads) the 32×32 one.
/// Choice: among the blocks that still give every multiprocessor a group, the one with the fewest padding rows and
/// columns, ties to the largest (so 64-channel convs get 64×128 blocks); when none fills the device, the smallest;
/// problems narrower than a thread's 8×8 tile (M or N below 8: GEMV-like) go to the one-output-per-thread
/// <see cref="GemmKernel"/>. A forced name (<see cref="IlgpuBackend.GemmVariant"/>, or the environment variable
/// <c>NASD_GEMM_VARIANT</c>: a variant name or "simple") overrides the choice, for tuning runs.
/// </summary>
internal static class GemmVariants
{
    /// <summary>Name of the one-output-per-thread fallback kernel.</summary>
    public const string Simple = "simple";

    public static GemmVariant<TOps>[] For<TOps>(Accelerator accelerator) where TOps : struct, IGemmOperands =>
        accelerator.MaxNumThreadsPerGroup >= 256
            ?
            [
                GemmVariant<TOps>.Of<Gemm128x128k8>(accelerator),
                GemmVariant<TOps>.Of<Gemm128x128k16>(accelerator, automatic: false), // until a device run says it wins
                GemmVariant<TOps>.Of<Gemm128x64k8>(accelerator),
                GemmVariant<TOps>.Of<Gemm64x128k8>(accelerator),
                GemmVariant<TOps>.Of<Gemm64x64k8>(accelerator),
                GemmVariant<TOps>.Of<Gemm32x32k4>(accelerator),
            ]
            : [GemmVariant<TOps>.Of<Gemm32x32k4>(accelerator)];

    /// <summary>Split-K of the conv weight gradient: aim for this many groups per multiprocessor…</summary>
    const int SplitKGroupsPerMultiprocessor = 2;
    /// <summary>…with every split summing at least this many output positions.</summary>
    const int SplitKMinChunk = 1024;

    /// <summary>Splits of a weight-gradient GEMM with <paramref name="blocks"/> blocks over a K of <paramref name="positions"/>.</summary>
    public static int SplitK(long blocks, int positions, int multiprocessors)
    {
        long wanted = (SplitKGroupsPerMultiprocessor * (long)multiprocessors + blocks - 1) / blocks;
        return (int)Math.Clamp(Math.Min(wanted, positions / SplitKMinChunk), 1, 4096);
    }

    /// <summary>The variant for an M×N×batch problem, or null for the simple kernel.</summary>
    public static GemmVariant<TOps>? Choose<TOps>(GemmVariant<TOps>[] variants, int m, int n, int batch, int multiprocessors, string? forced)
        where TOps : struct, IGemmOperands
    {
        if (!string.IsNullOrEmpty(forced))
        {
            if (forced == Simple) return null;
            return variants.First(v => v.Name == forced);   // IlgpuBackend.GemmVariant refused names this device lacks
        }
        if (m < 8 || n < 8) return null;
        // Among the blocks that give every multiprocessor a group, the one with the fewest idle (padding) rows and
        // columns; ties to the larger block (listed first): fewer loads per FMA.
        var filling = variants.Where(v => v.Automatic && v.Blocks(m, n, batch) >= multiprocessors).ToArray();
        if (filling.Length == 0) return variants[^1];
        return filling.MaxBy(v => Math.Round(v.Utilisation(m, n), 2))!;
    }
}
