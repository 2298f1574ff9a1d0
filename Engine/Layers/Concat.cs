using NativeASD.Kernels;

namespace NativeASD.Engine.Layers;

/// <summary>
/// Joins several tensors along one axis (torch.cat). Multi-input, so not a <see cref="Layer"/>:
/// <c>Forward(inputs)</c> borrows the inputs and returns a new tensor; <c>Backward(dy)</c> returns one gradient per
/// input, in order — views into dy's storage, each owned (to be disposed) by the caller.
/// </summary>
public sealed class Concat(int axis = 1, IBackend? backend = null) : Module(backend)
{
    int[]? _sizes;
    int _axis;

    public string Describe() => $"Concat(axis {axis})";

    public Tensor Forward(IReadOnlyList<Tensor> inputs)
    {
        if (inputs.Count == 0) throw new ArgumentException($"{Describe()}: no inputs");
        var first = inputs[0];
        int a = axis < 0 ? axis + first.Rank : axis;
        if (a < 0 || a >= first.Rank) throw new ArgumentException($"{Describe()}: axis out of range for input {Layout.Format(first.Shape)}");
        var shape = first.ShapeArray();
        int total = 0;
        foreach (var t in inputs)
        {
            bool ok = t.Rank == first.Rank;
            for (int i = 0; ok && i < t.Rank; i++) ok = i == a || t.Dim(i) == shape[i];
            if (!ok)
                throw new ArgumentException($"{Describe()}: inputs {string.Join(", ", inputs.Select(x => Layout.Format(x.Shape)))} differ outside axis {a}");
            total += t.Dim(a);
        }
        shape[a] = total;
        var y = Tensor.Empty(shape, first.Backend);
        int offset = 0;
        foreach (var t in inputs)
        {
            using var slot = y.Slice(a, offset, t.Dim(a));
            Ops.Copy(t, slot);
            offset += t.Dim(a);
        }
        (_axis, _sizes) = (a, inputs.Select(t => t.Dim(a)).ToArray());
        return y;
    }

    public Tensor[] Backward(Tensor dy)
    {
        var sizes = _sizes ?? throw new InvalidOperationException($"{Describe()}: Backward needs a Forward first");
        if (dy.Rank <= _axis || dy.Dim(_axis) != sizes.Sum())
            throw new ArgumentException($"{Describe()}: gradient {Layout.Format(dy.Shape)} does not match the concatenated sizes [{string.Join(",", sizes)}]");
        var grads = new Tensor[sizes.Length];
        int offset = 0;
        for (int i = 0; i < sizes.Length; i++) { grads[i] = dy.Slice(_axis, offset, sizes[i]); offset += sizes[i]; }
        return grads;
    }
}
