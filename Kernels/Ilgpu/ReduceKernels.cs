using ILGPU;
using ILGPU.Algorithms;

namespace NativeASD.Kernels.Ilgpu;

/// <summary>What a reduction kernel needs besides the buffers; a plain struct so it goes to the device by value.</summary>
internal struct ReduceArgs
{
    /// <summary>Walks the outputs: operand A = x at axis index 0, operand Y = y.</summary>
    public ViewWalk Outputs;
    /// <summary>x's stride along the reduced axis, and that axis' length.</summary>
    public long AxisStride;
    public int N;
    public int Op;
    public int Correction;
}

/// <summary>
/// Reductions along one axis of a strided view, writing straight into a strided y (no staging copies).
/// Two shapes of work, same results up to float summation order:
/// <list type="bullet">
/// <item><see cref="Columns"/>: one thread per output looping over the axis. Neighbouring threads read
/// neighbouring elements when the reduced axis is not the innermost, so loads coalesce; sums are blocked
/// (partials of <see cref="Block"/> elements) to keep the error near the CPU's.</item>
/// <item><see cref="Rows"/>: one group per output, its threads striding the axis; sums combine by warp shuffles
/// (<see cref="GroupSum"/>), max/min/argmax in shared memory by a tree. For long axes that are contiguous, or too few
/// outputs to fill the device.</item>
/// </list>
/// Semantics follow the CPU ReduceJob: Max/Min propagate NaN; Variance is two-pass (mean, then squared
/// deviations) divided by max(0, n − correction); ArgMax is the first index of the maximum with NaN counting
/// as the maximum (torch.argmax), written as a float.
/// </summary>
internal static class ReduceKernels
{
    /// <summary>Threads per group of <see cref="Rows"/> at most (shared arrays are sized for it); a power of two.</summary>
    public const int MaxRowGroup = 256;
    const int Block = 128;

    public static void Columns(Index1D i, ArrayView<float> x, ArrayView<float> y, ReduceArgs r)
    {
        ViewWalk.Offsets(r.Outputs, i, out long xo, out _, out long yo);
        long s = r.AxisStride;
        int n = r.N;
        float result;
        switch ((ReduceOp)r.Op)
        {
            case ReduceOp.Sum:
                result = BlockedSum(x, xo, s, n, 0f, false);
                break;
            case ReduceOp.Mean:
                result = BlockedSum(x, xo, s, n, 0f, false) / n;
                break;
            case ReduceOp.Variance:
                {
                    float mean = BlockedSum(x, xo, s, n, 0f, false) / n;
                    result = BlockedSum(x, xo, s, n, mean, true) / XMath.Max(0, n - r.Correction);
                    break;
                }
            case ReduceOp.Max:
            case ReduceOp.Min:
                {
                    result = x[xo];
                    bool max = r.Op == (int)ReduceOp.Max;
                    for (int j = 1; j < n; j++)
                    {
                        float v = x[xo + j * s];
                        result = max ? ElementwiseKernels.MaxOf(result, v) : ElementwiseKernels.MinOf(result, v);
                    }
                    break;
                }
            case ReduceOp.ArgMax:
                {
                    float best = x[xo];
                    int at = 0;
                    for (int j = 1; j < n && !XMath.IsNaN(best); j++)
                    {
                        float v = x[xo + j * s];
                        if (v > best || XMath.IsNaN(v)) { best = v; at = j; }
                    }
                    result = at;
                    break;
                }
            default:
                result = float.NaN;
                break;
        }
        y[yo] = result;
    }

    /// <summary>Σ x_j, or Σ (x_j − mean)² when <paramref name="squaredDeviations"/>, summed in blocks.</summary>
    static float BlockedSum(ArrayView<float> x, long xo, long s, int n, float mean, bool squaredDeviations)
    {
        float total = 0f;
        for (int j0 = 0; j0 < n; j0 += Block)
        {
            float partial = 0f;
            int j1 = XMath.Min(j0 + Block, n);
            for (int j = j0; j < j1; j++)
            {
                float v = x[xo + j * s];
                if (squaredDeviations) { v -= mean; v *= v; }
                partial += v;
            }
            total += partial;
        }
        return total;
    }

    /// <summary>Explicitly grouped: group g reduces output g; Group.DimX must be a power of two ≤ <see cref="MaxRowGroup"/>.</summary>
    public static void Rows(ArrayView<float> x, ArrayView<float> y, ReduceArgs r)
    {
        var values = SharedMemory.Allocate<float>(MaxRowGroup);
        var indices = SharedMemory.Allocate<int>(MaxRowGroup);
        int t = Group.IdxX, g = Group.DimX, n = r.N;
        ViewWalk.Offsets(r.Outputs, Grid.IdxX, out long xo, out _, out long yo);
        long s = r.AxisStride;
        float result;
        switch ((ReduceOp)r.Op)
        {
            case ReduceOp.Sum:
            case ReduceOp.Mean:
            case ReduceOp.Variance:
                {
                    float sum = 0f;
                    for (int j = t; j < n; j += g) sum += x[xo + j * s];
                    float total = GroupSum(values, sum);
                    if (r.Op == (int)ReduceOp.Sum) { result = total; break; }
                    float mean = total / n;
                    if (r.Op == (int)ReduceOp.Mean) { result = mean; break; }
                    float squares = 0f;
                    for (int j = t; j < n; j += g) { float d = x[xo + j * s] - mean; squares += d * d; }
                    result = GroupSum(values, squares) / XMath.Max(0, n - r.Correction);
                    break;
                }
            case ReduceOp.Max:
            case ReduceOp.Min:
                {
                    // Every thread starts from element 0: repeating an element changes neither max nor min,
                    // and threads with no element of their own still hold a valid value.
                    bool max = r.Op == (int)ReduceOp.Max;
                    float m = x[xo];
                    for (int j = t; j < n; j += g)
                    {
                        float v = x[xo + j * s];
                        m = max ? ElementwiseKernels.MaxOf(m, v) : ElementwiseKernels.MinOf(m, v);
                    }
                    values[t] = m;
                    Group.Barrier();
                    for (int half = g / 2; half > 0; half /= 2)
                    {
                        if (t < half)
                            values[t] = max ? ElementwiseKernels.MaxOf(values[t], values[t + half]) : ElementwiseKernels.MinOf(values[t], values[t + half]);
                        Group.Barrier();
                    }
                    result = values[0];
                    break;
                }
            case ReduceOp.ArgMax:
                {
                    // Each thread keeps the first best of its own (increasing) indices; pairs then combine
                    // by value, NaN winning, ties to the lower index — the first maximum overall.
                    float best = x[xo];
                    int at = 0;
                    for (int j = t; j < n && !XMath.IsNaN(best); j += g)
                    {
                        float v = x[xo + j * s];
                        if (v > best || XMath.IsNaN(v)) { best = v; at = j; }
                    }
                    values[t] = best;
                    indices[t] = at;
                    Group.Barrier();
                    for (int half = g / 2; half > 0; half /= 2)
                    {
                        if (t < half && SecondWins(values[t], indices[t], values[t + half], indices[t + half]))
                        {
                            values[t] = values[t + half];
                            indices[t] = indices[t + half];
                        }
                        Group.Barrier();
                    }
                    result = indices[0];
                    break;
                }
            default:
                result = float.NaN;
                break;
        }
        if (t == 0) y[yo] = result;
    }

    /// <summary>Warps per group at most (the per-warp partials of <see cref="GroupSum"/>): 1024 threads of 32, or 16 of 1.</summary>
    public const int MaxWarps = 32;

    /// <summary>Sum over the warp by shuffles (log2 warp-size steps, no shared memory); lane 0 holds the total.</summary>
    static float WarpSum(float v)
    {
        for (int delta = Warp.WarpSize / 2; delta > 0; delta /= 2) v += Warp.ShuffleDown(v, delta);
        return v;
    }

    /// <summary>
    /// Sum of one value per thread of the group, every thread gets the total: warp shuffles within each warp, the warps'
    /// partials through <paramref name="perWarp"/> (≥ warps per group, ≤ warp size of them), then shuffles again.
    /// The group must be whole warps. Leaves <paramref name="perWarp"/> reusable.
    /// </summary>
    public static float GroupSum(ArrayView<float> perWarp, float mine)
    {
        float partial = WarpSum(mine);
        if (Warp.IsFirstLane) perWarp[Warp.WarpIdx] = partial;
        Group.Barrier();
        int warps = Group.DimX / Warp.WarpSize;
        float total = WarpSum(Warp.LaneIdx < warps ? perWarp[Warp.LaneIdx] : 0f);
        total = Warp.Shuffle(total, 0);
        Group.Barrier();
        return total;
    }

    /// <summary>ArgMax combine: does (v2, i2) beat (v1, i1)?</summary>
    static bool SecondWins(float v1, int i1, float v2, int i2)
    {
        bool nan1 = XMath.IsNaN(v1), nan2 = XMath.IsNaN(v2);
        if (nan1 || nan2) return nan2 && (!nan1 || i2 < i1);
        return v2 > v1 || (v2 == v1 && i2 < i1);
    }
}
