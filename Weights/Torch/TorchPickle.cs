using NativeASD.Weights.Pickle;

namespace NativeASD.Weights.Torch;

/// <summary>A torch storage type global such as <c>torch.FloatStorage</c>.</summary>
public sealed record TorchStorageType(string Name, WeightDType DType);

/// <summary>One storage a torch file holds: its key (zip entry data/KEY, or legacy root key), element type and element count.</summary>
public sealed record TorchStorage(string Key, WeightDType DType, long Numel);

/// <summary>What a persistent id loads: a window [Offset, Offset+Numel) of a storage (legacy files may view part of a root storage).</summary>
public sealed record TorchStorageSlice(TorchStorage Storage, long Offset, long Numel);

/// <summary>A tensor as <c>_rebuild_tensor_v2</c> describes it: a strided view of a storage; elements offset..offset+Σ(shape-1)·stride.</summary>
public sealed record TorchTensorRef(TorchStorage Storage, long Offset, int[] Shape, long[] Strides)
{
    public long Count => Shape.Aggregate(1L, (a, d) => a * d);

    public bool IsRowMajorContiguous
    {
        get
        {
            long expect = 1;
            for (int i = Shape.Length - 1; i >= 0; i--)
            {
                if (Shape[i] != 1 && Strides[i] != expect) return false;
                expect *= Shape[i];
            }
            return true;
        }
    }
}

/// <summary>
/// The whitelist of globals torch state dicts use, and the plain objects they become. Nothing is imported or run:
/// each allowed global maps to a C# constructor of inert data; every other global is refused by name.
/// </summary>
public sealed class TorchPickleClasses : IPickleClasses
{
    const int MaxDims = 16;
    /// <summary>Stride-0 (expanded) views may have more elements than their storage, up to this many: no amplification past it.</summary>
    const long MaxBroadcastElements = 1 << 24;

    static readonly Dictionary<string, WeightDType> StorageTypes = new()
    {
        ["FloatStorage"] = WeightDType.F32, ["HalfStorage"] = WeightDType.F16, ["BFloat16Storage"] = WeightDType.BF16,
        ["DoubleStorage"] = WeightDType.F64, ["LongStorage"] = WeightDType.I64, ["IntStorage"] = WeightDType.I32,
        ["ShortStorage"] = WeightDType.I16, ["CharStorage"] = WeightDType.I8, ["ByteStorage"] = WeightDType.U8,
        ["BoolStorage"] = WeightDType.Bool,
    };

    static readonly HashSet<string> Functions =
    [
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
    ];

    readonly Dictionary<string, TorchStorage> _storages = [];

    /// <summary>Storages the pickle referenced, by key, in first-reference order.</summary>
    public IReadOnlyDictionary<string, TorchStorage> Storages => _storages;

    public object ResolveGlobal(string module, string name)
    {
        string full = $"{module}.{name}";
        if (module == "torch" && StorageTypes.TryGetValue(name, out var t)) return new TorchStorageType(name, t);
        if (Functions.Contains(full)) return new PickleGlobal(module, name);
        throw new PickleRefusedException($"refuses global {full} (not on the whitelist of globals state dicts use)");
    }

    public object? Call(object? callable, object?[] args)
    {
        if (callable is not PickleGlobal g) throw new PickleRefusedException($"cannot call {Describe(callable)}");
        switch (g.ToString())
        {
            case "collections.OrderedDict":
                if (args.Length != 0) throw new PickleRefusedException("OrderedDict called with arguments");
                return new PickleDict();
            case "torch._utils._rebuild_tensor":
            case "torch._utils._rebuild_tensor_v2":
                if (args.Length < 4) throw new PickleRefusedException($"{g} needs at least 4 arguments, got {args.Length}");
                return RebuildTensor(args[0], args[1], args[2], args[3]);
            case "torch._utils._rebuild_parameter":
            case "torch._utils._rebuild_parameter_with_state":
                if (args.Length < 1 || args[0] is not TorchTensorRef data) throw new PickleRefusedException($"{g} expects a tensor as its first argument");
                return data;
            default:
                throw new PickleRefusedException($"cannot call {g}");
        }
    }

    public void Build(object? target, object? state)
    {
        // OrderedDict state dicts carry `_metadata` (per-module versions) through BUILD: kept, not interpreted.
        if (target is PickleDict d) { d.State = state; return; }
        throw new PickleRefusedException($"BUILD on {Describe(target)} is not supported");
    }

    /// <summary>('storage', StorageType, key, location, numel[, view_metadata]) — zip files omit view_metadata.</summary>
    public object? PersistentLoad(object? pid)
    {
        if (pid is not PickleTuple t || t.Count < 5 || t[0] is not "storage")
            throw new PickleRefusedException($"persistent id {Describe(pid)} is not a torch storage reference");
        if (t[1] is not TorchStorageType type) throw new PickleRefusedException($"persistent id names storage type {Describe(t[1])}");
        string key = t[2] switch { string s => s, long l => l.ToString(System.Globalization.CultureInfo.InvariantCulture), var o => throw new PickleRefusedException($"storage key {Describe(o)}") };
        if (key.Length == 0 || key.Length > 64 || key.Any(c => !char.IsAsciiLetterOrDigit(c) && c != '_'))
            throw new PickleRefusedException($"storage key '{(key.Length > 64 ? key[..64] + "…" : key)}' is not a plain name");
        if (t[4] is not long numel || numel < 0) throw new PickleRefusedException("storage size is not a non-negative integer");
        if (_storages.TryGetValue(key, out var known))
        {
            if (known.DType != type.DType || known.Numel != numel)
                throw new PickleRefusedException($"storage {key} is referenced as {known.DType}×{known.Numel} and as {type.DType}×{numel}");
        }
        else _storages[key] = known = new TorchStorage(key, type.DType, numel);

        if (t.Count >= 6 && t[5] is PickleTuple view)
        {
            // Legacy view_metadata: (view_key, offset, view_size) — a window of the root storage.
            if (view.Count != 3 || view[1] is not long off || view[2] is not long size || off < 0 || size < 0 || off > numel || size > numel - off)
                throw new PickleRefusedException($"storage {key} has an invalid view");
            return new TorchStorageSlice(known, off, size);
        }
        return new TorchStorageSlice(known, 0, numel);
    }

    static TorchTensorRef RebuildTensor(object? storage, object? offset, object? size, object? stride)
    {
        if (storage is not TorchStorageSlice slice) throw new PickleRefusedException($"tensor storage is {Describe(storage)}");
        if (offset is not long off || off < 0) throw new PickleRefusedException("tensor storage offset is not a non-negative integer");
        if (size is not PickleTuple sz || stride is not PickleTuple st || sz.Count != st.Count || sz.Count > MaxDims)
            throw new PickleRefusedException("tensor size/stride are not tuples of equal length (≤ 16)");
        var shape = new int[sz.Count];
        var strides = new long[sz.Count];
        long last = 0; // highest element index touched, relative to the offset
        bool empty = false;
        for (int i = 0; i < shape.Length; i++)
        {
            if (sz[i] is not long d || d < 0 || d > int.MaxValue) throw new PickleRefusedException($"tensor dimension {i} is not a valid size");
            if (st[i] is not long s || s < 0 || s > int.MaxValue * 16L) throw new PickleRefusedException($"tensor stride {i} is not a valid stride");
            shape[i] = (int)d; strides[i] = s;
            if (d == 0) empty = true;
            else if ((d - 1) * (double)s + last > long.MaxValue / 2) throw new PickleRefusedException($"tensor dimension {i} with stride {s} overflows");
            else last += (d - 1) * s;
        }
        long count = WeightDTypes.CheckedCount(shape.Select(d => (long)d).ToArray());
        if (count < 0) throw new PickleRefusedException("tensor element count overflows");
        if (count > slice.Numel && count > MaxBroadcastElements)
            throw new PickleRefusedException($"tensor [{string.Join(",", shape)}] has {count} elements but its storage only {slice.Numel} (broadcast views over {MaxBroadcastElements} elements are refused)");
        if (!empty && (off > slice.Numel || last >= slice.Numel - off))
            throw new PickleRefusedException($"tensor [{string.Join(",", shape)}] at offset {off} with strides ({string.Join(",", strides)}) reaches past its storage of {slice.Numel} elements");
        return new TorchTensorRef(slice.Storage, slice.Offset + off, shape, strides);
    }

    static string Describe(object? o) => o switch
    {
        null => "None",
        string s => $"'{(s.Length > 40 ? s[..40] + "…" : s)}'",
        PickleGlobal g => g.ToString(),
        _ => o.GetType().Name,
    };
}

/// <summary>Finds the tensors in an unpickled checkpoint: a state dict, or one nested in containers (PANNs: under 'model').</summary>
public static class TorchStateDict
{
    public const int MaxDepth = 32;

    /// <summary>
    /// Tensors with dotted names from the root. When all tensors sit under one container path (e.g. "model"), the
    /// names are relative to it and the path is returned; scalar entries of the root dict become metadata.
    /// </summary>
    public static (List<(string Name, TorchTensorRef Tensor)> Tensors, string? Root, Dictionary<string, string> Scalars) Collect(string path, object? root)
    {
        // Paths are lists of container keys; a state dict's own keys (which contain dots) are single components.
        var found = new List<(string[] Path, TorchTensorRef Tensor)>();
        Walk(path, root, [], found);
        int common = CommonContainerDepth(found.Select(f => f.Path).ToList());
        string? prefix = common == 0 ? null : string.Join('.', found[0].Path[..common]);
        var tensors = found.Select(f => (f.Path.Length == common ? "tensor" : string.Join('.', f.Path[common..]), f.Tensor)).ToList();
        var names = new HashSet<string>();
        foreach (var (n, _) in tensors)
            if (!names.Add(n)) throw new WeightFormatException(path, $"two tensors are both named '{n}'");
        var scalars = new Dictionary<string, string>();
        if (root is PickleDict d)
            foreach (var kv in d.Items.Take(64))
                if (kv.Key is string k && kv.Value is long or double or string or bool)
                    scalars[k] = Convert.ToString(kv.Value, System.Globalization.CultureInfo.InvariantCulture) is { } v && v.Length <= 256 ? v : "…";
        return (tensors, prefix, scalars);
    }

    static void Walk(string path, object? node, List<string> at, List<(string[], TorchTensorRef)> found)
    {
        if (at.Count > MaxDepth) throw new WeightFormatException(path, $"containers nested deeper than {MaxDepth} levels at '{string.Join('.', at.Take(8))}…'");
        switch (node)
        {
            case TorchTensorRef t:
                found.Add((at.ToArray(), t));
                break;
            case PickleDict d:
                foreach (var kv in d.Items)
                {
                    string key = kv.Key switch { string s => s, long l => l.ToString(System.Globalization.CultureInfo.InvariantCulture), _ => "?" };
                    at.Add(key); Walk(path, kv.Value, at, found); at.RemoveAt(at.Count - 1);
                }
                break;
            case List<object?> list:
                for (int i = 0; i < list.Count; i++) { at.Add($"{i}"); Walk(path, list[i], at, found); at.RemoveAt(at.Count - 1); }
                break;
            case PickleTuple tuple:
                for (int i = 0; i < tuple.Count; i++) { at.Add($"{i}"); Walk(path, tuple[i], at, found); at.RemoveAt(at.Count - 1); }
                break;
        }
    }

    /// <summary>How many leading containers every tensor path shares (never the tensor's own key).</summary>
    static int CommonContainerDepth(List<string[]> paths)
    {
        if (paths.Count == 0) return 0;
        int n = paths[0].Length - 1;
        foreach (var p in paths)
        {
            int k = 0;
            while (k < n && k < p.Length - 1 && p[k] == paths[0][k]) k++;
            n = k;
        }
        return Math.Max(0, n);
    }
}
