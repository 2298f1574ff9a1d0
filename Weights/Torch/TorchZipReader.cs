using System.IO.Compression;
using NativeASD.Weights.Pickle;

namespace NativeASD.Weights.Torch;

/// <summary>
/// A <c>torch.save</c> zip checkpoint (PyTorch ≥ 1.6): <c>PREFIX/data.pkl</c> (the pickled object, storages as
/// persistent ids) and <c>PREFIX/data/KEY</c> (raw little-endian storage bytes). Storages are read on demand, whole
/// entries at a time so that each entry's CRC-32 is checked.
/// </summary>
public sealed class TorchZipReader : IWeightSource
{
    public const long MaxPickleBytes = 256L << 20;

    readonly FileStream _file;
    readonly ZipArchive _zip;
    readonly string _prefix;
    readonly Lock _gate = new();
    string? _lastKey;
    byte[]? _lastBytes;

    public string Path { get; }
    public string Format => "torch-zip";
    public IReadOnlyList<WeightTensor> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    TorchZipReader(string path, FileStream file, ZipArchive zip, string prefix, IReadOnlyList<WeightTensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        Path = path; _file = file; _zip = zip; _prefix = prefix; Tensors = tensors; Metadata = metadata;
    }

    public static TorchZipReader Open(string path)
    {
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        ZipArchive? zip = null;
        try
        {
            zip = new ZipArchive(file, ZipArchiveMode.Read, leaveOpen: true);
            var pkl = zip.Entries.Where(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.IndexOf('/') == e.FullName.Length - "/data.pkl".Length).ToList();
            if (pkl.Count != 1)
                throw new WeightFormatException(path, pkl.Count == 0 ? "zip file has no PREFIX/data.pkl: not a torch.save checkpoint" : "zip file has several data.pkl entries");
            string prefix = pkl[0].FullName[..^"data.pkl".Length];

            var byteorder = zip.GetEntry(prefix + "byteorder");
            if (byteorder is not null)
            {
                string order = System.Text.Encoding.ASCII.GetString(ReadEntry(path, byteorder, 16));
                if (order != "little") throw new WeightFormatException(path, $"checkpoint byte order is '{order}'; only little-endian is supported");
            }

            var classes = new TorchPickleClasses();
            object? root;
            using (var ms = new MemoryStream(ReadEntry(path, pkl[0], MaxPickleBytes)))
                root = new RestrictedUnpickler(path, ms, ms.Length, classes).Load();

            foreach (var s in classes.Storages.Values)
            {
                var entry = zip.GetEntry($"{prefix}data/{s.Key}") ?? throw new WeightFormatException(path, $"storage {s.Key} is referenced but {prefix}data/{s.Key} is missing");
                long need = s.Numel * WeightDTypes.Size(s.DType);
                if (entry.Length != need) throw new WeightFormatException(path, $"{entry.FullName} holds {entry.Length} bytes, storage {s.Key} needs {need} ({s.Numel} × {s.DType})");
            }

            var (refs, rootKey, scalars) = TorchStateDict.Collect(path, root);
            var metadata = new Dictionary<string, string>();
            if (rootKey is not null) metadata["torch.state_dict_path"] = rootKey;
            foreach (var (k, v) in scalars) metadata[$"torch.{k}"] = v;

            TorchZipReader? reader = null;
            var tensors = refs.Select(r => TorchTensors.Make(path, r.Name, r.Tensor, (s, off, count) => reader!.ReadStorage(s, off, count))).ToList();
            reader = new TorchZipReader(path, file, zip, prefix, tensors, metadata);
            return reader;
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or NotSupportedException or ArgumentException)
        {
            zip?.Dispose(); file.Dispose();
            throw new WeightFormatException(path, $"corrupt zip checkpoint: {e.Message}", e);
        }
        catch
        {
            zip?.Dispose(); file.Dispose();
            throw;
        }
    }

    /// <summary>Reads a whole entry and checks its CRC-32, refusing entries larger than <paramref name="limit"/>.</summary>
    static byte[] ReadEntry(string path, ZipArchiveEntry entry, long limit)
    {
        if (entry.Length > limit || entry.Length > Array.MaxLength)
            throw new WeightFormatException(path, $"{entry.FullName} claims {entry.Length} bytes (limit {limit})");
        // Deflate cannot expand more than ~1032×: a larger claim is a lie, refused before allocating.
        if (entry.Length > 1032 * Math.Max(entry.CompressedLength, 1))
            throw new WeightFormatException(path, $"{entry.FullName} claims {entry.Length} bytes from {entry.CompressedLength} compressed");
        var buf = new byte[entry.Length];
        using var s = entry.Open();
        s.ReadExactly(buf);
        if (s.ReadByte() >= 0) throw new WeightFormatException(path, $"{entry.FullName} holds more bytes than its header declares");
        // ZipArchive (.NET 10) does not verify CRC-32 on read; a corrupted storage must not load silently.
        uint crc = System.IO.Hashing.Crc32.HashToUInt32(buf);
        if (crc != entry.Crc32) throw new WeightFormatException(path, $"{entry.FullName}: CRC-32 is {crc:x8}, the zip directory says {entry.Crc32:x8} (corrupt file)");
        return buf;
    }

    byte[] ReadStorage(TorchStorage s, long offset, long count)
    {
        int size = WeightDTypes.Size(s.DType);
        lock (_gate)
        {
            try
            {
                if (_lastKey == s.Key && _lastBytes is not null)
                    return _lastBytes.AsSpan(checked((int)(offset * size)), checked((int)(count * size))).ToArray();
                var entry = _zip.GetEntry($"{_prefix}data/{s.Key}") ?? throw new WeightFormatException(Path, $"storage entry data/{s.Key} is missing");
                var all = ReadEntry(Path, entry, long.MaxValue);
                if (offset == 0 && count * size == all.Length) return all; // a tensor owning its storage: no copy, no cache
                // A view of part of a storage: its sibling views usually follow, so keep this (CRC-checked) storage.
                _lastKey = s.Key;
                _lastBytes = all;
                return all.AsSpan(checked((int)(offset * size)), checked((int)(count * size))).ToArray();
            }
            catch (Exception e) when (e is InvalidDataException or EndOfStreamException or NotSupportedException or ArgumentException or OverflowException)
            {
                throw new WeightFormatException(Path, $"storage data/{s.Key}: {e.Message}", e);
            }
        }
    }

    public void Dispose()
    {
        _zip.Dispose();
        _file.Dispose();
    }
}
