using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace NativeASD.Weights.Safetensors;

/// <summary>One tensor to write: its raw little-endian bytes are produced on demand, one tensor at a time.</summary>
public sealed record SafetensorsTensor(string Name, WeightDType DType, int[] Shape, Func<ReadOnlyMemory<byte>> Data)
{
    public long ByteLength => Shape.Aggregate(1L, (a, d) => a * d) * WeightDTypes.Size(DType);

    public static SafetensorsTensor Float32(string name, int[] shape, float[] values) =>
        new(name, WeightDType.F32, shape, () => FloatBytes.Of(values));

    public static SafetensorsTensor Int64(string name, int[] shape, long[] values) =>
        new(name, WeightDType.I64, shape, () => MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
}

/// <summary>The bytes of a float32 array as <see cref="ReadOnlyMemory{T}"/> of bytes, without copying (little-endian machines).</summary>
public sealed class FloatBytes(float[] values) : MemoryManager<byte>
{
    public static ReadOnlyMemory<byte> Of(float[] values) => new FloatBytes(values).Memory;

    public override Span<byte> GetSpan() => MemoryMarshal.AsBytes(values.AsSpan());

    public override unsafe MemoryHandle Pin(int elementIndex = 0)
    {
        var handle = GCHandle.Alloc(values, GCHandleType.Pinned);
        return new MemoryHandle((byte*)handle.AddrOfPinnedObject() + elementIndex, handle);
    }

    public override void Unpin() { }

    protected override void Dispose(bool disposing) { }
}

/// <summary>
/// Writes safetensors files: 8-byte little-endian header length, JSON header padded with spaces so the data starts
/// on a 64-byte boundary, then the tensors back to back. The format forbids holes between tensors, so per-tensor
/// 64-byte padding is not possible; instead tensors are ordered by element size (largest first, as Python's
/// safetensors does) so each starts aligned to its own element size. Written to a stream: Engine's AtomicFile makes it a file atomically.
/// </summary>
public static class SafetensorsWriter
{
    public const int Alignment = 64;

    /// <param name="path">The file the stream will become, for messages (callers write files with Engine's AtomicFile).</param>
    public static void Write(Stream output, string path, IReadOnlyList<SafetensorsTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors writing needs a little-endian machine");
        var names = new HashSet<string>();
        foreach (var t in tensors)
        {
            if (t.Name.Length == 0 || t.Name == "__metadata__" || !names.Add(t.Name)) throw new ArgumentException($"safetensors write {path}: tensor name '{t.Name}' is empty, reserved or repeated");
            if (t.Shape.Any(d => d < 0)) throw new ArgumentException($"safetensors write {path}: tensor {t.Name} has a negative dimension");
        }
        var ordered = tensors.Select((t, i) => (t, i)).OrderByDescending(x => WeightDTypes.Size(x.t.DType)).ThenBy(x => x.i).Select(x => x.t).ToList();

        byte[] header = BuildHeader(ordered, metadata);
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
        output.Write(len);
        output.Write(header);
        foreach (var t in ordered)
        {
            var data = t.Data();
            if (data.Length != t.ByteLength) throw new ArgumentException($"safetensors write {path}: tensor {t.Name} produced {data.Length} bytes, its dtype and shape need {t.ByteLength}");
            output.Write(data.Span);
        }
    }

    static byte[] BuildHeader(List<SafetensorsTensor> ordered, IReadOnlyDictionary<string, string>? metadata)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in ordered)
            {
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", WeightDTypes.SafetensorsName(t.DType));
                w.WriteStartArray("shape");
                foreach (int d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + t.ByteLength);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += t.ByteLength;
            }
            w.WriteEndObject();
        }
        int length = (int)ms.Length;
        int padded = (length + 8 + Alignment - 1) / Alignment * Alignment - 8; // the spec allows trailing spaces
        var header = new byte[padded];
        ms.GetBuffer().AsSpan(0, length).CopyTo(header);
        header.AsSpan(length).Fill((byte)' ');
        return header;
    }
}
