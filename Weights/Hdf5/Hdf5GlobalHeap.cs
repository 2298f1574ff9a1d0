namespace NativeASD.Weights.Hdf5;

/// <summary>
/// A global heap collection ("GCOL"): where variable-length strings are stored. Its objects are indexed once; each
/// object's size is checked against the collection before it is used.
/// </summary>
internal sealed class Hdf5GlobalHeap
{
    readonly Hdf5File file;
    readonly long address;
    readonly ReadOnlyMemory<byte> bytes;
    readonly Dictionary<ushort, (int Start, int Length)> objects = [];

    public Hdf5GlobalHeap(Hdf5File file, long address)
    {
        this.file = file;
        this.address = address;
        var head = file.Metadata(address, Math.Min(16, file.Length - address), "global heap");
        var cursor = new Hdf5Cursor(file, head.Span, "global heap", address);
        if (!cursor.Bytes(4).SequenceEqual("GCOL"u8)) throw cursor.Error("no 'GCOL' signature");
        byte version = cursor.U8();
        if (version != 1) throw cursor.Error($"version {version} (expected 1)");
        cursor.Skip(3);
        long size = cursor.Length("collection size");
        if (size < 16) throw cursor.Error($"collection size {size} is smaller than its header");
        bytes = file.Metadata(address, size, "global heap");
        cursor = new Hdf5Cursor(file, bytes.Span, "global heap", address) { Position = 16 };
        // objects: index 2, reference count 2, reserved 4, size 8, data padded to 8; index 0 is the free space
        while (cursor.Remaining >= 16)
        {
            ushort index = cursor.U16();
            if (index == 0) break;
            cursor.Skip(6);
            long length = cursor.Length("object size");
            int start = cursor.Position;
            cursor.Skip(length);
            cursor.Skip(Math.Min((8 - length % 8) % 8, cursor.Remaining)); // padding to 8 bytes
            objects[index] = (start, (int)length);
        }
    }

    /// <summary>The bytes of object <paramref name="index"/>, of which the first <paramref name="length"/> are asked for.</summary>
    public ReadOnlySpan<byte> Object(uint index, long length)
    {
        if (index > ushort.MaxValue || !objects.TryGetValue((ushort)index, out var found))
            throw file.Error($"global heap at 0x{address:x}: no object {index}");
        if (length > found.Length) throw file.Error($"global heap at 0x{address:x}: object {index} holds {found.Length} bytes, {length} are asked for");
        return bytes.Span.Slice(found.Start, (int)length);
    }
}
