using ILGPU;
using ILGPU.Runtime;

namespace NativeASD.Kernels.Ilgpu;

/// <summary>
/// Every kernel of the backend, compiled once for one accelerator when the backend opens and kept as launch
/// delegates (the tiled GEMM variants on their first launch). Also fixes the launch shapes that depend on the device:
/// the simple GEMM's tile (16×16 where groups of 256 threads fit, smaller on ILGPU's CPU simulator) and the group size
/// of row reductions.
/// </summary>
internal sealed class IlgpuKernels
{
    public readonly Action<Index1D, ArrayView<float>, ViewWalk, float> Fill;
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ViewWalk, int, float, float> Unary;
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ViewWalk, int> Binary;
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ReduceArgs> ReduceColumns;
    public readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ReduceArgs> ReduceRows;
    public readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams> Gemm;
    /// <summary>The register-blocked GEMMs (<see cref="GemmVariants"/>), each compiled on first use.</summary>
    public readonly GemmVariant<DenseOperands>[] TiledGemms;

    /// <summary>Edge of the square GEMM tile = threads per group side.</summary>
    public readonly int GemmTile;

    /// <summary>Threads per group of the row reduction (a power of two).</summary>
    public readonly int RowGroup;

    public IlgpuKernels(Accelerator accelerator)
    {
        Fill = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ViewWalk, float>(ElementwiseKernels.Fill);
        Unary = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ViewWalk, int, float, float>(ElementwiseKernels.Unary);
        Binary = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ViewWalk, int>(ElementwiseKernels.Binary);
        ReduceColumns = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ReduceArgs>(ReduceKernels.Columns);
        ReduceRows = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ReduceArgs>(ReduceKernels.Rows);

        TiledGemms = GemmVariants.For<DenseOperands>(accelerator);
        int maxGroup = accelerator.MaxNumThreadsPerGroup;
        RowGroup = 1;
        while (RowGroup * 2 <= Math.Min(maxGroup, ReduceKernels.MaxRowGroup)) RowGroup *= 2;

        (GemmTile, Gemm) = maxGroup switch
        {
            >= 256 => (16, accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams>(GemmKernel.Run<GemmTile16>)),
            >= 64 => (8, accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams>(GemmKernel.Run<GemmTile8>)),
            _ => (4, accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams>(GemmKernel.Run<GemmTile4>)),
        };
    }
}
