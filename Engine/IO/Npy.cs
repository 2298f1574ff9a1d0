using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using NativeASD.Kernels;

namespace NativeASD.Engine.IO;

/// <summary>A .npy file that cannot be read: malformed, truncated, or holding data we do not convert. The message names the file.</summary>
public sealed class NpyFormatException(string message) : IOException(message);

/// <summary>What a .npy header says: element type (numpy descr), shape, and where the data starts.</summary>
public sealed record NpyHeader(string Descr, int[] Shape, int Version, long DataOffset)
{
    /// <summary>Number of elements (1 for a 0-d array).</summary>
    public long Count => Layout.Count(Shape);
}

/// <summary>
/// Reads and writes NumPy .npy files (format versions 1.0, 2.0 and 3.0).
/// <para>Reading converts to float32: little-endian '&lt;f4' directly, and '&lt;f8', '&lt;f2', '&lt;i8', '&lt;i4', '&lt;i2',
/// '|i1', '|u1', '|b1' by value (integers above 2^24 round to the nearest float). C order only: fortran_order=True,
/// big-endian data, and object/string/structured/complex dtypes are rejected with a <see cref="NpyFormatException"/>
/// naming the file and the problem. Every size in the header is bounded and checked against the file length.</para>
/// <para>Writing always produces '&lt;f4', C order, with the header numpy itself writes (byte-identical to np.save),
/// via a temporary file renamed over the target, so a reader never sees a half-written file.</para>
/// </summary>
public static class NpyFile
{
    static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Longest header accepted. numpy itself refuses headers over 10,000 bytes by default.</summary>
    public const int MaxHeaderLength = 1 << 16;

    /// <summary>Highest rank accepted in a file (tensors take at most <see cref="StridedView.MaxRank"/>).</summary>
    public const int MaxRank = 32;

    const int GrowthAxisMaxDigits = 21;   // numpy pads the header so the first axis can grow in place
    const int ArrayAlign = 64;

    // ---- reading ---------------------------------------------------------------------------------

    /// <summary>Reads a .npy file as row-major float32 values and its shape ([] for a 0-d array).</summary>
    public static (float[] Data, int[] Shape) Read(string path)
    {
        using var stream = OpenRead(path);
        return Read(stream, path);
    }

    /// <summary>Reads a .npy file into a new contiguous tensor on <paramref name="backend"/> (the default CPU when null).</summary>
    public static Tensor ReadTensor(string path, IBackend? backend = null)
    {
        var (data, shape) = Read(path);
        if (shape.Length > StridedView.MaxRank)
            throw new NpyFormatException($"{path}: rank {shape.Length} exceeds the tensor maximum {StridedView.MaxRank}");
        return Tensor.FromSpan(data, shape, backend);
    }

    /// <summary>Reads only the header.</summary>
    public static NpyHeader ReadHeader(string path)
    {
        using var stream = OpenRead(path);
        return ReadHeader(stream, path);
    }

    /// <summary>Reads a .npy image from a stream; <paramref name="name"/> is used in error messages.</summary>
    public static (float[] Data, int[] Shape) Read(Stream stream, string name)
    {
        var header = ReadHeader(stream, name);
        var type = ElementType.Parse(header.Descr, name);
        long count = header.Count;
        if (count > Array.MaxLength)
            throw new NpyFormatException($"{name}: shape {Layout.Format(header.Shape)} has {count} elements, more than one float array can hold");
        long needed = count * type.Size;
        if (stream.CanSeek)
        {
            long available = stream.Length - header.DataOffset;
            if (available < needed)
                throw new NpyFormatException($"{name}: truncated: shape {Layout.Format(header.Shape)} of {header.Descr} needs {needed} data bytes, the file has {available}");
            if (available > needed)
                throw new NpyFormatException($"{name}: {available - needed} unexpected bytes after the {needed} data bytes of shape {Layout.Format(header.Shape)} {header.Descr}");
        }
        var data = new float[count];
        type.ReadInto(stream, data, name, needed);
        if (!stream.CanSeek && stream.ReadByte() != -1)
            throw new NpyFormatException($"{name}: unexpected bytes after the {needed} data bytes of shape {Layout.Format(header.Shape)} {header.Descr}");
        return (data, header.Shape);
    }

    /// <summary>Reads and validates the header; the stream is left at the first data byte.</summary>
    public static NpyHeader ReadHeader(Stream stream, string name)
    {
        Span<byte> prefix = stackalloc byte[12];
        int got = ReadFully(stream, prefix[..8]);
        if (got < 8)
            throw new NpyFormatException($"{name}: not a .npy file: {got} bytes, shorter than the 8-byte magic and version");
        if (!prefix[..6].SequenceEqual(Magic))
            throw new NpyFormatException($"{name}: not a .npy file: the magic string \\x93NUMPY is missing");
        int major = prefix[6], minor = prefix[7];
        if (major is < 1 or > 3 || minor != 0)
            throw new NpyFormatException($"{name}: unsupported .npy format version {major}.{minor} (expected 1.0, 2.0 or 3.0)");
        int lengthBytes = major == 1 ? 2 : 4;
        if (ReadFully(stream, prefix.Slice(8, lengthBytes)) < lengthBytes)
            throw new NpyFormatException($"{name}: truncated: the header length field is cut off");
        long headerLength = major == 1
            ? BinaryPrimitives.ReadUInt16LittleEndian(prefix.Slice(8, 2))
            : BinaryPrimitives.ReadUInt32LittleEndian(prefix.Slice(8, 4));
        if (headerLength > MaxHeaderLength)
            throw new NpyFormatException($"{name}: header length {headerLength} exceeds the {MaxHeaderLength}-byte limit");
        long dataOffset = 8 + lengthBytes + headerLength;
        if (stream.CanSeek && stream.Length < dataOffset)
            throw new NpyFormatException($"{name}: truncated: the header says {headerLength} bytes, the file ends {dataOffset - stream.Length} bytes short of it");
        var bytes = new byte[headerLength];
        if (ReadFully(stream, bytes) < headerLength)
            throw new NpyFormatException($"{name}: truncated: the header says {headerLength} bytes, the file ends inside it");

        string text;
        try
        {
            var encoding = major == 3 ? new UTF8Encoding(false, throwOnInvalidBytes: true) : Encoding.Latin1;
            text = encoding.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new NpyFormatException($"{name}: the header is not valid UTF-8");
        }
        var (descr, fortran, shape) = HeaderParser.Parse(text, name);
        if (fortran)
            throw new NpyFormatException($"{name}: fortran_order=True (column-major) is not supported; save a C-ordered array (np.ascontiguousarray)");
        return new NpyHeader(descr, shape, major, dataOffset);
    }

    static FileStream OpenRead(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        }
        catch (FileNotFoundException)
        {
            throw new FileNotFoundException($"{path}: no such .npy file", path);
        }
    }

    static int ReadFully(Stream s, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = s.Read(buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    // ---- writing ---------------------------------------------------------------------------------

    /// <summary>Writes float32 values (row-major) of <paramref name="shape"/> as '&lt;f4', atomically (temp file + rename).</summary>
    public static void Write(string path, ReadOnlySpan<float> data, ReadOnlySpan<int> shape)
    {
        foreach (int d in shape)
            if (d < 0) throw new ArgumentException($"npy write {path}: negative dimension in shape {Layout.Format(shape)}");
        if (data.Length != Layout.Count(shape))
            throw new ArgumentException($"npy write {path}: {data.Length} values do not fill shape {Layout.Format(shape)} ({Layout.Count(shape)} elements)");
        byte[] header = BuildHeader("<f4", shape);

        using var file = AtomicFile.Create(path);
        file.Stream.Write(header);
        if (BitConverter.IsLittleEndian)
            file.Stream.Write(MemoryMarshal.AsBytes(data));
        else
        {
            var buf = new byte[4];
            foreach (float v in data) { BinaryPrimitives.WriteSingleLittleEndian(buf, v); file.Stream.Write(buf); }
        }
        file.Commit();
    }

    /// <summary>Writes float32 values (row-major) of <paramref name="shape"/> as '&lt;f4', atomically.</summary>
    public static void Write(string path, float[] data, params int[] shape) => Write(path, data.AsSpan(), shape.AsSpan());

    /// <summary>Writes a tensor (any layout, any backend: read back through its strides) as '&lt;f4', atomically.</summary>
    public static void Write(string path, Tensor tensor) => Write(path, tensor.ToArray(), tensor.Shape);

    /// <summary>The header numpy writes for a C-ordered array: magic, version, length, dict, space padding, newline; 64-byte aligned.</summary>
    public static byte[] BuildHeader(string descr, ReadOnlySpan<int> shape)
    {
        var sb = new StringBuilder();
        sb.Append("{'descr': '").Append(descr).Append("', 'fortran_order': False, 'shape': (");
        for (int i = 0; i < shape.Length; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(shape[i].ToString(CultureInfo.InvariantCulture));
        }
        if (shape.Length == 1) sb.Append(',');
        sb.Append("), }");
        if (shape.Length > 0)
            sb.Append(' ', GrowthAxisMaxDigits - shape[0].ToString(CultureInfo.InvariantCulture).Length);

        byte[] dict = Encoding.Latin1.GetBytes(sb.ToString());
        int hlen = dict.Length + 1;   // + the final newline
        int version = hlen + (ArrayAlign - (10 + hlen) % ArrayAlign) <= ushort.MaxValue ? 1 : 2;
        int prefix = version == 1 ? 10 : 12;
        int pad = ArrayAlign - (prefix + hlen) % ArrayAlign;
        var header = new byte[prefix + hlen + pad];
        Magic.CopyTo(header);
        header[6] = (byte)version;
        header[7] = 0;
        if (version == 1) BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), (ushort)(hlen + pad));
        else BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), (uint)(hlen + pad));
        dict.CopyTo(header, prefix);
        header.AsSpan(prefix + dict.Length, pad).Fill((byte)' ');
        header[^1] = (byte)'\n';
        return header;
    }

    // ---- element types ---------------------------------------------------------------------------

    sealed class ElementType
    {
        public required string Descr { get; init; }
        public required int Size { get; init; }
        public required Action<ReadOnlySpan<byte>, Span<float>> Convert { get; init; }

        public static ElementType Parse(string descr, string name)
        {
            if (descr.Length < 2)
                throw new NpyFormatException($"{name}: unsupported dtype '{descr}'");
            char order = descr[0];
            string code = descr[1..];
            bool little = order == '<' || order == '|' || (order == '=' && BitConverter.IsLittleEndian);
            bool big = order == '>' || (order == '=' && !BitConverter.IsLittleEndian);
            if (big && code is not ("u1" or "i1" or "b1"))
                throw new NpyFormatException($"{name}: big-endian dtype '{descr}' is not supported (save with '<' byte order, e.g. a.astype('<f4'))");
            if (!little && !big)
                throw new NpyFormatException($"{name}: unsupported dtype '{descr}' (unknown byte order '{order}')");
            return code switch
            {
                "f4" => new() { Descr = descr, Size = 4, Convert = (s, d) => { for (int i = 0; i < d.Length; i++) d[i] = BinaryPrimitives.ReadSingleLittleEndian(s[(4 * i)..]); } },
                "f8" => new() { Descr = descr, Size = 8, Convert = (s, d) => { for (int i = 0; i < d.Length; i++) d[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(s[(8 * i)..]); } },
                "f2" => new() { Descr = descr, Size = 2, Convert = (s, d) => { for (int i = 0; i < d.Length; i++) d[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(s[(2 * i)..]); } },
                "i8" => new() { Descr = descr, Size = 8, Convert = (s, d) => { for (int i = 0; i < d.Length; i++) d[i] = BinaryPrimitives.ReadInt64LittleEndian(s[(8 * i)..]); } },
                "i4" => new() { Descr = descr, Size = 4, Convert = (s, d) => { for (int i = 0; i < d.Length; i++) d[i] = BinaryPrimitives.ReadInt32LittleEndian(s[(4 * i)..]); } },
                "i2" => new() { Descr = descr, Size = 2, Convert = (s, d) => { for (int i = 0; i < d.Length; i++) d[i] = BinaryPrimitives.ReadInt16LittleEndian(s[(2 * i)..]); } },
                "i1" => new() { Descr = descr, Size = 1, Convert = (s, d) => { for (int i = 0; i < d.Length; i++) d[i] = (sbyte)s[i]; } },
                "u1" => new() { Descr = descr, Size = 1, Convert = (s, d) => { for (int i = 0; i < d.Length; i++) d[i] = s[i]; } },
                "b1" => new() { Descr = descr, Size = 1, Convert = (s, d) => { for (int i = 0; i < d.Length; i++) d[i] = s[i] != 0 ? 1f : 0f; } },
                _ when code.StartsWith('O') => throw new NpyFormatException($"{name}: object dtype '{descr}' is not supported (it needs pickle)"),
                _ => throw new NpyFormatException($"{name}: unsupported dtype '{descr}' (readable: <f4, <f8, <f2, <i8, <i4, <i2, |i1, |u1, |b1)"),
            };
        }

        /// <summary>Reads <paramref name="bytes"/> bytes from the stream and converts them into <paramref name="data"/>.</summary>
        public void ReadInto(Stream stream, float[] data, string name, long bytes)
        {
            if (Descr[1..] == "f4" && BitConverter.IsLittleEndian)
            {
                int got = ReadFully(stream, MemoryMarshal.AsBytes(data.AsSpan()));
                if (got < bytes) throw Truncated(name, bytes, got);
                return;
            }
            const int ChunkElements = 1 << 14;
            var buffer = new byte[ChunkElements * Size];
            long done = 0;
            for (int at = 0; at < data.Length; at += ChunkElements)
            {
                int n = Math.Min(ChunkElements, data.Length - at);
                int got = ReadFully(stream, buffer.AsSpan(0, n * Size));
                done += got;
                if (got < n * Size) throw Truncated(name, bytes, done);
                Convert(buffer.AsSpan(0, n * Size), data.AsSpan(at, n));
            }
        }

        static NpyFormatException Truncated(string name, long needed, long got) =>
            new($"{name}: truncated: {needed} data bytes expected, the file ends after {got}");
    }

    // ---- header dictionary -----------------------------------------------------------------------

    /// <summary>
    /// Parses the header's Python dict literal, e.g. <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (3, 4), }</c>:
    /// exactly the keys descr, fortran_order and shape; string, bool and int-tuple values.
    /// </summary>
    static class HeaderParser
    {
        public static (string Descr, bool Fortran, int[] Shape) Parse(string text, string name)
        {
            var p = new Cursor(text, name);
            string? descr = null;
            bool? fortran = null;
            int[]? shape = null;
            p.Skip();
            p.Expect('{');
            while (true)
            {
                p.Skip();
                if (p.TryTake('}')) break;
                string key = p.String();
                p.Skip();
                p.Expect(':');
                p.Skip();
                switch (key)
                {
                    case "descr":
                        if (descr is not null) throw p.Fail("duplicate key 'descr'");
                        if (p.Peek() == '[') throw new NpyFormatException($"{name}: structured dtypes are not supported");
                        descr = p.String();
                        break;
                    case "fortran_order":
                        if (fortran is not null) throw p.Fail("duplicate key 'fortran_order'");
                        fortran = p.Bool();
                        break;
                    case "shape":
                        if (shape is not null) throw p.Fail("duplicate key 'shape'");
                        shape = p.Shape();
                        break;
                    default:
                        throw p.Fail($"unexpected key '{key}'");
                }
                p.Skip();
                if (p.TryTake(',')) continue;
                p.Skip();
                p.Expect('}');
                break;
            }
            p.Skip();
            if (!p.AtEnd) throw p.Fail("text after the closing brace");
            if (descr is null) throw new NpyFormatException($"{name}: malformed .npy header: no 'descr' key");
            if (fortran is null) throw new NpyFormatException($"{name}: malformed .npy header: no 'fortran_order' key");
            if (shape is null) throw new NpyFormatException($"{name}: malformed .npy header: no 'shape' key");
            return (descr, fortran.Value, shape);
        }

        sealed class Cursor(string text, string name)
        {
            int _at;

            public bool AtEnd => _at >= text.Length;
            public char Peek() => AtEnd ? '\0' : text[_at];

            public void Skip()
            {
                while (!AtEnd && char.IsWhiteSpace(text[_at])) _at++;
            }

            public bool TryTake(char c)
            {
                if (Peek() != c) return false;
                _at++;
                return true;
            }

            public void Expect(char c)
            {
                if (!TryTake(c)) throw Fail(AtEnd ? $"expected '{c}'" : $"expected '{c}', found '{Peek()}'");
            }

            public NpyFormatException Fail(string problem) =>
                new($"{name}: malformed .npy header at character {_at}: {problem}{(AtEnd ? " (the header ends)" : "")}");

            public string String()
            {
                char q = Peek();
                if (q != '\'' && q != '"') throw Fail("expected a quoted string");
                _at++;
                int start = _at;
                while (!AtEnd && text[_at] != q)
                {
                    if (text[_at] == '\\') throw Fail("escapes in strings are not supported");
                    if (_at - start > 64) throw Fail("string longer than 64 characters");
                    _at++;
                }
                if (AtEnd) throw Fail("unterminated string");
                return text[start.._at++];
            }

            public bool Bool()
            {
                if (text.AsSpan(_at).StartsWith("True")) { _at += 4; return true; }
                if (text.AsSpan(_at).StartsWith("False")) { _at += 5; return false; }
                throw Fail("expected True or False");
            }

            public int[] Shape()
            {
                Expect('(');
                var dims = new List<int>();
                while (true)
                {
                    Skip();
                    if (TryTake(')')) break;
                    if (dims.Count == MaxRank) throw Fail($"more than {MaxRank} dimensions");
                    dims.Add(Int());
                    Skip();
                    if (TryTake(',')) continue;
                    Expect(')');
                    break;
                }
                if (!dims.Contains(0))
                {
                    long count = 1;   // each factor < 2^31 and count <= Array.MaxLength before it: no overflow
                    foreach (int d in dims)
                    {
                        count *= d;
                        if (count > Array.MaxLength)
                            throw new NpyFormatException($"{name}: shape {Layout.Format(dims.ToArray())} has more elements than one float array can hold");
                    }
                }
                return dims.ToArray();
            }

            int Int()
            {
                int start = _at;
                while (!AtEnd && char.IsAsciiDigit(text[_at])) _at++;
                if (_at == start) throw Fail(Peek() == '-' ? "negative dimension" : "expected a dimension");
                if (!AtEnd && text[_at] == 'L') _at++;   // Python 2 long literal, as old numpy wrote it
                if (!int.TryParse(text.AsSpan(start, _at - start).TrimEnd('L'), NumberStyles.None, CultureInfo.InvariantCulture, out int v))
                    throw Fail($"dimension {text[start.._at]} is too large");
                return v;
            }
        }
    }
}
