using System.Buffers.Binary;
using System.Text;

namespace NativeASD.Weights.Tflite;

/// <summary>
/// A bounds-checked view of a flatbuffer. Every offset, vtable entry and vector length read from the file is checked
/// against the buffer before use, so hostile files fail with <see cref="WeightFormatException"/> naming the file and
/// what was out of range. Nothing is allocated from a length that the bytes behind it do not back.
/// </summary>
internal sealed class FlatBuffer(string path, byte[] bytes)
{
    public string Path { get; } = path;
    public byte[] Bytes { get; } = bytes;
    public int Length => Bytes.Length;

    public WeightFormatException Error(string problem) => new(Path, problem);

    /// <summary>Checks that [position, position + count) lies in the file; <paramref name="what"/> names it in the error.</summary>
    public void Need(long position, long count, string what)
    {
        if (position < 0 || count < 0 || position + count > Length)
            throw Error($"{what} at offset {position} (+{count} bytes) lies outside the file ({Length} bytes)");
    }

    public byte U8(long position, string what) { Need(position, 1, what); return Bytes[position]; }
    public ushort U16(long position, string what) { Need(position, 2, what); return BinaryPrimitives.ReadUInt16LittleEndian(Bytes.AsSpan((int)position)); }
    public int I32(long position, string what) { Need(position, 4, what); return BinaryPrimitives.ReadInt32LittleEndian(Bytes.AsSpan((int)position)); }
    public uint U32(long position, string what) { Need(position, 4, what); return BinaryPrimitives.ReadUInt32LittleEndian(Bytes.AsSpan((int)position)); }
    public long I64(long position, string what) { Need(position, 8, what); return BinaryPrimitives.ReadInt64LittleEndian(Bytes.AsSpan((int)position)); }
    public ulong U64(long position, string what) { Need(position, 8, what); return BinaryPrimitives.ReadUInt64LittleEndian(Bytes.AsSpan((int)position)); }
    public float F32(long position, string what) { Need(position, 4, what); return BinaryPrimitives.ReadSingleLittleEndian(Bytes.AsSpan((int)position)); }

    /// <summary>Follows the unsigned offset stored at <paramref name="position"/>.</summary>
    public int Deref(long position, string what)
    {
        long target = position + U32(position, what);
        if (target >= Length) throw Error($"{what}: offset at {position} points to {target}, outside the file ({Length} bytes)");
        return (int)target;
    }

    public FlatTable Root(string what) => Table(Deref(0, what), what);

    public FlatTable Table(int position, string what)
    {
        long vtable = position - (long)I32(position, what + " vtable offset");
        Need(vtable, 4, what + " vtable");
        int vtableSize = U16(vtable, what + " vtable size");
        if (vtableSize < 4 || (vtableSize & 1) != 0) throw Error($"{what}: vtable at {vtable} has invalid size {vtableSize}");
        Need(vtable, vtableSize, what + " vtable");
        int tableSize = U16(vtable + 2, what + " table size");
        Need(position, tableSize, what);
        return new FlatTable(this, position, (int)vtable, vtableSize, tableSize, what);
    }
}

/// <summary>A table: field i is found through its vtable; absent fields give the schema default.</summary>
internal readonly struct FlatTable(FlatBuffer buffer, int position, int vtable, int vtableSize, int tableSize, string what)
{
    public FlatBuffer Buffer { get; } = buffer;
    public string What { get; } = what;

    /// <summary>Absolute position of field <paramref name="field"/> (<paramref name="width"/> bytes), or -1 when absent.</summary>
    internal int Field(int field, int width)
    {
        int slot = 4 + 2 * field;
        if (slot + 2 > vtableSize) return -1;
        int offset = Buffer.U16(vtable + slot, What + " vtable entry");
        if (offset == 0) return -1;
        if (offset + width > tableSize) throw Buffer.Error($"{What}: field {field} at +{offset} runs past the table's {tableSize} bytes");
        return position + offset;
    }

    public bool Has(int field) => Field(field, 1) >= 0;

    public byte U8(int field, byte fallback = 0) { int p = Field(field, 1); return p < 0 ? fallback : Buffer.U8(p, Name(field)); }
    public int I32(int field, int fallback = 0) { int p = Field(field, 4); return p < 0 ? fallback : Buffer.I32(p, Name(field)); }
    public uint U32(int field, uint fallback = 0) { int p = Field(field, 4); return p < 0 ? fallback : Buffer.U32(p, Name(field)); }
    public ulong U64(int field, ulong fallback = 0) { int p = Field(field, 8); return p < 0 ? fallback : Buffer.U64(p, Name(field)); }
    public float F32(int field, float fallback = 0) { int p = Field(field, 4); return p < 0 ? fallback : Buffer.F32(p, Name(field)); }
    public bool Bool(int field, bool fallback = false) { int p = Field(field, 1); return p < 0 ? fallback : Buffer.U8(p, Name(field)) != 0; }

    public FlatTable? Table(int field, string what)
    {
        int p = Field(field, 4);
        return p < 0 ? null : Buffer.Table(Buffer.Deref(p, what), what);
    }

    public string? String(int field)
    {
        FlatVector? v = Vector(field, 1, Name(field));
        if (v is not { } vector) return null;
        return Encoding.UTF8.GetString(Buffer.Bytes, vector.Start, vector.Count);
    }

    /// <summary>A vector of <paramref name="elementSize"/>-byte elements; its whole extent is checked against the file.</summary>
    public FlatVector? Vector(int field, int elementSize, string what)
    {
        int p = Field(field, 4);
        if (p < 0) return null;
        int at = Buffer.Deref(p, what);
        uint count = Buffer.U32(at, what + " length");
        Buffer.Need(at + 4L, (long)count * elementSize, $"{what} ({count} elements)");
        return new FlatVector(Buffer, at + 4, (int)count, elementSize, what);
    }

    public int[] Int32s(int field, string what)
    {
        if (Vector(field, 4, what) is not { } v) return [];
        var values = new int[v.Count];
        for (int i = 0; i < values.Length; i++) values[i] = Buffer.I32(v.Start + 4L * i, what);
        return values;
    }

    public long[] Int64s(int field, string what)
    {
        if (Vector(field, 8, what) is not { } v) return [];
        var values = new long[v.Count];
        for (int i = 0; i < values.Length; i++) values[i] = Buffer.I64(v.Start + 8L * i, what);
        return values;
    }

    public float[] Floats(int field, string what)
    {
        if (Vector(field, 4, what) is not { } v) return [];
        var values = new float[v.Count];
        for (int i = 0; i < values.Length; i++) values[i] = Buffer.F32(v.Start + 4L * i, what);
        return values;
    }

    /// <summary>The tables of a vector of tables (each element an offset relative to itself).</summary>
    public FlatTable[] Tables(int field, string what)
    {
        if (Vector(field, 4, what) is not { } v) return [];
        var tables = new FlatTable[v.Count];
        for (int i = 0; i < tables.Length; i++)
            tables[i] = Buffer.Table(Buffer.Deref(v.Start + 4L * i, $"{what}[{i}]"), $"{what}[{i}]");
        return tables;
    }

    string Name(int field) => $"{What} field {field}";
}

internal readonly record struct FlatVector(FlatBuffer Buffer, int Start, int Count, int ElementSize, string What)
{
    public int ByteLength => Count * ElementSize;
}
