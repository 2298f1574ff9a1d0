using NativeASD.Kernels;

namespace NativeASD.Engine.Layers;

/// <summary>
/// Layers applied in order; children are named "0", "1", … as torch.nn.Sequential (or given names).
/// Forward releases each intermediate output once the next layer has run (layers keep their own references);
/// Backward runs the layers in reverse. Errors from a layer are re-thrown with its position and description.
/// </summary>
public sealed class Sequential : Layer
{
    readonly List<Layer> _layers = [];

    public Sequential(params Layer[] layers) : this(layers.Select((l, i) => (i.ToString(), l)).ToArray()) { }

    public Sequential((string Name, Layer Layer)[] layers, IBackend? backend = null)
        : base(backend ?? (layers.Length > 0 ? layers[0].Layer.Backend : null))
    {
        foreach (var (name, layer) in layers) Append(name, layer);
    }

    public IReadOnlyList<Layer> Layers => _layers;

    /// <summary>Adds a layer at the end under <paramref name="name"/> (its state-dict prefix).</summary>
    public Sequential Append(string name, Layer layer)
    {
        _layers.Add(AddChild(name, layer));
        return this;
    }

    public override string Describe() => $"Sequential[{_layers.Count}]";

    public override Tensor Forward(Tensor x)
    {
        var current = x.Share();
        for (int i = 0; i < _layers.Count; i++)
        {
            using var input = current;
            current = Run(i, () => _layers[i].Forward(input));
        }
        return current;
    }

    public override Tensor Backward(Tensor dy)
    {
        var current = dy.Share();
        for (int i = _layers.Count - 1; i >= 0; i--)
        {
            using var grad = current;
            current = Run(i, () => _layers[i].Backward(grad));
        }
        return current;
    }

    Tensor Run(int i, Func<Tensor> step)
    {
        try { return step(); }
        catch (ArgumentException e) { throw new ArgumentException($"{Describe()} layer {Children.ElementAt(i).Name} {_layers[i].Describe()}: {e.Message}", e); }
    }

    public override void ClearSaved()
    {
        foreach (var l in _layers) l.ClearSaved();
    }
}
