using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text.Json;

namespace NativeASD.Weights.Safetensors;

/// <summary>Where one tensor's bytes lie in a safetensors file.</summary>
public sealed record SafetensorsEntry(string Name, WeightDType DType, int[] Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;
}

/// <summary>
/// A safetensors file, memory-mapped: opening parses and validates the header only; tensor bytes are read from the
/// mapping when asked for (<see cref="GetBytes"/> returns a view of the mapping, no copy). Every size in the header is
/// bounded: header ≤ <see cref="MaxHeaderBytes"/> and inside the file, offsets inside the data section, contiguous and
/// non-overlapping (the format forbids holes), and dtype × shape equal to each tensor's byte length.
/// </summary>
public sealed unsafe class SafetensorsFile : IWeightSource
{
    public const long MaxHeaderBytes = 100L << 20;
    const int MaxDims = 16;

    readonly MemoryMappedFile? _map;
    readonly MemoryMappedViewAccessor? _view;
    readonly byte* _base;
    readonly Dictionary<string, SafetensorsEntry> _byName;
    bool _disposed;

    public string Path { get; }
    public string Format => "safetensors";
    public IReadOnlyList<WeightTensor> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>Entries in data order.</summary>
    public IReadOnlyList<SafetensorsEntry> Entries { get; }
    /// <summary>File offset where the data section starts (8 + header length).</summary>
    public long DataStart { get; }

    /// <summary>True when the file starts like safetensors: an 8-byte header length then '{' (the length is checked on open).</summary>
    public static bool Sniff(ReadOnlySpan<byte> head) => head.Length >= 9 && head[8] == (byte)'{';

    SafetensorsFile(string path, FileStream file, long dataStart, List<SafetensorsEntry> entries, Dictionary<string, string> metadata)
    {
        Path = path; DataStart = dataStart; Entries = entries; Metadata = metadata;
        _byName = entries.ToDictionary(e => e.Name);
        if (file.Length > 0)
        {
            _map = MemoryMappedFile.CreateFromFile(file, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            _base = p + _view.PointerOffset;
        }
        else file.Dispose();
        Tensors = entries.Select(e => new WeightTensor(e.Name, e.Shape, e.DType, e.ByteLength, () => Decode(e))
        {
            DecodeRange = (start, destination) => DecodeRange(e, start, destination),
        }).ToList();
    }

    public static SafetensorsFile Open(string path)
    {
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        return WeightFiles.ParseOrClose(path, file, () =>
        {
            long length = file.Length;
            if (length < 8) throw new WeightFormatException(path, $"file is {length} bytes, shorter than the 8-byte safetensors header length");
            Span<byte> lenBytes = stackalloc byte[8];
            file.ReadExactly(lenBytes);
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
            if (n > (ulong)MaxHeaderBytes) throw new WeightFormatException(path, $"safetensors header claims {n} bytes (limit {MaxHeaderBytes})");
            if (n > (ulong)(length - 8)) throw new WeightFormatException(path, $"safetensors header claims {n} bytes but the file has only {length - 8} after the length (truncated?)");
            if (n < 2) throw new WeightFormatException(path, "safetensors header is empty");
            var header = new byte[n];
            file.ReadExactly(header);
            long dataStart = 8 + (long)n;
            var (entries, metadata) = ParseHeader(path, header, length - dataStart);
            file.Position = 0;
            return new SafetensorsFile(path, file, dataStart, entries, metadata);
        });
    }

    static (List<SafetensorsEntry>, Dictionary<string, string>) ParseHeader(string path, byte[] header, long dataLength)
    {
        if (header[0] != (byte)'{') throw new WeightFormatException(path, "safetensors header does not start with '{'");
        if (!System.Text.Unicode.Utf8.IsValid(header)) throw new WeightFormatException(path, "safetensors header is not valid UTF-8");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 8 }); }
        catch (JsonException e) { throw new WeightFormatException(path, $"safetensors header is not valid JSON: {e.Message}", e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new WeightFormatException(path, "safetensors header is not a JSON object");
            var entries = new List<SafetensorsEntry>();
            var metadata = new Dictionary<string, string>();
            var seen = new HashSet<string>();
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(prop.Name)) throw new WeightFormatException(path, $"safetensors header names '{prop.Name}' twice");
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object) throw new WeightFormatException(path, "__metadata__ is not an object");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String) throw new WeightFormatException(path, $"__metadata__ value '{m.Name}' is not a string");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                entries.Add(ParseEntry(path, prop.Name, prop.Value));
            }
            // Offsets must tile [0, dataLength) exactly: in range, no overlap, no holes.
            entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
            long at = 0;
            foreach (var e in entries)
            {
                if (e.Begin < at) throw new WeightFormatException(path, $"tensor {e.Name} [{e.Begin}, {e.End}) overlaps the tensor before it");
                if (e.Begin > at) throw new WeightFormatException(path, $"gap before tensor {e.Name} at data offset {at} (the safetensors format forbids holes)");
                if (e.End > dataLength) throw new WeightFormatException(path, $"tensor {e.Name} [{e.Begin}, {e.End}) runs past the data section of {dataLength} bytes (truncated?)");
                at = e.End;
            }
            if (at != dataLength) throw new WeightFormatException(path, $"data section has {dataLength} bytes but the tensors cover {at}");
            return (entries, metadata);
        }
    }

    static SafetensorsEntry ParseEntry(string path, string name, JsonElement v)
    {
        string where = $"tensor '{(name.Length > 80 ? name[..80] + "…" : name)}'";
        if (v.ValueKind != JsonValueKind.Object) throw new WeightFormatException(path, $"{where} is not an object");
        if (!v.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String || !WeightDTypes.TryParseSafetensorsName(dt.GetString()!, out var dtype))
            throw new WeightFormatException(path, $"{where} has a missing or unsupported dtype");
        if (!v.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array || sh.GetArrayLength() > MaxDims)
            throw new WeightFormatException(path, $"{where} has a missing shape or more than {MaxDims} dimensions");
        var shape = new int[sh.GetArrayLength()];
        int i = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int x) || x < 0) throw new WeightFormatException(path, $"{where} has an invalid dimension");
            shape[i++] = x;
        }
        if (!v.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw new WeightFormatException(path, $"{where} has no [begin, end] data_offsets");
        if (off[0].ValueKind != JsonValueKind.Number || off[1].ValueKind != JsonValueKind.Number || !off[0].TryGetInt64(out long begin) || !off[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw new WeightFormatException(path, $"{where} has invalid data_offsets");
        long count = WeightDTypes.CheckedCount(shape.Select(d => (long)d).ToArray());
        int size = WeightDTypes.Size(dtype);
        if (count < 0 || count > long.MaxValue / size || count * size != end - begin)
            throw new WeightFormatException(path, $"{where}: {dtype} [{string.Join(",", shape)}] needs {(count < 0 ? "too many" : (count * size).ToString(System.Globalization.CultureInfo.InvariantCulture))} bytes but data_offsets span {end - begin}");
        return new SafetensorsEntry(name, dtype, shape, begin, end);
    }

    public SafetensorsEntry Entry(string name) =>
        _byName.TryGetValue(name, out var e) ? e : throw new WeightFormatException(Path, $"no tensor named '{name}'");

    /// <summary>The tensor's raw little-endian bytes, straight from the mapping (valid until Dispose).</summary>
    public ReadOnlySpan<byte> GetBytes(string name) => GetBytes(Entry(name));

    public ReadOnlySpan<byte> GetBytes(SafetensorsEntry e)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (e.ByteLength > int.MaxValue) throw new WeightFormatException(Path, $"tensor {e.Name} is larger than 2 GiB; read it with ReadFloat32");
        return e.ByteLength == 0 ? [] : new ReadOnlySpan<byte>(_base + DataStart + e.Begin, (int)e.ByteLength);
    }

    float[] Decode(SafetensorsEntry e)
    {
        long count = e.ByteLength / WeightDTypes.Size(e.DType);
        if (count > Array.MaxLength) throw new WeightFormatException(Path, $"tensor {e.Name} has {count} elements, more than one array holds");
        var result = GC.AllocateUninitializedArray<float>((int)count); // every element is written below
        WeightDTypes.DecodeToFloat32(GetBytes(e), e.DType, result);
        return result;
    }

    void DecodeRange(SafetensorsEntry e, long start, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int size = WeightDTypes.Size(e.DType);
        long count = e.ByteLength / size;
        if (start < 0 || start + destination.Length > count)
            throw new ArgumentOutOfRangeException(nameof(start), $"{Path}: elements [{start}, {start + destination.Length}) outside tensor {e.Name} of {count}");
        WeightDTypes.DecodeToFloat32(new ReadOnlySpan<byte>(_base + DataStart + e.Begin + start * size, destination.Length * size), e.DType, destination);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }
}
