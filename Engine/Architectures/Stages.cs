using NativeASD.Engine.Layers;

namespace NativeASD.Engine.Architectures;

/// <summary>Builds a <see cref="TapModel"/> stage from layers run in order (null entries skipped), backward in reverse.</summary>
static class Stages
{
    public static (Func<Tensor, Tensor> Forward, Func<Tensor, Tensor> Backward) Chain(params Layer?[] layers)
    {
        var present = layers.Where(l => l is not null).Cast<Layer>().ToArray();
        return (x =>
        {
            var current = x.Share();
            foreach (var l in present) { using var input = current; current = l.Forward(input); }
            return current;
        }, dy =>
        {
            var current = dy.Share();
            for (int i = present.Length - 1; i >= 0; i--) { using var grad = current; current = present[i].Backward(grad); }
            return current;
        });
    }
}
