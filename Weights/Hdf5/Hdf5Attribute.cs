using System.Buffers.Binary;
using System.Text;

namespace NativeASD.Weights.Hdf5;

/// <summary>An attribute message (versions 1-3): name, datatype, dataspace and the raw bytes of its value.</summary>
internal sealed class Hdf5Attribute
{
    readonly Hdf5File file;
    readonly ReadOnlyMemory<byte> data;
    readonly long address;

    Hdf5Attribute(Hdf5File file, string name, Hdf5DataType type, Hdf5Dataspace space, ReadOnlyMemory<byte> data, long address)
    {
        this.file = file;
        Name = name;
        Type = type;
        Space = space;
        this.data = data;
        this.address = address;
    }

    public string Name { get; }
    public Hdf5DataType Type { get; }
    public Hdf5Dataspace Space { get; }

    public static Hdf5Attribute Parse(Hdf5File file, Hdf5Message message)
    {
        var cursor = new Hdf5Cursor(file, message.Data.Span, "attribute message", message.Address);
        byte version = cursor.U8();
        if (version is < 1 or > 3) throw cursor.Error($"version {version} is not an attribute message version (1-3)");
        byte flags = cursor.U8(); // reserved in version 1
        if (version > 1 && (flags & 3) != 0) throw cursor.Error("shared datatype or dataspace in an attribute is not read");
        int nameSize = cursor.U16(), typeSize = cursor.U16(), spaceSize = cursor.U16();
        if (version == 3) cursor.Skip(1); // name character set
        // Version 1 pads each part to 8 bytes.
        int Padded(int size) => version == 1 ? (size + 7) & ~7 : size;
        var nameBytes = cursor.Bytes(Padded(nameSize))[..nameSize];
        int nul = nameBytes.IndexOf((byte)0);
        string name = Encoding.UTF8.GetString(nul >= 0 ? nameBytes[..nul] : nameBytes);
        int typeAt = cursor.Position;
        var type = Hdf5DataType.Parse(file, cursor.Bytes(Padded(typeSize))[..typeSize], message.Address + typeAt);
        int spaceAt = cursor.Position;
        var space = Hdf5Dataspace.Parse(file, cursor.Bytes(Padded(spaceSize))[..spaceSize], message.Address + spaceAt);
        long count = space.Count;
        if (count > cursor.Remaining / type.Size)
            throw cursor.Error($"'{name}': {space} elements of {type.Size} bytes do not fit in the {cursor.Remaining} bytes left in the message");
        int dataAt = cursor.Position;
        return new(file, name, type, space, message.Data.Slice(dataAt, (int)(count * type.Size)), message.Address + dataAt);
    }

    /// <summary>
    /// The value as strings (fixed- or variable-length), one per element in row-major order. No elements read as none
    /// whatever the type: Keras stores an empty weight_names as an empty float64 array.
    /// </summary>
    public string[] ReadStrings()
    {
        if (Space.Count == 0) return [];
        if (!Type.IsString) throw Error($"has type {Type}, expected strings");
        // Parse checked count × size against the message, so the array below is bounded by the file.
        var strings = new string[(int)Space.Count];
        var bytes = data.Span;
        for (int i = 0; i < strings.Length; i++)
        {
            var element = bytes.Slice(i * Type.Size, Type.Size);
            strings[i] = Type.IsVariableLengthString ? VariableLength(element) : Fixed(element);
        }
        return strings;
    }

    string Fixed(ReadOnlySpan<byte> element)
    {
        int nul = element.IndexOf((byte)0);
        if (nul >= 0) element = element[..nul];
        if (Type.StringPadding == 2) element = element.TrimEnd((byte)' '); // space-padded (Fortran style)
        return Encoding.UTF8.GetString(element);
    }

    string VariableLength(ReadOnlySpan<byte> element)
    {
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(element);
        ulong collection = BinaryPrimitives.ReadUInt64LittleEndian(element[4..]);
        uint index = BinaryPrimitives.ReadUInt32LittleEndian(element[12..]);
        if (length == 0) return "";
        if (collection >= (ulong)file.Length) throw Error($"string in a global heap at 0x{collection:x}, beyond the end of the file ({file.Length:N0} bytes)");
        return Encoding.UTF8.GetString(file.GlobalHeap((long)collection).Object(index, length));
    }

    WeightFormatException Error(string problem) => file.Error($"attribute '{Name}' at 0x{address:x}: {problem}");
}
