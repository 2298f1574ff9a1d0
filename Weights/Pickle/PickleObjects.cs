namespace NativeASD.Weights.Pickle;

/// <summary>A Python tuple from a pickle.</summary>
public sealed record PickleTuple(object?[] Items)
{
    public int Count => Items.Length;
    public object? this[int i] => Items[i];
}

/// <summary>
/// A Python dict or OrderedDict from a pickle, in insertion order. <see cref="State"/> holds what BUILD set on it
/// (a state dict's <c>_metadata</c>), kept but never interpreted.
/// </summary>
public sealed class PickleDict
{
    readonly List<KeyValuePair<object?, object?>> _items = [];
    readonly Dictionary<object, int> _index = []; // key → position; boxed primitives compare by value
    public IReadOnlyList<KeyValuePair<object?, object?>> Items => _items;
    public object? State { get; internal set; }

    public int Count => _items.Count;

    /// <summary>Python semantics: a repeated key overwrites the earlier value in place.</summary>
    public void Set(object? key, object? value)
    {
        object k = key ?? NoneKey;
        if (_index.TryGetValue(k, out int at)) { _items[at] = new(key, value); return; }
        _index[k] = _items.Count;
        _items.Add(new(key, value));
    }

    public bool TryGet(string key, out object? value)
    {
        if (_index.TryGetValue(key, out int at)) { value = _items[at].Value; return true; }
        value = null;
        return false;
    }

    static readonly object NoneKey = new();
}

/// <summary>A global (module.name) that the whitelist allowed; what REDUCE/NEWOBJ on it produce is decided by the <see cref="PickleClasses"/>.</summary>
public sealed record PickleGlobal(string Module, string Name)
{
    public override string ToString() => $"{Module}.{Name}";
}
