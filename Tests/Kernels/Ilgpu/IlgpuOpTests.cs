using NativeASD.Kernels;
using static NativeASD.Tests.Kernels.BackendParity;

namespace NativeASD.Tests.Kernels.Ilgpu;

/// <summary>
/// Every op of the ILGPU backend (on ILGPU's CPU simulator, "ilgpu-cpu") against the CPU backend, one test case
/// per op and layout: contiguous, permuted, strided with offsets, broadcast (stride 0), odd sizes, in place.
/// Sizes are small: the simulator runs kernels at well under a GFLOP/s.
/// </summary>
public class IlgpuOpTests
{
    static IBackend Ilgpu => TestBackends.Get("ilgpu-cpu");
    static IBackend Cpu => TestBackends.Reference;

    // ---- fill ---------------------------------------------------------------------------------------

    public static TheoryData<string> FillLayouts => new(["contiguous", "strided", "transposed", "scalar", "empty"]);

    [Theory]
    [MemberData(nameof(FillLayouts))]
    public void Fill(string layout)
    {
        View y = layout switch
        {
            "contiguous" => View.Contiguous(3, 5, 7),
            "strided" => new View(4, [5, 6], [20, 3]),       // every third element of rows 20 apart
            "transposed" => View.Permuted([6, 9], 1, 0),
            "scalar" => new View(5, [], []),
            "empty" => new View(0, [0, 4], [4, 1]),
            _ => throw new ArgumentException(layout),
        };
        using var p = Make(Ilgpu, Math.Max(y.Extent, 8) + 3, seed: 1);
        Cpu.Fill(p.ExpectedView(y), 2.5f);
        Ilgpu.Fill(p.ActualView(y), 2.5f);
        AssertClose($"fill {layout}", p);
    }

    // ---- unary --------------------------------------------------------------------------------------

    static readonly string[] UnaryLayouts = ["contiguous", "permuted", "strided-y", "broadcast-x", "odd"];

    public static TheoryData<UnaryOp, string> UnaryCases()
    {
        var data = new TheoryData<UnaryOp, string>();
        foreach (var op in Enum.GetValues<UnaryOp>())
            foreach (var layout in UnaryLayouts) data.Add(op, layout);
        return data;
    }

    /// <summary>Transcendentals may round differently (vectorised CPU code vs the device's XMath).</summary>
    static double UnaryNmse(UnaryOp op) => op is UnaryOp.Sigmoid or UnaryOp.Tanh or UnaryOp.Exp or UnaryOp.Log ? 1e-10 : ExactNmse;

    [Theory]
    [MemberData(nameof(UnaryCases))]
    public void Unary(UnaryOp op, string layout)
    {
        (View x, View y) = layout switch
        {
            "contiguous" => (View.Contiguous(3, 5, 7), View.Contiguous(3, 5, 7)),
            "permuted" => (View.Permuted([7, 3, 5], 1, 2, 0), View.Contiguous(3, 5, 7)),
            "strided-y" => (View.Contiguous(4, 6), new View(3, [4, 6], [14, 2])),
            "broadcast-x" => (new View(2, [3, 5, 7], [0, 1, 0]), View.Contiguous(3, 5, 7)),
            "odd" => (View.Contiguous(1, 131), View.Contiguous(1, 131)),
            _ => throw new ArgumentException(layout),
        };
        using var xs = Make(Ilgpu, x.Extent, seed: 2, WithSpecials());
        using var ys = Make(Ilgpu, y.Extent + 5, seed: 3);
        float alpha = op == UnaryOp.LeakyRelu ? 0.1f : 1.75f, beta = -0.5f;
        Cpu.Unary(op, xs.ExpectedView(x), ys.ExpectedView(y), alpha, beta);
        Ilgpu.Unary(op, xs.ActualView(x), ys.ActualView(y), alpha, beta);
        AssertClose($"{op} {layout}", ys, UnaryNmse(op), maxRelative: 1e-5);
    }

    [Fact]
    public void UnaryInPlace()
    {
        var v = View.Contiguous(6, 10);
        using var p = Make(Ilgpu, v.Extent, seed: 4, WithSpecials());
        Cpu.Unary(UnaryOp.Affine, p.ExpectedView(v), p.ExpectedView(v), 3f, 1f);
        Ilgpu.Unary(UnaryOp.Affine, p.ActualView(v), p.ActualView(v), 3f, 1f);
        AssertClose("affine in place", p);
    }

    // ---- binary -------------------------------------------------------------------------------------

    static readonly string[] BinaryLayouts = ["contiguous", "broadcast-b", "broadcast-both", "permuted-a", "strided-y", "scalar-b", "in-place"];

    public static TheoryData<BinaryOp, string> BinaryCases()
    {
        var data = new TheoryData<BinaryOp, string>();
        foreach (var op in Enum.GetValues<BinaryOp>())
            foreach (var layout in BinaryLayouts) data.Add(op, layout);
        return data;
    }

    [Theory]
    [MemberData(nameof(BinaryCases))]
    public void Binary(BinaryOp op, string layout)
    {
        int[] shape = [4, 6, 5];
        var full = View.Contiguous(shape);
        (View a, View b, View y) = layout switch
        {
            "contiguous" => (full, full, full),
            "broadcast-b" => (full, new View(1, shape, [0, 1, 0]), full),           // b: a [6] vector along axis 1
            "broadcast-both" => (new View(0, shape, [5, 0, 1]), new View(0, shape, [0, 1, 0]), full),
            "permuted-a" => (View.Permuted([5, 4, 6], 1, 2, 0), full, full),
            "strided-y" => (full, full, new View(7, shape, [80, 13, 2])),
            "scalar-b" => (full, new View(3, shape, [0, 0, 0]), full),
            "in-place" => (full, full, full),
            _ => throw new ArgumentException(layout),
        };
        using var @as = Make(Ilgpu, a.Extent, seed: 5, WithSpecials());
        // b's specials land elsewhere than a's: NaN against numbers, ±0 against ∓0, ∞ against finite.
        using var bs = Make(Ilgpu, b.Extent, seed: 6, (r, i) => WithSpecials()(r, i + 3));
        using var ys = layout == "in-place" ? null : Make(Ilgpu, y.Extent + 4, seed: 7);
        var target = ys ?? @as;
        Cpu.Binary(op, @as.ExpectedView(a), bs.ExpectedView(b), target.ExpectedView(y));
        Ilgpu.Binary(op, @as.ActualView(a), bs.ActualView(b), target.ActualView(y));
        AssertClose($"{op} {layout}", target);
    }

    [Fact]
    public void MaxMinSignedZeros()
    {
        var v = View.Contiguous(4);
        using var a = Make(Ilgpu, 4, seed: 0, (_, i) => new[] { 0f, -0f, -0f, 0f }[i]);
        using var b = Make(Ilgpu, 4, seed: 0, (_, i) => new[] { -0f, 0f, -0f, 0f }[i]);
        foreach (var op in new[] { BinaryOp.Max, BinaryOp.Min })
        {
            using var y = Make(Ilgpu, 4, seed: 8);
            Cpu.Binary(op, a.ExpectedView(v), b.ExpectedView(v), y.ExpectedView(v));
            Ilgpu.Binary(op, a.ActualView(v), b.ActualView(v), y.ActualView(v));
            var expected = Read(y.Expected, 4);
            var actual = Read(y.Actual, 4);
            for (int i = 0; i < 4; i++)
                Assert.True(float.IsNegative(expected[i]) == float.IsNegative(actual[i]), $"{op} element {i}: {actual[i]} vs {expected[i]}");
        }
    }

    // ---- reduce -------------------------------------------------------------------------------------

    public static TheoryData<ReduceOp, int, string> ReduceCases()
    {
        var data = new TheoryData<ReduceOp, int, string>();
        foreach (var op in Enum.GetValues<ReduceOp>())
            for (int axis = 0; axis < 3; axis++)
                foreach (var layout in new[] { "contiguous", "permuted" })
                    data.Add(op, axis, layout);
        return data;
    }

    /// <summary>Each op on each axis of a [5,6,70] tensor (axis 2 runs group-per-output, the others thread-per-output).</summary>
    [Theory]
    [MemberData(nameof(ReduceCases))]
    public void Reduce(ReduceOp op, int axis, string layout)
    {
        int[] shape = [5, 6, 70];
        var x = layout == "contiguous" ? View.Contiguous(shape) : View.Permuted([70, 5, 6], 1, 2, 0);
        ReduceAndCompare(op, x, axis, correction: op == ReduceOp.Variance ? 1 : 0, ArgMaxFriendly(op));
    }

    public static TheoryData<string> ReduceSpecialCases => new(
    [
        "variance-population", "strided-y", "few-outputs-long-axis", "rank1-long", "argmax-nan-ties", "max-nan",
        "variance-n1-unbiased", "negative-stride",
    ]);

    [Theory]
    [MemberData(nameof(ReduceSpecialCases))]
    public void ReduceSpecial(string name)
    {
        switch (name)
        {
            case "variance-population":
                ReduceAndCompare(ReduceOp.Variance, View.Contiguous(4, 9, 40), 2, correction: 0, Uniform());
                ReduceAndCompare(ReduceOp.Variance, View.Contiguous(4, 9, 40), 1, correction: 0, Uniform());
                break;
            case "strided-y":
                foreach (var op in Enum.GetValues<ReduceOp>())
                    ReduceAndCompare(op, View.Contiguous(3, 4, 50), 2, 1, ArgMaxFriendly(op), y: new View(2, [3, 4, 1], [12, 3, 1]));
                break;
            case "few-outputs-long-axis":
                // 6 outputs over a 300-long axis of stride 3: group per output on a strided axis.
                foreach (var op in Enum.GetValues<ReduceOp>())
                    ReduceAndCompare(op, View.Contiguous(2, 300, 3), 1, 1, ArgMaxFriendly(op));
                break;
            case "rank1-long":
                foreach (var op in Enum.GetValues<ReduceOp>())
                    ReduceAndCompare(op, View.Contiguous(1000), 0, 1, ArgMaxFriendly(op));
                break;
            case "argmax-nan-ties":
                // Ties everywhere, NaNs in some rows: first maximum wins, a NaN counts as the maximum.
                foreach (int axis in new[] { 0, 1, 2 })
                    ReduceAndCompare(ReduceOp.ArgMax, View.Contiguous(6, 7, 64), axis, 0,
                        (r, i) => i % 37 == 11 ? float.NaN : r.Next(0, 4));
                break;
            case "max-nan":
                foreach (var op in new[] { ReduceOp.Max, ReduceOp.Min, ReduceOp.Sum })
                    foreach (int axis in new[] { 0, 2 })
                        ReduceAndCompare(op, View.Contiguous(5, 3, 48), axis, 0, (r, i) => i % 53 == 7 ? float.NaN : (float)r.NextDouble());
                break;
            case "variance-n1-unbiased":
                // n − correction = 0: 0/0, NaN on both backends.
                ReduceAndCompare(ReduceOp.Variance, View.Contiguous(3, 1, 4), 1, correction: 1, Uniform());
                break;
            case "negative-stride":
                // Axis 1 read backwards: offset at its last element, stride -70.
                ReduceAndCompare(ReduceOp.Sum, new View(5 * 70, [4, 6, 70], [420, -70, 1]), 1, 0, Uniform());
                ReduceAndCompare(ReduceOp.ArgMax, new View(5 * 70, [4, 6, 70], [420, -70, 1]), 1, 0, Uniform());
                break;
            default: throw new ArgumentException(name);
        }
    }

    static Func<Random, int, float> ArgMaxFriendly(ReduceOp op) =>
        op == ReduceOp.ArgMax ? (r, _) => r.Next(0, 50) : Uniform();

    static void ReduceAndCompare(ReduceOp op, View x, int axis, int correction, Func<Random, int, float> values, View? y = null)
    {
        var yShape = (int[])x.Shape.Clone();
        yShape[axis] = 1;
        y ??= View.Contiguous(yShape);
        using var xs = Make(Ilgpu, x.Extent, seed: 9, values);
        using var ys = Make(Ilgpu, y.Extent + 3, seed: 10);
        Cpu.Reduce(op, xs.ExpectedView(x), axis, ys.ExpectedView(y), correction);
        Ilgpu.Reduce(op, xs.ActualView(x), axis, ys.ActualView(y), correction);
        // Float sums are ordered differently (CPU: SIMD lanes and blocks; device: blocks or a tree).
        AssertClose($"{op} axis {axis} of {x}", ys, maxNmse: 1e-10, maxRelative: 1e-5);
    }
}
