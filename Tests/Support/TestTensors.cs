using NativeASD.Engine;
using NativeASD.Kernels;
using Xunit.Sdk;

namespace NativeASD.Tests.Support;

/// <summary>How a test lays out the same logical values in memory, to run every kernel path on one fixture.</summary>
public enum TestLayout
{
    /// <summary>Row-major, unit stride.</summary>
    Contiguous,
    /// <summary>Every element followed by a NaN: all strides doubled, innermost stride 2 (a gathered row). NaN padding shows stray reads.</summary>
    Padded,
    /// <summary>Stored with the axes reversed and permuted back: the innermost axis has the largest stride (rank ≥ 2).</summary>
    Reversed,
}

/// <summary>Builds tensors with a given layout from host data, and host-side reference reshuffles.</summary>
public static class TestTensors
{
    /// <summary>A tensor holding <paramref name="data"/> (row-major, of <paramref name="shape"/>) in <paramref name="layout"/>.</summary>
    public static Tensor Make(float[] data, int[] shape, IBackend backend, TestLayout layout)
    {
        switch (layout)
        {
            case TestLayout.Contiguous:
                return Tensor.FromSpan(data, shape, backend);
            case TestLayout.Padded:
                {
                    var padded = new float[data.Length * 2];
                    for (int i = 0; i < data.Length; i++) { padded[2 * i] = data[i]; padded[2 * i + 1] = float.NaN; }
                    using var parent = Tensor.FromSpan(padded, [.. shape, 2], backend);
                    using var slice = parent.Slice(-1, 0, 1);
                    return slice.Squeeze(-1);
                }
            case TestLayout.Reversed:
                {
                    int[] reverse = Enumerable.Range(0, shape.Length).Reverse().ToArray();
                    using var parent = Tensor.FromSpan(Permute(data, shape, reverse), reverse.Select(a => shape[a]).ToArray(), backend);
                    return parent.Permute(reverse);   // reversing twice is the identity order
                }
            default:
                throw new ArgumentOutOfRangeException(nameof(layout));
        }
    }

    /// <summary>The layouts worth running for a tensor of this rank (Reversed equals Contiguous below rank 2).</summary>
    public static IEnumerable<TestLayout> LayoutsFor(int rank) =>
        rank >= 2 ? [TestLayout.Contiguous, TestLayout.Padded, TestLayout.Reversed] : [TestLayout.Contiguous, TestLayout.Padded];

    /// <summary>
    /// An output view with every element followed by a NaN guard in the same storage. Call <see cref="PaddedOutput.CheckGuards"/>
    /// after writing into <see cref="PaddedOutput.View"/> to prove the op wrote nowhere else.
    /// </summary>
    public static PaddedOutput EmptyPadded(int[] shape, IBackend backend) => new(shape, backend);

    public sealed class PaddedOutput : IDisposable
    {
        readonly Tensor _parent;
        public Tensor View { get; }

        internal PaddedOutput(int[] shape, IBackend backend)
        {
            _parent = Tensor.Full([.. shape, 2], float.NaN, backend);
            using var slice = _parent.Slice(-1, 0, 1);
            View = slice.Squeeze(-1);
        }

        public void CheckGuards(string label)
        {
            var all = _parent.ToArray();
            for (int i = 1; i < all.Length; i += 2)
                if (!float.IsNaN(all[i]))
                    throw new XunitException($"{label}: wrote {all[i]} into the guard after element {i / 2} of a padded output");
        }

        public void Dispose()
        {
            View.Dispose();
            _parent.Dispose();
        }
    }

    /// <summary>Row-major data of the array permuted so that result axis i is input axis order[i] (numpy transpose).</summary>
    public static float[] Permute(float[] data, int[] shape, int[] order)
    {
        int rank = shape.Length;
        var outShape = order.Select(a => shape[a]).ToArray();
        var inStrides = Layout.ContiguousStrides(shape);
        var result = new float[data.Length];
        var index = new int[rank];
        for (long flat = 0; flat < result.Length; flat++)
        {
            long src = 0;
            for (int i = 0; i < rank; i++) src += index[i] * inStrides[order[i]];
            result[flat] = data[src];
            for (int i = rank - 1; i >= 0; i--)
            {
                if (++index[i] < outShape[i]) break;
                index[i] = 0;
            }
        }
        return result;
    }
}
