using System.Buffers.Binary;
using System.Numerics;
using NativeASD.Weights.Pickle;

namespace NativeASD.Weights.Torch;

/// <summary>
/// A legacy (pre-1.6, non-zip) <c>torch.save</c> file: pickled magic number, protocol version and sys info; the
/// pickled object (storages as persistent ids); a pickled list of storage keys; then per key an int64 element count
/// followed by the raw little-endian elements. Only the storage offsets are kept; data is read on demand.
/// </summary>
public sealed class TorchLegacyReader : IWeightSource
{
    static readonly BigInteger Magic = BigInteger.Parse("119547037146038801333356", System.Globalization.CultureInfo.InvariantCulture);
    const long ProtocolVersion = 1001;

    readonly FileStream _file;
    readonly Dictionary<string, long> _dataOffsets;
    readonly Lock _gate = new();

    public string Path { get; }
    public string Format => "torch-legacy";
    public IReadOnlyList<WeightTensor> Tensors { get; private set; } = [];
    public IReadOnlyDictionary<string, string> Metadata { get; private set; } = new Dictionary<string, string>();

    TorchLegacyReader(string path, FileStream file, Dictionary<string, long> offsets)
    {
        Path = path; _file = file; _dataOffsets = offsets;
    }

    /// <summary>True when the file starts like a legacy torch file: PROTO 2 then LONG1 of the magic number.</summary>
    public static bool Sniff(ReadOnlySpan<byte> head) => head.Length >= 4 && head[0] == 0x80 && head[1] == 0x02 && head[2] == 0x8a && head[3] == 0x0a;

    public static TorchLegacyReader Open(string path)
    {
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return WeightFiles.ParseOrClose(path, file, () =>
        {
            long end = file.Length;
            var classes = new TorchPickleClasses();
            object? Next() => new RestrictedUnpickler(path, file, end, classes).Load();

            if (Next() is not BigInteger magic || magic != Magic) throw new WeightFormatException(path, "not a legacy torch.save file (magic number missing)");
            if (Next() is not long protocol || protocol != ProtocolVersion) throw new WeightFormatException(path, $"legacy torch protocol version is not {ProtocolVersion}");
            if (Next() is not PickleDict sysInfo) throw new WeightFormatException(path, "legacy torch sys_info is not a dict");
            if (!sysInfo.TryGet("little_endian", out var le) || le is not true) throw new WeightFormatException(path, "checkpoint is big-endian (only little-endian is supported)");
            object? root = Next();
            if (Next() is not List<object?> keys) throw new WeightFormatException(path, "legacy storage key list is missing");

            // Storage records follow in key-list order: int64 element count, then the elements.
            var offsets = new Dictionary<string, long>();
            long at = file.Position;
            var countBytes = new byte[8];
            foreach (var k in keys)
            {
                if (k is not string key || !classes.Storages.TryGetValue(key, out var storage))
                    throw new WeightFormatException(path, $"storage key list names {(k is string s ? $"'{(s.Length > 64 ? s[..64] : s)}'" : "a non-string")} that the pickle never referenced");
                if (offsets.ContainsKey(key)) throw new WeightFormatException(path, $"storage {key} is listed twice");
                if (end - at < 8) throw new WeightFormatException(path, $"file ends before storage {key} (truncated)");
                file.Position = at;
                file.ReadExactly(countBytes);
                long count = BinaryPrimitives.ReadInt64LittleEndian(countBytes);
                if (count != storage.Numel) throw new WeightFormatException(path, $"storage {key} records {count} elements, the pickle says {storage.Numel}");
                long bytes = storage.Numel * WeightDTypes.Size(storage.DType);
                if (bytes > end - at - 8) throw new WeightFormatException(path, $"storage {key} needs {bytes} bytes but the file ends first (truncated)");
                offsets[key] = at + 8;
                at += 8 + bytes;
            }
            foreach (var s in classes.Storages.Keys)
                if (!offsets.ContainsKey(s)) throw new WeightFormatException(path, $"storage {s} is referenced but its data is not in the file");

            var (refs, rootKey, scalars) = TorchStateDict.Collect(path, root);
            var reader = new TorchLegacyReader(path, file, offsets);
            reader.Tensors = refs.Select(r => TorchTensors.Make(path, r.Name, r.Tensor, reader.ReadStorage)).ToList();
            var metadata = new Dictionary<string, string>();
            if (rootKey is not null) metadata["torch.state_dict_path"] = rootKey;
            foreach (var (k, v) in scalars) metadata[$"torch.{k}"] = v;
            reader.Metadata = metadata;
            return reader;
        });
    }

    byte[] ReadStorage(TorchStorage s, long offset, long count)
    {
        int size = WeightDTypes.Size(s.DType);
        var buf = new byte[checked(count * size)];
        lock (_gate)
        {
            _file.Position = _dataOffsets[s.Key] + offset * size;
            _file.ReadExactly(buf);
        }
        return buf;
    }

    public void Dispose() => _file.Dispose();
}
