using NativeASD.Kernels;

namespace NativeASD.Engine;

/// <summary>
/// A float32 N-d tensor: a strided view (shape, strides, offset) over reference-counted backend storage.
/// Views (reshape of contiguous data, permute, slice, broadcast) share storage and copy nothing; every
/// compute op goes through the storage's <see cref="IBackend"/>. Dispose returns the memory to the pool
/// once the last view sharing it is disposed.
/// </summary>
public sealed class Tensor : IDisposable
{
    readonly int[] _shape;
    readonly long[] _strides;
    bool _disposed;

    public Storage Storage { get; }
    public long Offset { get; }
    public IBackend Backend => Storage.Backend;
    public ReadOnlySpan<int> Shape => _shape;
    public ReadOnlySpan<long> Strides => _strides;
    public int Rank => _shape.Length;
    public long Count { get; }
    public bool IsContiguous => Layout.IsContiguous(_shape, _strides);

    /// <summary>Wraps storage this tensor now owns one reference of.</summary>
    Tensor(Storage storage, long offset, int[] shape, long[] strides)
    {
        if (shape.Length > StridedView.MaxRank)
            throw new ArgumentException($"tensor: rank {shape.Length} exceeds the maximum {StridedView.MaxRank}");
        foreach (int d in shape)
            if (d < 0) throw new ArgumentException($"tensor: negative dimension in shape {Layout.Format(shape)}");
        Storage = storage; Offset = offset; _shape = shape; _strides = strides;
        Count = Layout.Count(shape);
    }

    public int Dim(int axis) => _shape[NormalizeAxis(axis, "dim")];

    public int[] ShapeArray() => (int[])_shape.Clone();

    public StridedView View => new(Storage, Offset, _shape, _strides);

    public override string ToString() => $"Tensor{Layout.Format(_shape)} on {Backend.Kind}";

    // ---- creation ---------------------------------------------------------------------------------

    static IBackend Or(IBackend? backend) => backend ?? Backends.DefaultCpu;

    /// <summary>Uninitialised contiguous tensor (pooled memory: contents are whatever was there).</summary>
    public static Tensor Empty(int[] shape, IBackend? backend = null)
    {
        long n = Layout.Count(shape);
        return new Tensor(Or(backend).Allocate(n), 0, (int[])shape.Clone(), Layout.ContiguousStrides(shape));
    }

    public static Tensor Zeros(int[] shape, IBackend? backend = null)
    {
        long n = Layout.Count(shape);
        return new Tensor(Or(backend).Allocate(n, zero: true), 0, (int[])shape.Clone(), Layout.ContiguousStrides(shape));
    }

    public static Tensor Full(int[] shape, float value, IBackend? backend = null)
    {
        var t = Empty(shape, backend);
        t.Backend.Fill(t.View, value);
        return t;
    }

    /// <summary>Copies <paramref name="data"/> (row-major) into a new tensor of <paramref name="shape"/>.</summary>
    public static Tensor FromSpan(ReadOnlySpan<float> data, int[] shape, IBackend? backend = null)
    {
        if (data.Length != Layout.Count(shape))
            throw new ArgumentException($"tensor: {data.Length} values do not fill shape {Layout.Format(shape)} ({Layout.Count(shape)} elements)");
        var t = Empty(shape, backend);
        t.Backend.Upload(data, t.Storage, 0);
        return t;
    }

    public static Tensor FromArray(float[] data, params int[] shape) => FromSpan(data, shape);

    /// <summary>Row-major copy of the elements (reads through any strides).</summary>
    public float[] ToArray()
    {
        ThrowIfDisposed();
        var result = new float[Count];
        if (IsContiguous)
        {
            Backend.Download(Storage, Offset, result);
            return result;
        }
        using var c = Contiguous();
        c.Backend.Download(c.Storage, c.Offset, result);
        return result;
    }

    /// <summary>Element at an index (slow: for tests and small reads).</summary>
    public float this[params int[] index]
    {
        get
        {
            if (index.Length != Rank) throw new ArgumentException($"tensor index: {index.Length} indices for rank {Rank}");
            long at = Offset;
            for (int i = 0; i < Rank; i++)
            {
                if ((uint)index[i] >= (uint)_shape[i])
                    throw new IndexOutOfRangeException($"tensor index: {index[i]} out of range for axis {i} of {Layout.Format(_shape)}");
                at += index[i] * _strides[i];
            }
            Span<float> one = stackalloc float[1];
            Backend.Download(Storage, at, one);
            return one[0];
        }
    }

    // ---- views (share storage) --------------------------------------------------------------------

    Tensor ViewOf(long offset, int[] shape, long[] strides)
    {
        ThrowIfDisposed();
        return new Tensor(Storage.Retain(), offset, shape, strides);
    }

    /// <summary>Same data, new shape; one dimension may be -1. A view when contiguous, else a contiguous copy.</summary>
    public Tensor Reshape(params int[] shape)
    {
        int[] resolved = ResolveShape(shape);
        if (IsContiguous) return ViewOf(Offset, resolved, Layout.ContiguousStrides(resolved));
        using var c = Contiguous();
        return c.Reshape(resolved);
    }

    int[] ResolveShape(int[] shape)
    {
        var r = (int[])shape.Clone();
        int infer = Array.IndexOf(r, -1);
        if (infer >= 0)
        {
            long rest = 1;
            for (int i = 0; i < r.Length; i++) if (i != infer) rest *= r[i];
            if (rest == 0 || Count % rest != 0)
                throw new ArgumentException($"reshape: cannot infer -1 in {Layout.Format(shape)} from {Layout.Format(_shape)}");
            r[infer] = (int)(Count / rest);
        }
        if (Layout.Count(r) != Count)
            throw new ArgumentException($"reshape: {Layout.Format(_shape)} ({Count} elements) cannot become {Layout.Format(shape)}");
        return r;
    }

    /// <summary>Reorders axes: result axis i is this tensor's axis <c>order[i]</c>. A view.</summary>
    public Tensor Permute(params int[] order)
    {
        if (order.Length != Rank || order.Distinct().Count() != Rank || order.Any(a => a < 0 || a >= Rank))
            throw new ArgumentException($"permute: order [{string.Join(",", order)}] is not a permutation of {Rank} axes of {Layout.Format(_shape)}");
        return ViewOf(Offset, order.Select(a => _shape[a]).ToArray(), order.Select(a => _strides[a]).ToArray());
    }

    /// <summary>Swaps two axes. A view.</summary>
    public Tensor Transpose(int axisA, int axisB)
    {
        var order = Enumerable.Range(0, Rank).ToArray();
        int a = NormalizeAxis(axisA, "transpose"), b = NormalizeAxis(axisB, "transpose");
        (order[a], order[b]) = (b, a);
        return Permute(order);
    }

    /// <summary>Elements [start, start+length) along an axis. A view.</summary>
    public Tensor Slice(int axis, int start, int length)
    {
        axis = NormalizeAxis(axis, "slice");
        if (start < 0 || length < 0 || start + length > _shape[axis])
            throw new ArgumentOutOfRangeException(nameof(start), $"slice: [{start},{start + length}) out of range for axis {axis} of {Layout.Format(_shape)}");
        var shape = ShapeArray();
        shape[axis] = length;
        return ViewOf(Offset + start * _strides[axis], shape, (long[])_strides.Clone());
    }

    /// <summary>Inserts a size-1 axis. A view.</summary>
    public Tensor Unsqueeze(int axis)
    {
        if (axis < 0) axis += Rank + 1;
        if (axis < 0 || axis > Rank) throw new ArgumentOutOfRangeException(nameof(axis), $"unsqueeze: axis out of range for {Layout.Format(_shape)}");
        var shape = _shape.ToList(); shape.Insert(axis, 1);
        var strides = _strides.ToList(); strides.Insert(axis, 0);
        return ViewOf(Offset, shape.ToArray(), strides.ToArray());
    }

    /// <summary>Removes a size-1 axis. A view.</summary>
    public Tensor Squeeze(int axis)
    {
        axis = NormalizeAxis(axis, "squeeze");
        if (_shape[axis] != 1) throw new ArgumentException($"squeeze: axis {axis} of {Layout.Format(_shape)} is not 1");
        return ViewOf(Offset, _shape.Where((_, i) => i != axis).ToArray(), _strides.Where((_, i) => i != axis).ToArray());
    }

    /// <summary>Repeats size-1 (or missing leading) axes to <paramref name="shape"/> with stride 0 (numpy rules). A view.</summary>
    public Tensor BroadcastTo(params int[] shape)
    {
        if (shape.Length < Rank) throw new ArgumentException($"broadcast: {Layout.Format(_shape)} cannot broadcast to fewer axes {Layout.Format(shape)}");
        var strides = new long[shape.Length];
        int lead = shape.Length - Rank;
        for (int i = 0; i < shape.Length; i++)
        {
            if (i < lead) { strides[i] = 0; continue; }
            int d = _shape[i - lead];
            if (d == shape[i]) strides[i] = _strides[i - lead];
            else if (d == 1) strides[i] = 0;
            else throw new ArgumentException($"broadcast: {Layout.Format(_shape)} cannot broadcast to {Layout.Format(shape)}");
        }
        return ViewOf(Offset, (int[])shape.Clone(), strides);
    }

    /// <summary>A new reference to the same view (the caller disposes it independently).</summary>
    public Tensor Share() => ViewOf(Offset, ShapeArray(), (long[])_strides.Clone());

    // ---- copies ----------------------------------------------------------------------------------

    /// <summary>This tensor if already contiguous (as a new reference), else a contiguous copy.</summary>
    public Tensor Contiguous() => IsContiguous ? Share() : Clone();

    /// <summary>A contiguous copy in fresh storage.</summary>
    public Tensor Clone()
    {
        ThrowIfDisposed();
        var t = Empty(_shape, Backend);
        Backend.Unary(UnaryOp.Copy, View, t.View);
        return t;
    }

    /// <summary>Copies this tensor to another backend (download then upload).</summary>
    public Tensor To(IBackend backend)
    {
        if (ReferenceEquals(backend, Backend)) return Share();
        return FromSpan(ToArray(), _shape, backend);
    }

    internal int NormalizeAxis(int axis, string op)
    {
        int a = axis < 0 ? axis + Rank : axis;
        if ((uint)a >= (uint)Rank) throw new ArgumentOutOfRangeException(nameof(axis), $"{op}: axis {axis} out of range for {Layout.Format(_shape)}");
        return a;
    }

    void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Storage.Release();
    }
}
