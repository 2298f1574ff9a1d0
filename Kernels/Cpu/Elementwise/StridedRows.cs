namespace NativeASD.Kernels.Cpu;

/// <summary>
/// Walks up to three same-shaped strided views row by row. Adjacent axes that are contiguous in every
/// operand are merged first, so a contiguous tensor is one long row and a broadcast bias is rows of
/// stride-0 reads. Immutable after construction, so tasks on several threads can share it.
/// </summary>
internal sealed class StridedRows
{
    readonly int[] _outerShape;
    readonly long[][] _outerStrides;
    readonly long[] _offsets;

    public int RowLength { get; }
    public long Rows { get; }
    public long Count => Rows * RowLength;

    /// <summary>Element step along a row for operand i (1 = contiguous, 0 = broadcast).</summary>
    public long InnerStride(int operand) => _innerStrides[operand];
    readonly long[] _innerStrides;

    public StridedRows(int[] shape, params StridedView[] views)
    {
        int k = views.Length;
        var dims = new List<int>();
        var strides = new List<long[]>();
        for (int axis = 0; axis < shape.Length; axis++)
        {
            if (shape[axis] == 1) continue;
            var s = new long[k];
            for (int i = 0; i < k; i++) s[i] = views[i].Strides[axis];
            int last = dims.Count - 1;
            bool merge = last >= 0;
            for (int i = 0; merge && i < k; i++) merge = strides[last][i] == s[i] * shape[axis];
            if (merge) { dims[last] *= shape[axis]; strides[last] = s; }
            else { dims.Add(shape[axis]); strides.Add(s); }
        }
        if (dims.Count == 0) { dims.Add(shape.Length == 0 || Layout.Count(shape) == 1 ? 1 : 0); strides.Add(new long[k]); }
        RowLength = dims[^1];
        _innerStrides = strides[^1];
        _outerShape = dims.Take(dims.Count - 1).ToArray();
        _outerStrides = strides.Take(strides.Count - 1).ToArray();
        Rows = Layout.Count(_outerShape);
        if (Layout.Count(shape) == 0) Rows = 0;
        _offsets = views.Select(v => v.Offset).ToArray();
    }

    /// <summary>Start element of row <paramref name="row"/> for operand <paramref name="operand"/>.</summary>
    public long RowStart(long row, int operand)
    {
        long offset = _offsets[operand];
        for (int axis = _outerShape.Length - 1; axis >= 0 && row > 0; axis--)
        {
            long index = row % _outerShape[axis];
            row /= _outerShape[axis];
            offset += index * _outerStrides[axis][operand];
        }
        return offset;
    }

    /// <summary>Coalesced rank-2 view of operand i when the whole walk is one outer axis, for tiled transposes.</summary>
    public bool IsSingleOuterAxis(out int outer, out long outerStrideA, out long outerStrideB)
    {
        outer = _outerShape.Length == 1 ? _outerShape[0] : 0;
        outerStrideA = outer > 0 ? _outerStrides[0][0] : 0;
        outerStrideB = outer > 0 && _outerStrides[0].Length > 1 ? _outerStrides[0][1] : 0;
        return _outerShape.Length == 1;
    }
}
