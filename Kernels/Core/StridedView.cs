namespace NativeASD.Kernels;

/// <summary>
/// What every kernel receives: storage, an element offset, a shape and per-axis strides in elements.
/// A stride of 0 repeats an element along that axis (broadcasting).
/// </summary>
public readonly struct StridedView
{
    /// <summary>Highest rank a kernel accepts; lets kernels keep index counters on the stack.</summary>
    public const int MaxRank = 8;

    public readonly Storage Storage;
    public readonly long Offset;
    public readonly int[] Shape;
    public readonly long[] Strides;

    public StridedView(Storage storage, long offset, int[] shape, long[] strides)
    {
        ArgumentNullException.ThrowIfNull(storage);
        if (shape.Length != strides.Length)
            throw new ArgumentException($"view: shape rank {shape.Length} != strides rank {strides.Length}");
        if (shape.Length > MaxRank)
            throw new ArgumentException($"view: rank {shape.Length} exceeds the maximum {MaxRank}");
        Storage = storage; Offset = offset; Shape = shape; Strides = strides;
    }

    /// <summary>A contiguous row-major view over the start of a storage.</summary>
    public static StridedView Contiguous(Storage storage, params int[] shape) =>
        new(storage, 0, shape, Layout.ContiguousStrides(shape));

    public int Rank => Shape.Length;
    public long Count => Layout.Count(Shape);
    public bool IsContiguous => Layout.IsContiguous(Shape, Strides);

    public override string ToString() => Layout.Format(Shape);
}
