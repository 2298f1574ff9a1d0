using NativeASD.Kernels;

namespace NativeASD.Engine.Layers;

/// <summary>
/// A numbered list of child modules ("0", "1", …) as torch.nn.ModuleList: it only names them (state-dict keys such
/// as "enc_layers.3.weight"); the owning model decides how they are run.
/// </summary>
public sealed class ModuleList<T>(IBackend? backend = null) : Module(backend) where T : Module
{
    readonly List<T> _items = [];

    public T this[int index] => _items[index];
    public int Count => _items.Count;
    public IReadOnlyList<T> Items => _items;

    public T Add(T item)
    {
        _items.Add(AddChild(_items.Count.ToString(), item));
        return item;
    }
}
