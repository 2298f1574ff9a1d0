namespace NativeASD.Weights.Torch;

/// <summary>Turns <see cref="TorchTensorRef"/>s into <see cref="WeightTensor"/>s whose decode reads the storage bytes and materialises row-major float32.</summary>
static class TorchTensors
{
    /// <summary>Reads <c>count</c> elements of a storage starting at element <c>offset</c> (raw little-endian bytes).</summary>
    public delegate byte[] StorageReader(TorchStorage storage, long offset, long count);

    public static WeightTensor Make(string path, string name, TorchTensorRef t, StorageReader read)
    {
        int size = WeightDTypes.Size(t.Storage.DType);
        return new WeightTensor(name, t.Shape, t.Storage.DType, t.Count * size, () => Decode(path, name, t, read))
        {
            Note = t.IsRowMajorContiguous ? null : $"strided view ({string.Join(",", t.Strides)}) of storage {t.Storage.Key}",
        };
    }

    static float[] Decode(string path, string name, TorchTensorRef t, StorageReader read)
    {
        long count = t.Count;
        if (count > Array.MaxLength) throw new WeightFormatException(path, $"tensor {name} has {count} elements, more than one array holds");
        var result = new float[count];
        if (count == 0) return result;
        long span = 1;
        for (int i = 0; i < t.Shape.Length; i++) span += (t.Shape[i] - 1L) * t.Strides[i];
        if (span > Array.MaxLength) throw new WeightFormatException(path, $"tensor {name} spans {span} storage elements");
        var raw = read(t.Storage, t.Offset, span);
        if (t.IsRowMajorContiguous)
        {
            WeightDTypes.DecodeToFloat32(raw, t.Storage.DType, result);
            return result;
        }
        // Non-contiguous view: decode the covered window once, then walk the strides in row-major order.
        var window = new float[span];
        WeightDTypes.DecodeToFloat32(raw, t.Storage.DType, window);
        var index = new int[t.Shape.Length];
        long src = 0;
        for (long k = 0; k < count; k++)
        {
            result[k] = window[src];
            for (int d = t.Shape.Length - 1; d >= 0; d--)
            {
                if (++index[d] < t.Shape[d]) { src += t.Strides[d]; break; }
                src -= (t.Shape[d] - 1L) * t.Strides[d];
                index[d] = 0;
            }
        }
        return result;
    }
}
