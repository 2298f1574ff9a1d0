using ILGPU;
using ILGPU.Algorithms;

namespace NativeASD.Kernels.Ilgpu;

// Convolution as implicit GEMM on the tiled kernel (TiledGemm.cs), CUTLASS style: the patch matrix col(x) is never
// built; each operand load computes its im2col address and returns 0 for padding. One GEMM per group (batch = group),
// the images side by side along the GEMM's columns so small late-layer maps still fill the blocks.
// K index of a patch entry: k = (ci·KH + ky)·KW + kx; column index of an output position: j = (n·HO + oy)·WO + ox.

/// <summary>
/// Forward: Y[g][o, j] = Σ_k W[g][o, k] · col(x)[g][k, j], then in the store bias, or the fused evaluation epilogue
/// y·scale[o] + shift[o] (+ residual) (then ReLU), so a conv → BatchNorm → (+ shortcut) → ReLU writes its map once.
/// M = O/groups, N = batch·HO·WO, K = C/groups·KH·KW.
/// </summary>
internal struct ConvForwardOperands : IGemmOperands
{
    public ArrayView<float> X, Weight, Y, Bias, Scale, Shift, Residual;
    public ConvParams P;
    /// <summary>Offsets of the epilogue's views (the bias' is P.OffC).</summary>
    public long OffResidual, OffScale, OffShift;
    public int HasScale, HasResidual, Relu;

    public readonly int M => P.O / P.Groups;
    public readonly int N => P.N * P.HO * P.WO;
    public readonly int K => P.C / P.Groups * P.KH * P.KW;
    public readonly int Batch => P.Groups;
    public readonly bool AAlongK => true;
    public readonly bool BAlongN => true;

    public readonly float A(int g, int i, int k) => Weight[P.OffB + (long)(g * M + i) * K + k];

    public readonly float B(int g, int k, int j) => ConvGemm.Input(X, P, P.OffA, g, k, j);

    public readonly void Store(int g, int i, int j, float sum)
    {
        int o = g * M + i, positions = P.HO * P.WO, n = j / positions;
        long at = ((long)n * P.O + o) * positions + j % positions;
        if (P.HasBias != 0) sum += Bias[P.OffC + o];
        if (HasScale != 0) sum = sum * Scale[OffScale + o] + Shift[OffShift + o];
        if (HasResidual != 0) sum += Residual[OffResidual + at];
        if (Relu != 0) sum = XMath.Max(sum, 0f);
        Y[P.OffD + at] = sum;
    }
}

/// <summary>
/// Backward data: dx[g][ci, j] = Σ_k Wᵀ[g][ci, k] · dcol[g][k, j] with k = (co, ky, kx) over the group's output
/// channels and j over input positions; dcol gathers the dy element whose window covers the input (0 when the stride
/// skips it). M = C/groups, N = batch·H·W, K = O/groups·KH·KW. Writes dx (no accumulation), as the direct kernel.
/// </summary>
internal struct ConvBackwardDataOperands : IGemmOperands
{
    public ArrayView<float> Dy, Weight, Dx;
    public ConvParams P;

    public readonly int M => P.C / P.Groups;
    public readonly int N => P.N * P.H * P.W;
    public readonly int K => P.O / P.Groups * P.KH * P.KW;
    public readonly int Batch => P.Groups;
    public readonly bool AAlongK => true;
    public readonly bool BAlongN => true;

    public readonly float A(int g, int i, int k)
    {
        int taps = P.KH * P.KW, co = k / taps;
        return Weight[P.OffB + ((long)(g * (P.O / P.Groups) + co) * M + i) * taps + k % taps];
    }

    public readonly float B(int g, int k, int j)
    {
        int taps = P.KH * P.KW, co = k / taps, tap = k % taps, ky = tap / P.KW, kx = tap % P.KW;
        int plane = P.H * P.W, n = j / plane, at = j % plane, iy = at / P.W, ix = at % P.W;
        int ty = iy + P.PT - ky * P.DH, tx = ix + P.PL - kx * P.DW; // = oy·SH, ox·SW
        if (ty < 0 || tx < 0 || ty % P.SH != 0 || tx % P.SW != 0) return 0f;
        int oy = ty / P.SH, ox = tx / P.SW;
        if (oy >= P.HO || ox >= P.WO) return 0f;
        return Dy[P.OffA + (((long)n * P.O + g * (P.O / P.Groups) + co) * P.HO + oy) * P.WO + ox];
    }

    public readonly void Store(int g, int i, int j, float sum)
    {
        int plane = P.H * P.W, n = j / plane;
        Dx[P.OffD + ((long)n * P.C + g * M + i) * plane + j % plane] = sum;
    }
}

/// <summary>
/// Backward weight: dW[g][o, k] += Σ_j dy[g][o, j] · col(x)[g][k, j] over output positions j, split into
/// <see cref="Splits"/> chunks of <see cref="Chunk"/> positions (split-K: the weight gradient is a small matrix over a
/// very long sum, so without splitting a GPU would run a handful of groups). Batch = groups·splits; with one split the
/// store adds into dW, else each split writes its partial [groups·splits, M, N] and <see cref="ConvGemm.SumSplits"/>
/// adds them in split order (deterministic: no atomics). M = O/groups, N = C/groups·KH·KW, K = Chunk.
/// </summary>
internal struct ConvBackwardWeightOperands : IGemmOperands
{
    public ArrayView<float> X, Dy, Dw, Partial;
    public ConvParams P;
    public int Splits, Chunk;

    public readonly int M => P.O / P.Groups;
    public readonly int N => P.C / P.Groups * P.KH * P.KW;
    public readonly int K => Chunk;
    public readonly int Batch => P.Groups * Splits;
    public readonly bool AAlongK => true;
    public readonly bool BAlongN => false;

    public readonly float A(int z, int i, int k)
    {
        int positions = P.HO * P.WO, j = z % Splits * Chunk + k;
        if (j >= P.N * positions) return 0f;
        return Dy[P.OffB + ((long)(j / positions) * P.O + z / Splits * M + i) * positions + j % positions];
    }

    public readonly float B(int z, int k, int patch)
    {
        int j = z % Splits * Chunk + k;
        return j >= P.N * P.HO * P.WO ? 0f : ConvGemm.Input(X, P, P.OffA, z / Splits, patch, j);
    }

    public readonly void Store(int z, int i, int j, float sum)
    {
        if (Splits == 1) Dw[P.OffD + (long)(z * M + i) * N + j] += sum;
        else Partial[((long)z * M + i) * N + j] = sum;
    }
}

internal static class ConvGemm
{
    /// <summary>col(x)[g][k, j]: the input under patch entry k of output position j, 0 in the padding.</summary>
    public static float Input(ArrayView<float> x, in ConvParams p, long offset, int g, int k, int j)
    {
        int taps = p.KH * p.KW, ci = k / taps, tap = k % taps, ky = tap / p.KW, kx = tap % p.KW;
        int positions = p.HO * p.WO, n = j / positions, at = j % positions, oy = at / p.WO, ox = at % p.WO;
        int iy = oy * p.SH + ky * p.DH - p.PT, ix = ox * p.SW + kx * p.DW - p.PL;
        if (iy < 0 || iy >= p.H || ix < 0 || ix >= p.W) return 0f;
        return x[offset + (((long)n * p.C + g * (p.C / p.Groups) + ci) * p.H + iy) * p.W + ix];
    }

    /// <summary>
    /// Weight gradient of a grouped conv too narrow for the tiled GEMM (depthwise): one group per weight element
    /// dW[o, ci, ky, kx], its threads striding the batch's output positions, combined with warp shuffles.
    /// </summary>
    public static void WeightGradPerElement(ArrayView<float> x, ArrayView<float> dy, ArrayView<float> dw, ConvParams p)
    {
        var perWarp = SharedMemory.Allocate<float>(ReduceKernels.MaxWarps);
        int cg = p.C / p.Groups, og = p.O / p.Groups, taps = p.KH * p.KW, w = Grid.IdxX;
        int o = w / (cg * taps), k = w % (cg * taps), g = o / og;
        int positions = p.HO * p.WO, total = p.N * positions;
        float sum = 0f;
        for (int j = Group.IdxX; j < total; j += Group.DimX)
            sum += dy[p.OffB + ((long)(j / positions) * p.O + o) * positions + j % positions] * Input(x, p, p.OffA, g, k, j);
        sum = ReduceKernels.GroupSum(perWarp, sum);
        if (Group.IsFirstThread) dw[p.OffD + w] += sum;
    }

    /// <summary>db[o] += Σ_{n, oy, ox} dy: one group per channel, threads striding the positions, warp-shuffle sums.</summary>
    public static void BiasGrad(ArrayView<float> dy, ArrayView<float> db, ConvParams p)
    {
        var perWarp = SharedMemory.Allocate<float>(ReduceKernels.MaxWarps);
        int o = Grid.IdxX, positions = p.HO * p.WO, total = p.N * positions;
        float sum = 0f;
        for (int j = Group.IdxX; j < total; j += Group.DimX)
            sum += dy[p.OffB + ((long)(j / positions) * p.O + o) * positions + j % positions];
        sum = ReduceKernels.GroupSum(perWarp, sum);
        if (Group.IsFirstThread) db[p.OffD + o] += sum;
    }

    /// <summary>dW[i] += Σ_s partial[g, s][i] in split order, one thread per weight element (i within group g).</summary>
    public static void SumSplits(Index1D i, ArrayView<float> partial, ArrayView<float> dw, long offset, int perGroup, int splits)
    {
        int g = i / perGroup, at = i % perGroup;
        float sum = 0f;
        for (int s = 0; s < splits; s++) sum += partial[(long)(g * splits + s) * perGroup + at];
        dw[offset + i] += sum;
    }
}
