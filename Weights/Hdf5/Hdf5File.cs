namespace NativeASD.Weights.Hdf5;

/// <summary>
/// A read-only HDF5 file, covering what h5py writes for Keras models: superblock versions 0–3 with 8-byte offsets and
/// lengths, object headers v1 and v2, symbol-table groups and link messages, attributes, and contiguous, compact or
/// chunked (deflate, shuffle) datasets. Every address, length and count read from the file is checked against the
/// file's size before it sizes an allocation or a read, and the metadata read in total is capped (see
/// <see cref="MetadataBudget"/>), so a corrupted file fails with a <see cref="WeightFormatException"/> naming the file
/// and the problem, after bounded work and allocation.
/// </summary>
internal sealed class Hdf5File : IDisposable
{
    public const long Undefined = -1;
    static ReadOnlySpan<byte> Signature => [0x89, (byte)'H', (byte)'D', (byte)'F', 0x0d, 0x0a, 0x1a, 0x0a];

    readonly Hdf5Storage storage;
    readonly Dictionary<long, Hdf5Object> objects = [];
    readonly Dictionary<long, Hdf5GlobalHeap> globalHeaps = [];
    /// <summary>Where the superblock is; file addresses count from here (libhdf5 does the same with a user block).</summary>
    long baseAddress;
    long metadataRead;

    Hdf5File(string path, Hdf5Storage storage)
    {
        Path = path;
        this.storage = storage;
    }

    public string Path { get; }
    public long Length => storage.Length;
    public int SuperblockVersion { get; private set; }
    public Hdf5Object Root { get; private set; } = null!;

    /// <summary>
    /// Metadata bytes one file may read in total. Structures do not overlap in a valid file and each is read once
    /// (objects and heaps are cached), so this is never reached by one; a corrupted file that points many structures at
    /// the same large range stops here instead of costing time (and, read from disk, buffers) per pointer.
    /// </summary>
    long MetadataBudget => Length + (16L << 20);

    public static Hdf5File Open(string path)
    {
        Hdf5Storage storage;
        try { storage = Hdf5Storage.Open(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new WeightFormatException(path, $"cannot be opened ({e.Message})", e);
        }
        return Open(path, storage);
    }

    public static Hdf5File Parse(string path, byte[] bytes) => Open(path, Hdf5Storage.Of(bytes));

    static Hdf5File Open(string path, Hdf5Storage storage)
    {
        var file = new Hdf5File(path, storage);
        try
        {
            file.ReadSuperblock();
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public void Dispose() => storage.Dispose();

    public WeightFormatException Error(string problem) => new(Path, problem);

    void ReadSuperblock()
    {
        // The superblock sits at 0, or after a user block of 512 bytes (what Sniff accepts).
        foreach (long at in (long[])[0, 512])
        {
            if (at + 8 > Length || !Metadata(at, 8, "signature").Span.SequenceEqual(Signature)) continue; // base is still 0
            baseAddress = at;
            var head = Metadata(0, Math.Min(Length - at, 100), "superblock"); // version 1 is the longest
            var cursor = new Hdf5Cursor(this, head.Span, "superblock", at);
            cursor.Skip(8);
            SuperblockVersion = cursor.U8();
            long root = SuperblockVersion switch
            {
                0 or 1 => ReadSuperblockV0(ref cursor),
                2 or 3 => ReadSuperblockV2(ref cursor),
                _ => throw cursor.Error($"superblock version {SuperblockVersion} is not one this reader knows (0-3)"),
            };
            if (root == Undefined) throw cursor.Error("no root group");
            Root = Object(root);
            return;
        }
        throw Error($"no HDF5 signature at offset 0 or 512 (file of {Length:N0} bytes)");
    }

    long ReadSuperblockV0(ref Hdf5Cursor cursor)
    {
        cursor.Skip(3); // free-space, root symbol table entry and reserved versions
        cursor.Skip(1); // shared header message format version
        CheckSizes(ref cursor, cursor.U8(), cursor.U8());
        cursor.Skip(1 + 2 + 2 + 4); // reserved, group leaf/internal node K, consistency flags
        if (SuperblockVersion == 1) cursor.Skip(4); // indexed storage internal node K, reserved
        cursor.Skip(8 * 2); // base and free-space addresses
        CheckEndOfFile(cursor.U64());
        cursor.Skip(8); // driver-info address
        // root group symbol table entry: link name offset, object header address, cache type, reserved, scratch
        cursor.Skip(8);
        return cursor.Address();
    }

    long ReadSuperblockV2(ref Hdf5Cursor cursor)
    {
        CheckSizes(ref cursor, cursor.U8(), cursor.U8());
        cursor.Skip(1); // consistency flags
        cursor.Skip(8 * 2); // base and superblock extension addresses
        CheckEndOfFile(cursor.U64());
        long root = cursor.Address();
        cursor.Checksum();
        return root;
    }

    /// <summary>A file shorter than its superblock's end-of-file address was cut short (libhdf5 refuses it too), even when
    /// the bytes lost held nothing this reader would have read. As in libhdf5, the address counts the user block.</summary>
    void CheckEndOfFile(ulong endOfFile)
    {
        if (endOfFile != ulong.MaxValue && endOfFile > (ulong)Length)
            throw Error($"truncated: the superblock says the file ends at byte {endOfFile:N0}, but it has {Length:N0}");
    }

    static void CheckSizes(ref Hdf5Cursor cursor, byte offsets, byte lengths)
    {
        if (offsets != 8 || lengths != 8)
            throw cursor.Error($"sizes of offsets {offsets} and lengths {lengths}: only 8-byte offsets and lengths are read (what h5py writes)");
    }

    /// <summary>Metadata bytes at a file address, after checking the range lies inside the file and the budget allows it.</summary>
    public ReadOnlyMemory<byte> Metadata(long address, long count, string what)
    {
        long start = CheckRange(address, count, what);
        if (count > MetadataBudget - metadataRead)
            throw Error($"{what} at 0x{address:x}: reading {count:N0} more bytes of metadata would exceed {MetadataBudget:N0} in total (structures revisited or overlapping)");
        metadataRead += count;
        try { return storage.Read(start, (int)count); }
        catch (IOException e) when (e is not WeightFormatException) { throw Error($"{what} at 0x{address:x}: {e.Message}"); }
    }

    /// <summary>Raw data bytes at a file address into destination, after checking the range lies inside the file.</summary>
    public void Data(long address, Span<byte> destination, string what)
    {
        long start = CheckRange(address, destination.Length, what);
        try { storage.CopyTo(start, destination); }
        catch (IOException e) when (e is not WeightFormatException) { throw Error($"{what} at 0x{address:x}: {e.Message}"); }
    }

    long CheckRange(long address, long count, string what)
    {
        if (address == Undefined) throw Error($"{what}: the address is undefined");
        if (address < 0 || count < 0 || count > int.MaxValue || address > Length - baseAddress - count)
            throw Error($"{what} at 0x{address:x}: {count:N0} bytes there reach beyond the end of the file ({Length:N0} bytes)");
        return baseAddress + address;
    }

    /// <summary>The object whose header is at this address (parsed once).</summary>
    public Hdf5Object Object(long address)
    {
        if (!objects.TryGetValue(address, out var obj)) objects[address] = obj = new Hdf5Object(this, address);
        return obj;
    }

    /// <summary>The global heap collection at this address (parsed once); variable-length strings live there.</summary>
    public Hdf5GlobalHeap GlobalHeap(long address)
    {
        if (!globalHeaps.TryGetValue(address, out var heap)) globalHeaps[address] = heap = new Hdf5GlobalHeap(this, address);
        return heap;
    }
}
