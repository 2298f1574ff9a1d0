namespace NativeASD.Weights.Hdf5;

internal enum Hdf5TypeClass { FixedPoint, FloatingPoint, Time, String, Bitfield, Opaque, Compound, Reference, Enumerated, VariableLength, Array }

/// <summary>
/// A datatype message, as far as weights and Keras attributes need it: integers, IEEE floats (either byte order),
/// fixed-length strings and variable-length strings. Other classes are described (for errors) but not decoded.
/// </summary>
internal sealed record Hdf5DataType(Hdf5TypeClass Class, int Size, bool BigEndian, bool Signed, bool IsVariableLengthString, int StringPadding)
{
    /// <summary>Bytes one variable-length element takes in an attribute or dataset: length, collection address, index.</summary>
    public const int VariableLengthSize = 4 + 8 + 4;

    public bool IsString => Class == Hdf5TypeClass.String || IsVariableLengthString;

    public override string ToString() => IsVariableLengthString ? "variable-length string"
        : Class == Hdf5TypeClass.String ? $"string of {Size} bytes"
        : Class == Hdf5TypeClass.FloatingPoint ? $"float{Size * 8}{(BigEndian ? " big-endian" : "")}"
        : Class == Hdf5TypeClass.FixedPoint ? $"{(Signed ? "" : "u")}int{Size * 8}"
        : $"{Class} of {Size} bytes";

    public static Hdf5DataType Parse(Hdf5File file, ReadOnlySpan<byte> data, long address)
    {
        var cursor = new Hdf5Cursor(file, data, "datatype message", address);
        byte classAndVersion = cursor.U8();
        int typeClass = classAndVersion & 0x0f, version = classAndVersion >> 4;
        if (version is < 1 or > 4) throw cursor.Error($"version {version} is not a datatype message version (1-4)");
        if (typeClass > (int)Hdf5TypeClass.Array) throw cursor.Error($"unknown datatype class {typeClass}");
        uint bits = cursor.U8() | (uint)cursor.U8() << 8 | (uint)cursor.U8() << 16;
        uint size = cursor.U32();
        if (size == 0 || size > file.Length) throw cursor.Error($"element size {size} (the file holds {file.Length:N0} bytes)");
        var type = (Hdf5TypeClass)typeClass;
        switch (type)
        {
            case Hdf5TypeClass.FixedPoint:
                return new(type, (int)size, (bits & 1) != 0, (bits & 8) != 0, false, 0);
            case Hdf5TypeClass.FloatingPoint:
            {
                if ((bits & 0x40) != 0) throw cursor.Error("VAX-order floats are not read");
                // bit offset, precision, exponent location and size, mantissa location and size, exponent bias
                cursor.Skip(4);
                byte exponentAt = cursor.U8(), exponentBits = cursor.U8(), mantissaAt = cursor.U8(), mantissaBits = cursor.U8();
                uint bias = cursor.U32();
                bool ieee = (size, exponentAt, exponentBits, mantissaAt, mantissaBits, bias) is (4, 23, 8, 0, 23, 127) or (8, 52, 11, 0, 52, 1023);
                if (!ieee) throw cursor.Error($"a {size}-byte float that is not IEEE single or double precision");
                return new(type, (int)size, (bits & 1) != 0, true, false, 0);
            }
            case Hdf5TypeClass.String:
                return new(type, (int)size, false, false, false, (int)(bits & 0x0f));
            case Hdf5TypeClass.VariableLength:
                // bits 0-3: 0 sequence, 1 string; the base type follows (a character type for strings).
                bool isString = (bits & 0x0f) == 1;
                if (isString && size != VariableLengthSize) throw cursor.Error($"variable-length string elements of {size} bytes (expected {VariableLengthSize})");
                return new(type, (int)size, false, false, isString, 0);
            default:
                return new(type, (int)size, false, false, false, 0);
        }
    }
}

/// <summary>A dataspace message: the dimensions (empty for a scalar); a null dataspace holds no elements.</summary>
internal sealed record Hdf5Dataspace(long[] Dims, bool IsNull)
{
    public const int MaxRank = 32;

    /// <summary>Elements, saturated at long.MaxValue (callers compare it against the bytes that hold them).</summary>
    public long Count
    {
        get
        {
            if (IsNull) return 0;
            long count = 1;
            foreach (long d in Dims)
            {
                if (d == 0) return 0;
                count = count > long.MaxValue / d ? long.MaxValue : count * d;
            }
            return count;
        }
    }

    public override string ToString() => $"[{string.Join(",", Dims)}]";

    public static Hdf5Dataspace Parse(Hdf5File file, ReadOnlySpan<byte> data, long address)
    {
        var cursor = new Hdf5Cursor(file, data, "dataspace message", address);
        byte version = cursor.U8();
        int rank = cursor.U8();
        cursor.Skip(1); // flags: bit 0 says maximum dimensions follow the dimensions; reading stored data needs none
        bool isNull = false;
        if (version == 1) cursor.Skip(5);
        else if (version == 2) isNull = cursor.U8() == 2; // 0 scalar, 1 simple, 2 null
        else throw cursor.Error($"version {version} is not a dataspace message version (1-2)");
        if (rank > MaxRank) throw cursor.Error($"rank {rank} (at most {MaxRank})");
        var dims = new long[rank];
        for (int d = 0; d < rank; d++)
        {
            ulong dim = cursor.U64();
            if (dim > long.MaxValue) throw cursor.Error($"dimension {d} is 0x{dim:x}");
            dims[d] = (long)dim;
        }
        return new(dims, isNull);
    }
}
