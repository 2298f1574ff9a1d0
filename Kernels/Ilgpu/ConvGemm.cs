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
    public ConvDivisors D;
    /// <summary>Offsets of the epilogue's views (the bias' is P.OffC).</summary>
    public long OffResidual, OffScale, OffShift;
    public int HasScale, HasResidual, Relu;

    /// <summary>The GEMM's sizes, set by <see cref="Sized"/> on the host (no divisions per load).</summary>
    public int Rows, Columns, Depth;

    public readonly int M => Rows;
    public readonly int N => Columns;
    public readonly int K => Depth;
    public readonly int Batch => P.Groups;
    public readonly bool AAlongK => true;
    public readonly bool BAlongN => true;

    /// <summary>This with the sizes and divisors of its geometry filled in.</summary>
    public readonly ConvForwardOperands Sized() =>
        this with { Rows = P.O / P.Groups, Columns = P.N * P.HO * P.WO, Depth = P.C / P.Groups * P.KH * P.KW, D = ConvDivisors.Of(P) };

    public readonly float A(int g, int i, int k) => Weight[P.OffB + (long)(g * M + i) * K + k];

    public readonly float B(int g, int k, int j) => ConvGemm.Input(X, P, D, P.OffA, g, k, j);

    public readonly void Store(int g, int i, int j, float sum)
    {
        int o = g * M + i, positions = D.Positions.Value, n = D.Positions.Div(j);
        long at = ((long)n * P.O + o) * positions + (j - n * positions);
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
    public ConvDivisors D;

    /// <summary>The GEMM's sizes and the group's output channels, set by <see cref="Sized"/> on the host.</summary>
    public int Rows, Columns, Depth, GroupOutputs;

    public readonly int M => Rows;
    public readonly int N => Columns;
    public readonly int K => Depth;
    public readonly int Batch => P.Groups;
    public readonly bool AAlongK => true;
    public readonly bool BAlongN => true;

    public readonly ConvBackwardDataOperands Sized() => this with
    {
        Rows = P.C / P.Groups, Columns = P.N * P.H * P.W, Depth = P.O / P.Groups * P.KH * P.KW, GroupOutputs = P.O / P.Groups, D = ConvDivisors.Of(P),
    };

    public readonly float A(int g, int i, int k)
    {
        int taps = D.Taps.Value, co = D.Taps.Div(k);
        return Weight[P.OffB + ((long)(g * GroupOutputs + co) * M + i) * taps + (k - co * taps)];
    }

    public readonly float B(int g, int k, int j)
    {
        int co = D.Taps.Div(k), tap = k - co * D.Taps.Value, ky = D.KW.Div(tap), kx = tap - ky * P.KW;
        int n = D.Plane.Div(j), at = j - n * D.Plane.Value, iy = D.W.Div(at), ix = at - iy * P.W;
        int ty = iy + P.PT - ky * P.DH, tx = ix + P.PL - kx * P.DW; // = oy·SH, ox·SW
        if (ty < 0 || tx < 0) return 0f;
        int oy = D.SH.Div(ty), ox = D.SW.Div(tx);
        if (oy * P.SH != ty || ox * P.SW != tx) return 0f;
        if (oy >= P.HO || ox >= P.WO) return 0f;
        return Dy[P.OffA + (((long)n * P.O + g * GroupOutputs + co) * P.HO + oy) * P.WO + ox];
    }

    public readonly void Store(int g, int i, int j, float sum)
    {
        int plane = D.Plane.Value, n = D.Plane.Div(j);
        Dx[P.OffD + ((long)n * P.C + g * M + i) * plane + (j - n * plane)] = sum;
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
    public ConvDivisors D;
    public int Splits, Chunk;
    /// <summary>The GEMM's sizes and the batch's output positions, set by <see cref="Sized"/> on the host.</summary>
    public int Rows, Columns, Total;
    public FastDivisor SplitsDivisor;

    public readonly int M => Rows;
    public readonly int N => Columns;
    public readonly int K => Chunk;
    public readonly int Batch => P.Groups * Splits;
    public readonly bool AAlongK => true;
    public readonly bool BAlongN => false;

    /// <summary>This with <paramref name="splits"/> chunks of positions, sizes and divisors filled in.</summary>
    public readonly ConvBackwardWeightOperands Sized(int splits)
    {
        int total = P.N * P.HO * P.WO, chunk = (total + splits - 1) / splits;
        splits = (total + chunk - 1) / chunk;
        return this with
        {
            Splits = splits, Chunk = chunk, Total = total, SplitsDivisor = FastDivisor.Of(splits),
            Rows = P.O / P.Groups, Columns = P.C / P.Groups * P.KH * P.KW, D = ConvDivisors.Of(P),
        };
    }

    public readonly float A(int z, int i, int k)
    {
        int g = SplitsDivisor.Div(z), j = (z - g * Splits) * Chunk + k;
        if (j >= Total) return 0f;
        int positions = D.Positions.Value, n = D.Positions.Div(j);
        return Dy[P.OffB + ((long)n * P.O + g * M + i) * positions + (j - n * positions)];
    }

    public readonly float B(int z, int k, int patch)
    {
        int g = SplitsDivisor.Div(z), j = (z - g * Splits) * Chunk + k;
        return j >= Total ? 0f : ConvGemm.Input(X, P, D, P.OffA, g, patch, j);
    }

    public readonly void Store(int z, int i, int j, float sum)
    {
        if (Splits == 1) Dw[P.OffD + (long)(z * M + i) * N + j] += sum;
        else Partial[((long)z * M + i) * N + j] = sum;
    }
}

/// <summary>
/// Division by a divisor fixed per launch, as a multiply and a shift (Granlund–Montgomery): for 0 ≤ n &lt; 2³¹,
/// n / d = (n · m) >> (31 + l) with l = ⌈log₂ d⌉ and m = ⌊2^(31+l) / d⌋ + 1 (&lt; 2³²). A GPU has no integer divider:
/// a runtime division costs tens of instructions, and the implicit GEMM's loads divide for every element.
/// </summary>
internal struct FastDivisor
{
    public ulong Magic;
    public int Shift, Value;

    public static FastDivisor Of(int d)
    {
        if (d < 1) throw new ArgumentOutOfRangeException(nameof(d), d, "divisor must be positive");
        int l = 0;
        while ((1L << l) < d) l++;
        return new FastDivisor { Magic = (ulong)((1UL << (31 + l)) / (ulong)d + 1), Shift = 31 + l, Value = d };
    }

    /// <summary>n / d for 0 ≤ n &lt; 2³¹.</summary>
    public readonly int Div(int n) => (int)(((ulong)(uint)n * Magic) >> Shift);

    /// <summary>n % d for 0 ≤ n &lt; 2³¹.</summary>
    public readonly int Rem(int n) => n - Div(n) * Value;
}

/// <summary>The divisors of a convolution's index arithmetic, computed once per launch.</summary>
internal struct ConvDivisors
{
    public FastDivisor Taps, KW, Positions, WO, Plane, W, SH, SW;

    public static ConvDivisors Of(in ConvParams p) => new()
    {
        Taps = FastDivisor.Of(p.KH * p.KW), KW = FastDivisor.Of(p.KW), Positions = FastDivisor.Of(Math.Max(1, p.HO * p.WO)),
        WO = FastDivisor.Of(Math.Max(1, p.WO)), Plane = FastDivisor.Of(p.H * p.W), W = FastDivisor.Of(p.W),
        SH = FastDivisor.Of(p.SH), SW = FastDivisor.Of(p.SW),
    };
}

internal static class ConvGemm
{
    /// <summary>col(x)[g][k, j]: the input under patch entry k of output position j, 0 in the padding.</summary>
    public static float Input(ArrayView<float> x, in ConvParams p, in ConvDivisors d, long offset, int g, int k, int j)
    {
        int ci = d.Taps.Div(k), tap = k - ci * d.Taps.Value, ky = d.KW.Div(tap), kx = tap - ky * p.KW;
        int n = d.Positions.Div(j), at = j - n * d.Positions.Value, oy = d.WO.Div(at), ox = at - oy * p.WO;
        int iy = oy * p.SH + ky * p.DH - p.PT, ix = ox * p.SW + kx * p.DW - p.PL;
        if (iy < 0 || iy >= p.H || ix < 0 || ix >= p.W) return 0f;
        return x[offset + (((long)n * p.C + g * (p.C / p.Groups) + ci) * p.H + iy) * p.W + ix];
    }

    /// <summary>
    /// Weight gradient of a grouped conv too narrow for the tiled GEMM (depthwise): one group per weight element
    /// dW[o, ci, ky, kx], its threads striding the batch's output positions, combined with warp shuffles.
    /// </summary>
    public static void WeightGradPerElement(ArrayView<float> x, ArrayView<float> dy, ArrayView<float> dw, ConvParams p, ConvDivisors d)
    {
        var perWarp = SharedMemory.Allocate<float>(ReduceKernels.MaxWarps);
        int cg = p.C / p.Groups, og = p.O / p.Groups, taps = p.KH * p.KW, w = Grid.IdxX;
        int o = w / (cg * taps), k = w % (cg * taps), g = o / og;
        int positions = p.HO * p.WO, total = p.N * positions;
        float sum = 0f;
        for (int j = Group.IdxX; j < total; j += Group.DimX)
            sum += dy[p.OffB + ((long)(j / positions) * p.O + o) * positions + j % positions] * Input(x, p, d, p.OffA, g, k, j);
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
