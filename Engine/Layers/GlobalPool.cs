using NativeASD.Kernels;

namespace NativeASD.Engine.Layers;

public enum PoolMode { Mean, Max }

/// <summary>
/// Mean or max over chosen axes (e.g. PANNs: mean over frequency axis 3, then max and mean over time axis 2).
/// The pooled axes are removed, or kept as size 1 when <c>keepDims</c>. Forward moves the pooled axes last,
/// views the data as [K, P] (K kept positions, P pooled values each) and reduces along P.
/// Backward: mean spreads dy/P over the P inputs; max routes dy to the first maximum (argmax, as torch.max(dim)).
/// </summary>
public sealed class GlobalPool : Layer
{
    readonly int[] _axes;
    readonly PoolMode _mode;
    readonly bool _keepDims;

    int[]? _inShape;
    Tensor? _argMax;   // [K, 1] float indices into P (max mode)

    public GlobalPool(int[] axes, PoolMode mode, bool keepDims = false, IBackend? backend = null) : base(backend)
    {
        if (axes.Length == 0) throw new ArgumentException("GlobalPool: no axes to pool");
        (_axes, _mode, _keepDims) = ((int[])axes.Clone(), mode, keepDims);
    }

    public override string Describe() => $"GlobalPool({_mode}, axes [{string.Join(",", _axes)}])";

    /// <summary>The pooled axes as non-negative, sorted, distinct indices for a rank-r input.</summary>
    int[] Axes(ReadOnlySpan<int> shape)
    {
        int r = shape.Length;
        var axes = _axes.Select(a => a < 0 ? a + r : a).Distinct().Order().ToArray();
        if (axes.Length != _axes.Length || axes.Any(a => a < 0 || a >= r))
            throw new ArgumentException($"{Describe()}: axes do not fit input {Layout.Format(shape)}");
        return axes;
    }

    /// <summary>Output shape with pooled axes dropped, or set to 1 when keepDims.</summary>
    int[] OutShape(ReadOnlySpan<int> shape, int[] axes, bool keep)
    {
        var result = new List<int>();
        for (int i = 0; i < shape.Length; i++)
            if (!axes.Contains(i)) result.Add(shape[i]);
            else if (keep) result.Add(1);
        return [.. result];
    }

    public override Tensor Forward(Tensor x)
    {
        var axes = Axes(x.Shape);
        foreach (int a in axes)
            if (x.Dim(a) == 0) throw new ArgumentException($"{Describe()}: axis {a} of input {Layout.Format(x.Shape)} is empty");
        var kept = Enumerable.Range(0, x.Rank).Where(a => !axes.Contains(a)).ToArray();
        int p = axes.Aggregate(1, (acc, a) => acc * x.Dim(a));
        using var permuted = x.Permute([.. kept, .. axes]);
        using var rows = permuted.Reshape(-1, p);                                   // [K, P] (copies unless already in order)
        using var pooled = Ops.Reduce(_mode == PoolMode.Mean ? ReduceOp.Mean : ReduceOp.Max, rows, 1, keepDim: true);   // [K, 1]
        if (Training)
        {
            _inShape = x.ShapeArray();
            Keep(ref _argMax, _mode == PoolMode.Max ? Ops.Reduce(ReduceOp.ArgMax, rows, 1, keepDim: true) : null);
        }
        else ClearSaved();
        return pooled.Reshape(OutShape(x.Shape, axes, _keepDims));
    }

    public override Tensor Backward(Tensor dy)
    {
        var inShape = _inShape ?? throw NoForward();
        var axes = Axes(inShape);
        CheckGradShape(dy, OutShape(inShape, axes, _keepDims));
        int p = axes.Aggregate(1, (acc, a) => acc * inShape[a]);
        if (_mode == PoolMode.Mean)
        {
            using var dyKeep = dy.Reshape(OutShape(inShape, axes, keep: true));
            using var spread = dyKeep.BroadcastTo(inShape);
            ClearSaved();
            return Ops.Scale(spread, 1f / p);                                       // dx = dy / P everywhere
        }
        var kept = Enumerable.Range(0, inShape.Length).Where(a => !axes.Contains(a)).ToArray();
        int[] order = [.. kept, .. axes];
        using var dyRows = dy.Reshape(-1, 1);                                       // [K, 1]
        using var dRows = Tensor.Empty([dyRows.Dim(0), p], dy.Backend);            // [K, P]
        dy.Backend.ScatterAlongAxis(dyRows.View, Saved(_argMax).View, 1, dRows.View);
        ClearSaved();
        using var dPermuted = dRows.Reshape(order.Select(a => inShape[a]).ToArray());
        var inverse = new int[order.Length];
        for (int i = 0; i < order.Length; i++) inverse[order[i]] = i;
        using var back = dPermuted.Permute(inverse);
        return back.Contiguous();
    }

    public override void ClearSaved()
    {
        Keep(ref _argMax, null);
        _inShape = null;
    }
}
