using System.Buffers.Binary;

namespace NativeASD.Weights.Hdf5;

/// <summary>
/// A bounds-checked little-endian reader over the bytes of one HDF5 structure. Every read past the structure's end is a
/// <see cref="WeightFormatException"/> naming the structure and its file address.
/// </summary>
internal ref struct Hdf5Cursor(Hdf5File file, ReadOnlySpan<byte> data, string what, long address)
{
    readonly ReadOnlySpan<byte> data = data;
    public int Position;

    public readonly int Remaining => data.Length - Position;

    public ReadOnlySpan<byte> Bytes(long count)
    {
        if (count < 0 || count > Remaining) throw Error($"needs {count} more bytes but only {Remaining} are left");
        var span = data.Slice(Position, (int)count);
        Position += (int)count;
        return span;
    }

    public void Skip(long count) => Bytes(count);
    public byte U8() => Bytes(1)[0];
    public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Bytes(2));
    public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4));
    public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Bytes(8));

    /// <summary>An unsigned integer of 1, 2, 4 or 8 bytes.</summary>
    public ulong Sized(int size) => size switch { 1 => U8(), 2 => U16(), 4 => U32(), _ => U64() };

    /// <summary>A file address (8 bytes, relative to the superblock); <see cref="Hdf5File.Undefined"/> for "none".</summary>
    public long Address()
    {
        ulong value = U64();
        if (value == ulong.MaxValue) return Hdf5File.Undefined;
        if (value >= (ulong)file.Length) throw Error($"address 0x{value:x} is beyond the end of the file ({file.Length:N0} bytes)");
        return (long)value;
    }

    /// <summary>A length field (8 bytes); anything larger than the file is refused here, before it sizes anything.</summary>
    public long Length(string field)
    {
        ulong value = U64();
        if (value > (ulong)file.Length) throw Error($"{field} 0x{value:x} is larger than the file ({file.Length:N0} bytes)");
        return (long)value;
    }

    /// <summary>Checks a version-2 structure's lookup3 checksum: the 4 bytes after everything read so far.</summary>
    public void Checksum()
    {
        uint computed = Lookup3.Hash(data[..Position]);
        uint stored = U32();
        if (stored != computed) throw Error($"checksum 0x{stored:x8} does not match the contents (0x{computed:x8})");
    }

    public readonly WeightFormatException Error(string problem) => file.Error($"{what} at 0x{address:x}: {problem}");
}
