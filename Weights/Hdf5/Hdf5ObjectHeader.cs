namespace NativeASD.Weights.Hdf5;

/// <summary>One header message: its type, its bytes (a slice of the header chunk) and where it sits in the file.</summary>
internal readonly record struct Hdf5Message(ushort Type, byte Flags, ReadOnlyMemory<byte> Data, long Address)
{
    public const ushort Dataspace = 0x01, LinkInfo = 0x02, Datatype = 0x03, Link = 0x06, Layout = 0x08,
        FilterPipeline = 0x0b, Attribute = 0x0c, Continuation = 0x10, SymbolTable = 0x11, AttributeInfo = 0x15;

    /// <summary>Flag bit 1: the message body is a reference to a message stored elsewhere (a committed datatype).</summary>
    public bool IsShared => (Flags & 0x02) != 0;
}

/// <summary>
/// Object headers, version 1 (prefix + 8-byte aligned messages) and version 2 ("OHDR", checksummed), with their
/// continuation chunks. Chunks already visited are refused (a cycle), and all chunks of one object together may not
/// exceed the file, so a corrupted chain ends after at most a file's worth of bytes.
/// </summary>
internal static class Hdf5ObjectHeader
{
    public static List<Hdf5Message> Read(Hdf5File file, long address)
    {
        var messages = new List<Hdf5Message>();
        var pending = new Queue<(long Address, long Length)>();
        var visited = new HashSet<long> { address };
        long total = 0;
        string what = $"object header at 0x{address:x}";
        var prefix = file.Metadata(address, Math.Min(16, file.Length - address), "object header");
        bool v2 = prefix.Span.StartsWith("OHDR"u8), creationOrder = false;
        if (v2) creationOrder = ReadFirstChunkV2(file, address, messages, pending, ref total);
        else
        {
            // version 1, reserved, message count, reference count, header size, then padding to 16 bytes
            var cursor = new Hdf5Cursor(file, prefix.Span, "object header", address);
            byte version = cursor.U8();
            if (version != 1) throw cursor.Error($"version {version}: not an object header (expected 1, or the 'OHDR' signature of version 2)");
            cursor.Skip(7);
            long size = cursor.U32();
            cursor.Skip(4);
            pending.Enqueue((address + 16, size));
        }
        while (pending.TryDequeue(out var chunk))
        {
            if (!visited.Add(chunk.Address))
                throw file.Error($"{what}: continuation chunk at 0x{chunk.Address:x} is visited twice (a cycle)");
            total += chunk.Length;
            if (total > file.Length)
                throw file.Error($"{what}: continuation length 0x{chunk.Length:x} brings the header to {total:N0} bytes, beyond the file ({file.Length:N0} bytes)");
            var bytes = file.Metadata(chunk.Address, chunk.Length, $"{what}: chunk");
            if (v2) ReadChunkV2(file, chunk.Address, bytes, "OCHK"u8, messages, pending, creationOrder);
            else ReadChunkV1(file, chunk.Address, bytes, messages, pending);
        }
        return messages;
    }

    static void ReadChunkV1(Hdf5File file, long address, ReadOnlyMemory<byte> chunk, List<Hdf5Message> messages,
        Queue<(long, long)> pending)
    {
        var cursor = new Hdf5Cursor(file, chunk.Span, "object header chunk", address);
        while (cursor.Remaining >= 8)
        {
            ushort type = cursor.U16();
            int size = cursor.U16();
            byte flags = cursor.U8();
            cursor.Skip(3);
            int at = cursor.Position;
            cursor.Skip(size);
            Add(file, new Hdf5Message(type, flags, chunk.Slice(at, size), address + at), messages, pending);
        }
    }

    /// <summary>Reads the first chunk of a version-2 header; true when its messages carry a creation order.</summary>
    static bool ReadFirstChunkV2(Hdf5File file, long address, List<Hdf5Message> messages, Queue<(long, long)> pending, ref long total)
    {
        // signature 4, version 1, flags 1, optional times 16 and attribute phase change 4, chunk size 1-8 bytes
        var head = file.Metadata(address, Math.Min(34, file.Length - address), "object header");
        var cursor = new Hdf5Cursor(file, head.Span, "object header", address);
        cursor.Skip(4);
        byte version = cursor.U8();
        if (version != 2) throw cursor.Error($"'OHDR' version {version} (expected 2)");
        byte flags = cursor.U8();
        if ((flags & 0x20) != 0) cursor.Skip(16);
        if ((flags & 0x10) != 0) cursor.Skip(4);
        long size = (long)cursor.Sized(1 << (flags & 3));
        if (size > file.Length) throw cursor.Error($"chunk size 0x{size:x} is larger than the file ({file.Length:N0} bytes)");
        long length = cursor.Position + size + 4;
        total += length;
        var chunk = file.Metadata(address, length, "object header");
        bool creationOrder = (flags & 0x04) != 0;
        ReadChunkV2(file, address, chunk, "OHDR"u8, messages, pending, creationOrder, cursor.Position);
        return creationOrder;
    }

    static void ReadChunkV2(Hdf5File file, long address, ReadOnlyMemory<byte> chunk, ReadOnlySpan<byte> signature,
        List<Hdf5Message> messages, Queue<(long, long)> pending, bool creationOrder, int start = 4)
    {
        var cursor = new Hdf5Cursor(file, chunk.Span, "object header chunk", address);
        if (!cursor.Bytes(4).SequenceEqual(signature))
            throw cursor.Error($"expected the signature '{System.Text.Encoding.ASCII.GetString(signature)}'");
        if (chunk.Length < start + 4) throw cursor.Error("shorter than its checksum");
        // The checksum covers everything before it; check it before trusting any message.
        new Hdf5Cursor(file, chunk.Span, "object header chunk", address) { Position = chunk.Length - 4 }.Checksum();
        cursor.Position = start;
        int end = chunk.Length - 4, header = creationOrder ? 6 : 4;
        while (end - cursor.Position >= header) // fewer bytes left are a gap, not a message
        {
            byte type = cursor.U8();
            int size = cursor.U16();
            byte flags = cursor.U8();
            if (creationOrder) cursor.Skip(2);
            int at = cursor.Position;
            if (size > end - at) throw cursor.Error($"message of type 0x{type:x} claims {size} bytes, {end - at} are left in the chunk");
            cursor.Skip(size);
            Add(file, new Hdf5Message(type, flags, chunk.Slice(at, size), address + at), messages, pending);
        }
    }

    static void Add(Hdf5File file, Hdf5Message message, List<Hdf5Message> messages, Queue<(long, long)> pending)
    {
        if (message.Type == Hdf5Message.Continuation)
        {
            var cursor = new Hdf5Cursor(file, message.Data.Span, "continuation message", message.Address);
            long at = cursor.Address(), length = cursor.Length("continuation length");
            if (at == Hdf5File.Undefined || length == 0) throw cursor.Error("continuation to nowhere");
            pending.Enqueue((at, length));
        }
        else messages.Add(message);
    }
}
