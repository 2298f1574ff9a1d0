using System.IO.Compression;

namespace NativeASD.Weights.Hdf5;

/// <summary>
/// A dataset: datatype, dataspace and its stored data, contiguous, compact (inside the header) or chunked (version-1
/// B-tree of type 1, or a single chunk) with the deflate and shuffle filters. Stored sizes are checked against the
/// shape before anything is read, and the bytes a chunked dataset can expand to are bounded by deflate's ratio.
/// </summary>
internal sealed class Hdf5Dataset
{
    /// <summary>The largest expansion deflate can achieve (258-byte matches from ~2 bits): bounds chunk sizes.</summary>
    const long DeflateRatio = 1032;

    readonly Hdf5File file;
    readonly string name;
    readonly List<Hdf5Filter> filters = [];
    readonly (long Address, long Length)? contiguous;
    readonly ReadOnlyMemory<byte> compact;
    readonly long[]? chunkDims;
    readonly List<Chunk>? chunks;

    readonly record struct Chunk(long[] Offset, long Address, long StoredSize, uint FilterMask);

    public Hdf5Dataset(Hdf5File file, string name, Hdf5Object owner, List<Hdf5Message> messages)
    {
        this.file = file;
        this.name = name;
        Hdf5Message? type = null, space = null, layout = null;
        foreach (var message in messages)
        {
            if (message.Type is Hdf5Message.Datatype or Hdf5Message.Dataspace or Hdf5Message.Layout && message.IsShared)
                throw Error($"a shared message of type 0x{message.Type:x} (e.g. a committed datatype) is not read");
            switch (message.Type)
            {
                case Hdf5Message.Datatype: type = message; break;
                case Hdf5Message.Dataspace: space = message; break;
                case Hdf5Message.Layout: layout = message; break;
                case Hdf5Message.FilterPipeline: filters.AddRange(Hdf5Filter.ParsePipeline(file, message)); break;
            }
        }
        if (type is null || space is null || layout is null)
            throw Error($"object at 0x{owner.Address:x} is not a dataset (no datatype, dataspace or layout message)");
        Type = Hdf5DataType.Parse(file, type.Value.Data.Span, type.Value.Address);
        Space = Hdf5Dataspace.Parse(file, space.Value.Data.Span, space.Value.Address);
        if (Space.IsNull) throw Error("has a null dataspace (no elements)");

        var cursor = new Hdf5Cursor(file, layout.Value.Data.Span, $"layout message of '{name}'", layout.Value.Address);
        byte version = cursor.U8();
        if (version is < 3 or > 4) throw cursor.Error($"version {version}: only layout messages 3 and 4 are read (libhdf5 1.6 and later write them)");
        byte layoutClass = cursor.U8();
        switch (layoutClass)
        {
            case 0:
                int size = cursor.U16(), at = cursor.Position;
                cursor.Skip(size);
                compact = layout.Value.Data.Slice(at, size);
                CheckStoredSize(size);
                break;
            case 1:
                long address = cursor.Address(), length = cursor.Length("contiguous data size");
                CheckStoredSize(length);
                contiguous = (address, length);
                break;
            case 2:
                (chunkDims, chunks) = version == 3 ? ChunkedV3(ref cursor) : ChunkedV4(ref cursor);
                CheckChunks();
                break;
            default:
                throw cursor.Error($"layout class {layoutClass} is not read (0 compact, 1 contiguous, 2 chunked)");
        }
    }

    public Hdf5DataType Type { get; }
    public Hdf5Dataspace Space { get; }
    public bool IsChunked => chunks is not null;

    /// <summary>Bytes of the data once read: elements × element size (checked against what the file stores).</summary>
    public long ByteCount => Space.Count * Type.Size;

    WeightFormatException Error(string problem) => file.Error($"dataset '{name}': {problem}");

    void CheckStoredSize(long stored)
    {
        if (Space.Count > file.Length / Type.Size)
            throw Error($"shape {Space} of {Type.Size}-byte elements needs more bytes than the file's {file.Length:N0} can hold");
        if (Space.Count * Type.Size != stored)
            throw Error($"shape {Space} of {Type.Size}-byte elements needs {Space.Count * Type.Size:N0} bytes but {stored:N0} are stored");
        if (filters.Count > 0) throw Error("filters on a dataset that is not chunked");
    }

    (long[], List<Chunk>) ChunkedV3(ref Hdf5Cursor cursor)
    {
        int dims = cursor.U8();
        long tree = cursor.Address();
        long[] chunkDims = ChunkDims(ref cursor, dims, 4);
        return (chunkDims, ChunkTree(tree, dims));
    }

    (long[], List<Chunk>) ChunkedV4(ref Hdf5Cursor cursor)
    {
        byte flags = cursor.U8();
        int dims = cursor.U8(), encoded = cursor.U8();
        if (encoded is < 1 or > 8) throw cursor.Error($"chunk dimensions encoded in {encoded} bytes");
        long[] chunkDims = ChunkDims(ref cursor, dims, encoded);
        byte index = cursor.U8();
        // Only the single-chunk index; fixed and extensible arrays and version-2 B-trees are what libver='latest'
        // writes for many chunks, which Keras weights do not use.
        if (index != 1) throw cursor.Error($"chunk index type {index} is not read (only 1, a single chunk)");
        long stored = -1;
        uint mask = 0;
        if ((flags & 2) != 0)
        {
            stored = cursor.Length("filtered chunk size");
            mask = cursor.U32();
        }
        long address = cursor.Address();
        if (stored < 0) stored = chunkDims.Aggregate(1L, (a, d) => a * d) * Type.Size;
        return (chunkDims, [new Chunk(new long[Space.Dims.Length], address, stored, mask)]);
    }

    /// <summary>Chunk dimensions: one per dataset dimension, then the element size (which must match the type).</summary>
    long[] ChunkDims(ref Hdf5Cursor cursor, int dims, int bytes)
    {
        if (dims < 2 || dims != Space.Dims.Length + 1) throw cursor.Error($"{dims} chunk dimensions for a dataset of rank {Space.Dims.Length}");
        var result = new long[dims - 1];
        long chunkBytes = Type.Size;
        for (int d = 0; d < dims; d++)
        {
            ulong value = cursor.Sized(bytes);
            if (d == dims - 1)
            {
                if (value != (ulong)Type.Size) throw cursor.Error($"chunk element size {value} for {Type.Size}-byte elements");
                break;
            }
            if (value == 0 || value > (ulong)(int.MaxValue / chunkBytes)) throw cursor.Error($"chunk dimension {d} is {value}");
            result[d] = (long)value;
            chunkBytes *= result[d];
        }
        return result;
    }

    long ChunkBytes => chunkDims!.Aggregate((long)Type.Size, (a, d) => a * d);

    /// <summary>The chunks listed by a version-1 B-tree of type 1; each node once, each child one level down.</summary>
    List<Chunk> ChunkTree(long root, int dims)
    {
        var found = new List<Chunk>();
        var visited = new HashSet<long>();
        var pending = new Stack<(long Address, int Level)>();
        pending.Push((root, -1));
        int keySize = 4 + 4 + 8 * dims;
        while (pending.TryPop(out var node))
        {
            if (!visited.Add(node.Address)) throw Error($"chunk B-tree node at 0x{node.Address:x} is reached twice (a cycle)");
            var head = file.Metadata(node.Address, Math.Min(24, file.Length - node.Address), "chunk B-tree node");
            var cursor = new Hdf5Cursor(file, head.Span, "chunk B-tree node", node.Address);
            if (!cursor.Bytes(4).SequenceEqual("TREE"u8)) throw cursor.Error("no 'TREE' signature");
            byte type = cursor.U8();
            int level = cursor.U8(), entries = cursor.U16();
            if (type != 1) throw cursor.Error($"node type {type} for chunks (expected 1)");
            if (node.Level >= 0 && level != node.Level) throw cursor.Error($"level {level} below a node of level {node.Level + 1}");
            var body = file.Metadata(node.Address, 24 + entries * (long)(keySize + 8) + keySize, "chunk B-tree node");
            cursor = new Hdf5Cursor(file, body.Span, "chunk B-tree node", node.Address) { Position = 24 };
            for (int i = 0; i < entries; i++)
            {
                long stored = cursor.U32();
                uint mask = cursor.U32();
                var offset = new long[dims - 1];
                for (int d = 0; d < dims; d++)
                {
                    ulong value = cursor.U64();
                    if (d < dims - 1) offset[d] = (long)Math.Min(value, long.MaxValue);
                }
                long child = cursor.Address();
                if (level > 0) pending.Push((child, level - 1));
                else found.Add(new Chunk(offset, child, stored, mask));
            }
        }
        return found;
    }

    /// <summary>
    /// Every chunk must lie on the chunk grid inside the dataset, once; together they must cover it (Keras writes
    /// every chunk, so missing ones are refused rather than filled), and what they can decompress to must hold it.
    /// </summary>
    void CheckChunks()
    {
        long chunkBytes = ChunkBytes, stored = 0, expected = 1;
        for (int d = 0; d < chunkDims!.Length; d++)
        {
            long along = Space.Dims[d] / chunkDims[d] + (Space.Dims[d] % chunkDims[d] == 0 ? 0 : 1);
            expected = along == 0 ? 0 : expected > long.MaxValue / along ? long.MaxValue : expected * along;
        }
        var seen = new HashSet<string>();
        foreach (var chunk in chunks!)
        {
            for (int d = 0; d < chunkDims.Length; d++)
                if (chunk.Offset[d] % chunkDims[d] != 0 || chunk.Offset[d] >= Space.Dims[d])
                    throw Error($"chunk at 0x{chunk.Address:x} has offset [{string.Join(",", chunk.Offset)}] off the chunk grid or outside the shape {Space}");
            if (!seen.Add(string.Join(",", chunk.Offset))) throw Error($"chunk [{string.Join(",", chunk.Offset)}] is listed twice");
            bool deflated = Active(chunk).Any(f => f.Id == Hdf5Filter.Deflate);
            long capacity = deflated ? chunk.StoredSize * DeflateRatio : chunk.StoredSize;
            if (chunk.StoredSize == 0 || capacity < chunkBytes)
                throw Error($"chunk [{string.Join(",", chunk.Offset)}] stores {chunk.StoredSize:N0} bytes, which cannot hold its {chunkBytes:N0}");
            stored += chunk.StoredSize;
            if (stored > file.Length) throw Error($"chunks store {stored:N0} bytes in total, more than the file ({file.Length:N0} bytes)");
        }
        if (chunks.Count != expected) throw Error($"{chunks.Count} chunks stored, {expected} needed for shape {Space} in chunks of [{string.Join(",", chunkDims)}]");
        if (Space.Count > long.MaxValue / Type.Size || ByteCount > (long)chunks.Count * chunkBytes)
            throw Error($"shape {Space} needs more bytes than its chunks hold");
    }

    /// <summary>Filters applied to this chunk: bit i of its mask set means filter i was skipped.</summary>
    List<Hdf5Filter> Active(Chunk chunk) => filters.Where((_, i) => (chunk.FilterMask & (1u << i)) == 0).ToList();

    /// <summary>Bytes the file stores for this dataset (compressed, for chunks): readers bound their totals with it.</summary>
    public long StoredBytes => contiguous?.Length ?? (chunks is null ? compact.Length : chunks.Sum(c => c.StoredSize));

    /// <summary>Reads the data into destination (<see cref="ByteCount"/> bytes), row-major, byte order as stored.</summary>
    public void Read(Span<byte> destination)
    {
        if (destination.Length != ByteCount) throw new ArgumentException($"{ByteCount} bytes expected", nameof(destination));
        if (contiguous is { } range) file.Data(range.Address, destination, $"data of '{name}'");
        else if (chunks is null) compact.Span.CopyTo(destination);
        else
        {
            var chunk = new byte[ChunkBytes];
            foreach (var c in chunks)
            {
                ReadChunk(c, chunk);
                Place(chunk, c.Offset, destination);
            }
        }
    }

    void ReadChunk(Chunk c, byte[] chunk)
    {
        string what = $"chunk [{string.Join(",", c.Offset)}] of '{name}'";
        var active = Active(c);
        if (active.Count == 0)
        {
            if (c.StoredSize != chunk.Length) throw Error($"{what} stores {c.StoredSize:N0} bytes, not its {chunk.Length:N0}");
            file.Data(c.Address, chunk, what);
            return;
        }
        var stored = new byte[c.StoredSize];
        file.Data(c.Address, stored, what);
        byte[] current = stored;
        // Filters were applied in pipeline order on writing; undo them in reverse.
        for (int i = active.Count - 1; i >= 0; i--)
            current = active[i].Undo(file, current, chunk.Length, what);
        if (current.Length != chunk.Length) throw Error($"{what} decodes to {current.Length:N0} bytes, not {chunk.Length:N0}");
        current.CopyTo(chunk, 0);
    }

    /// <summary>Copies the part of a chunk inside the dataset to its place in the row-major output.</summary>
    void Place(byte[] chunk, long[] offset, Span<byte> output)
    {
        int rank = chunkDims!.Length, size = Type.Size;
        long[] dims = Space.Dims;
        long rows = 1;
        for (int d = 0; d < rank - 1; d++) rows *= chunkDims[d];
        int run = (int)Math.Min(chunkDims[rank - 1], dims[rank - 1] - offset[rank - 1]) * size;
        var index = new long[rank];
        for (long row = 0; row < rows; row++)
        {
            // index of this row within the chunk (all but the last dimension), row-major
            long r = row, source = 0, target = 0;
            bool inside = true;
            for (int d = rank - 2; d >= 0; d--)
            {
                index[d] = r % chunkDims[d];
                r /= chunkDims[d];
                inside &= offset[d] + index[d] < dims[d];
            }
            if (!inside) continue;
            for (int d = 0; d < rank; d++)
            {
                source = source * chunkDims[d] + (d < rank - 1 ? index[d] : 0);
                target = target * dims[d] + offset[d] + (d < rank - 1 ? index[d] : 0);
            }
            chunk.AsSpan((int)(source * size), run).CopyTo(output[(int)(target * size)..]);
        }
    }
}

/// <summary>One filter of a pipeline message: deflate and shuffle are undone, any other is refused.</summary>
internal sealed record Hdf5Filter(ushort Id, uint[] ClientData)
{
    public const ushort Deflate = 1, Shuffle = 2;

    public static List<Hdf5Filter> ParsePipeline(Hdf5File file, Hdf5Message message)
    {
        var cursor = new Hdf5Cursor(file, message.Data.Span, "filter pipeline message", message.Address);
        byte version = cursor.U8();
        if (version is < 1 or > 2) throw cursor.Error($"version {version} (expected 1 or 2)");
        int count = cursor.U8();
        if (version == 1) cursor.Skip(6);
        var filters = new List<Hdf5Filter>();
        for (int i = 0; i < count; i++)
        {
            ushort id = cursor.U16();
            int nameLength = version == 1 || id >= 256 ? cursor.U16() : 0;
            cursor.Skip(2); // flags
            int values = cursor.U16();
            cursor.Skip(version == 1 ? (nameLength + 7) & ~7 : nameLength);
            if (values > cursor.Remaining / 4) throw cursor.Error($"filter {id} claims {values} parameters, {cursor.Remaining} bytes are left");
            var clientData = new uint[values];
            for (int v = 0; v < values; v++) clientData[v] = cursor.U32();
            if (version == 1 && values % 2 == 1) cursor.Skip(4);
            if (id is not (Deflate or Shuffle))
                throw cursor.Error($"filter {id} is not read (only deflate/gzip and shuffle)");
            filters.Add(new Hdf5Filter(id, clientData));
        }
        return filters;
    }

    /// <summary>Undoes this filter on one chunk, whose decoded size is <paramref name="chunkBytes"/>.</summary>
    public byte[] Undo(Hdf5File file, byte[] data, int chunkBytes, string what) => Id == Deflate ? Inflate(file, data, chunkBytes, what) : Unshuffle(data);

    static byte[] Inflate(Hdf5File file, byte[] data, int chunkBytes, string what)
    {
        // Inflate into a buffer of the chunk's size and no more: a deflate bomb cannot grow it.
        var output = new byte[chunkBytes];
        int done = 0;
        try
        {
            using var stream = new ZLibStream(new MemoryStream(data, writable: false), CompressionMode.Decompress);
            while (done < output.Length && stream.Read(output, done, output.Length - done) is var n and > 0) done += n;
            if (stream.ReadByte() >= 0) throw file.Error($"{what}: inflates to more than its {chunkBytes:N0} bytes");
        }
        catch (InvalidDataException e)
        {
            throw file.Error($"{what}: corrupt deflate data ({e.Message})");
        }
        if (done != chunkBytes) throw file.Error($"{what}: inflates to {done:N0} bytes, not its {chunkBytes:N0}");
        return output;
    }

    /// <summary>Shuffle stored byte k of every element together; this puts them back (a tail that is not a whole element stays).</summary>
    byte[] Unshuffle(byte[] data)
    {
        int size = ClientData.Length > 0 ? (int)Math.Clamp(ClientData[0], 1, 256) : 1;
        int elements = data.Length / size;
        var output = (byte[])data.Clone();
        for (int e = 0; e < elements; e++)
            for (int k = 0; k < size; k++)
                output[e * size + k] = data[k * elements + e];
        return output;
    }
}
