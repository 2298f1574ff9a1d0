using ILGPU;

namespace NativeASD.Kernels.Ilgpu;

/// <summary>The <see cref="GemmArgs"/> scalars in an unmanaged struct (no storage references) for the device.</summary>
internal struct GemmParams
{
    public int M, N, K, Lda, Ldb, Ldc, Batch, TransA, TransB;
    public float Alpha, Beta;
    public long OffsetA, OffsetB, OffsetC, StrideA, StrideB, StrideC;

    public static GemmParams From(in GemmArgs g) => new()
    {
        M = g.M, N = g.N, K = g.K, Lda = g.Lda, Ldb = g.Ldb, Ldc = g.Ldc, Batch = g.Batch,
        TransA = g.TransA ? 1 : 0, TransB = g.TransB ? 1 : 0, Alpha = g.Alpha, Beta = g.Beta,
        OffsetA = g.OffsetA, OffsetB = g.OffsetB, OffsetC = g.OffsetC,
        StrideA = g.StrideA, StrideB = g.StrideB, StrideC = g.StrideC,
    };
}

/// <summary>
/// Tile edge of the GEMM kernel, a compile-time constant per instantiation (ILGPU folds it, so shared
/// arrays get a fixed size and the inner loop a fixed trip count). A group is Size×Size threads.
/// </summary>
internal interface IGemmTile { int Size { get; } }

/// <summary>16×16 = 256 threads: for GPUs.</summary>
internal struct GemmTile16 : IGemmTile { public readonly int Size => 16; }

/// <summary>8×8 = 64 threads: for devices with smaller groups.</summary>
internal struct GemmTile8 : IGemmTile { public readonly int Size => 8; }

/// <summary>4×4 = 16 threads: ILGPU's default CPU simulator allows at most 16 threads per group.</summary>
internal struct GemmTile4 : IGemmTile { public readonly int Size => 4; }

/// <summary>
/// Shared-memory tiled batched GEMM, C = alpha·op(A)·op(B) + beta·C, row-major with leading dimensions,
/// offsets and batch strides (the <see cref="GemmArgs"/> contract). Each group computes one T×T tile of C,
/// one element per thread (row = Group.IdxY, column = Group.IdxX so stores and untransposed B loads coalesce),
/// stepping over K in T-wide slabs of A and B staged in shared memory. Transposed operands are loaded with
/// the thread roles swapped so that global reads stay contiguous either way.
/// Grid: X = row tiles, Y = column tiles, Z = batch; Y and Z loop with the grid stride because CUDA caps
/// those dimensions at 65535. beta = 0 writes C without reading it (NaNs already in C do not leak).
/// </summary>
internal static class GemmKernel
{
    public static void Run<TTile>(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmParams p)
        where TTile : struct, IGemmTile
    {
        int T = default(TTile).Size;
        var tileA = SharedMemory.Allocate<float>(T * T); // [row][k]
        var tileB = SharedMemory.Allocate<float>(T * T); // [k][column]
        int tx = Group.IdxX, ty = Group.IdxY;
        int tilesN = (p.N + T - 1) / T;
        int i = Grid.IdxX * T + ty;

        for (int batch = Grid.IdxZ; batch < p.Batch; batch += Grid.DimZ)
        {
            long a0 = p.OffsetA + batch * p.StrideA, b0 = p.OffsetB + batch * p.StrideB, c0 = p.OffsetC + batch * p.StrideC;
            for (int tileColumn = Grid.IdxY; tileColumn < tilesN; tileColumn += Grid.DimY)
            {
                int j = tileColumn * T + tx;
                float sum = 0f;
                for (int k0 = 0; k0 < p.K; k0 += T)
                {
                    if (p.TransA == 0)
                    {
                        // A[i, k] at i·lda + k: thread (tx, ty) loads row i, column k0 + tx.
                        int k = k0 + tx;
                        tileA[ty * T + tx] = i < p.M && k < p.K ? a[a0 + (long)i * p.Lda + k] : 0f;
                    }
                    else
                    {
                        // A[i, k] at k·lda + i: thread (tx, ty) loads k = k0 + ty, row Grid.IdxX·T + tx.
                        int row = Grid.IdxX * T + tx, k = k0 + ty;
                        tileA[tx * T + ty] = row < p.M && k < p.K ? a[a0 + (long)k * p.Lda + row] : 0f;
                    }
                    if (p.TransB == 0)
                    {
                        // B[k, j] at k·ldb + j: thread (tx, ty) loads k = k0 + ty, column j.
                        int k = k0 + ty;
                        tileB[ty * T + tx] = k < p.K && j < p.N ? b[b0 + (long)k * p.Ldb + j] : 0f;
                    }
                    else
                    {
                        // B[k, j] at j·ldb + k: thread (tx, ty) loads column tileColumn·T + ty, k = k0 + tx.
                        int column = tileColumn * T + ty, k = k0 + tx;
                        tileB[tx * T + ty] = column < p.N && k < p.K ? b[b0 + (long)column * p.Ldb + k] : 0f;
                    }
                    Group.Barrier();
                    for (int q = 0; q < T; q++) sum += tileA[ty * T + q] * tileB[q * T + tx];
                    Group.Barrier();
                }
                if (i < p.M && j < p.N)
                {
                    long at = c0 + (long)i * p.Ldc + j;
                    c[at] = p.Beta == 0f ? p.Alpha * sum : p.Alpha * sum + p.Beta * c[at];
                }
            }
        }
    }
}
