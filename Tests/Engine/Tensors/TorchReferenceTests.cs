using NativeASD.Engine;
using NativeASD.Kernels;
using Xunit;
using Xunit.Sdk;

namespace NativeASD.Tests.Engine.Tensors;

/// <summary>
/// Every case of Tests/Fixtures/ops/manifest.json (written by make_references.py with PyTorch as the oracle) on
/// every backend, through the public Engine API. Each case also runs its input in several memory layouts
/// (contiguous, padded/strided, axes reversed) and, where the op takes one, into a strided output, so every
/// kernel path meets the same expected values.
/// </summary>
public class TorchReferenceTests
{
    /// <summary>
    /// The backends the fixtures run on. The 'ilgpu-cpu' backend is not there yet (TestBackends.Get throws
    /// DeviceNotFoundException): when it lands, change CpuNames to AllNames here.
    /// </summary>
    static IEnumerable<string> BackendNames => TestBackends.AllNames();

    public static TheoryData<string, string> Cases
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var c in ReferenceManifest.Cases)
                foreach (var backend in BackendNames)
                    data.Add(c.Id, backend);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTorch(string caseId, string backendName)
    {
        var c = ReferenceManifest.Get(caseId);
        var backend = TestBackends.Get(backendName);
        string label = $"{c.Id} on {backendName}";
        switch (c.Id.Split('/')[0])
        {
            case "unary": Unary(c, backend, label); break;
            case "binary": Binary(c, backend, label); break;
            case "reduce": Reduce(c, backend, label); break;
            case "permute":
            case "transpose": Permute(c, backend, label); break;
            case "gemm": Gemm(c, backend, label); break;
            default: throw new XunitException($"{c.Id}: no runner for this case group");
        }
    }

    [Fact]
    public void ManifestCoversEveryOpAndAllFilesExist()
    {
        var cases = ReferenceManifest.Cases;
        Assert.True(cases.Count > 100, $"only {cases.Count} cases in the manifest");
        Assert.Equal(cases.Count, cases.Select(c => c.Id).Distinct().Count());
        var ops = cases.Select(c => c.Op).ToHashSet();
        foreach (var op in new[] { "neg", "affine", "relu", "relu6", "leaky_relu", "sigmoid", "tanh", "exp", "log", "sqrt", "abs", "square",
                     "add", "sub", "mul", "div", "maximum", "minimum", "sum", "mean", "max", "min", "argmax", "var", "permute", "transpose", "gemm" })
            Assert.Contains(op, ops);
        foreach (var c in cases)
        {
            foreach (var f in c.Inputs.Values.Append(c.Output).Concat(c.Scale is null ? [] : [c.Scale]))
                Assert.True(File.Exists(Fixtures.PathOf("ops", f)), $"{c.Id}: missing {f}");
            Assert.True(c.Tolerance.MaxAbs >= 0 && c.Tolerance.MaxRel >= 0 && c.Tolerance.Nmse >= 0, $"{c.Id}: negative tolerance");
        }
    }

    // ---- unary ---------------------------------------------------------------------------------------

    static Tensor ApplyUnary(ReferenceCase c, Tensor x, Tensor? into) => c.Op switch
    {
        "neg" => Ops.Neg(x, into),
        "affine" => Ops.Affine(x, c.Float("scale"), c.Float("shift"), into),
        "relu" => Ops.Relu(x, into),
        "relu6" => Ops.Relu6(x, into),
        "leaky_relu" => Ops.LeakyRelu(x, c.Float("slope"), into),
        "sigmoid" => Ops.Sigmoid(x, into),
        "tanh" => Ops.Tanh(x, into),
        "exp" => Ops.Exp(x, into),
        "log" => Ops.Log(x, into),
        "sqrt" => Ops.Sqrt(x, into),
        "abs" => Ops.Abs(x, into),
        "square" => Ops.Square(x, into),
        _ => throw new XunitException($"{c.Id}: unknown unary op '{c.Op}'"),
    };

    static void Unary(ReferenceCase c, IBackend backend, string label)
    {
        var (x, shape) = c.Input("x");
        var (expected, expectedShape) = c.Expected;
        foreach (var layout in TestTensors.LayoutsFor(shape.Length))
        {
            using var xt = TestTensors.Make(x, shape, backend, layout);
            using (var y = ApplyUnary(c, xt, null))
                TensorAssert.Close(expected, expectedShape, y, c.Tolerance, $"{label}, {layout} input");
            using var padded = TestTensors.EmptyPadded(shape, backend);
            ApplyUnary(c, xt, padded.View);
            TensorAssert.Close(expected, expectedShape, padded.View, c.Tolerance, $"{label}, {layout} input into a strided output");
            padded.CheckGuards(label);
            using var inPlace = TestTensors.Make(x, shape, backend, layout);
            ApplyUnary(c, inPlace, inPlace);
            TensorAssert.Close(expected, expectedShape, inPlace, c.Tolerance, $"{label}, {layout}, in place");
        }
    }

    // ---- binary --------------------------------------------------------------------------------------

    static Tensor ApplyBinary(ReferenceCase c, Tensor a, Tensor b, Tensor? into) => c.Op switch
    {
        "add" => Ops.Add(a, b, into),
        "sub" => Ops.Sub(a, b, into),
        "mul" => Ops.Mul(a, b, into),
        "div" => Ops.Div(a, b, into),
        "maximum" => Ops.Maximum(a, b, into),
        "minimum" => Ops.Minimum(a, b, into),
        _ => throw new XunitException($"{c.Id}: unknown binary op '{c.Op}'"),
    };

    static void Binary(ReferenceCase c, IBackend backend, string label)
    {
        var (a, aShape) = c.Input("a");
        var (b, bShape) = c.Input("b");
        var (expected, expectedShape) = c.Expected;
        var combos = new List<(TestLayout A, TestLayout B)>();
        foreach (var la in TestTensors.LayoutsFor(aShape.Length))
            foreach (var lb in TestTensors.LayoutsFor(bShape.Length))
                combos.Add((la, lb));
        foreach (var (la, lb) in combos)
        {
            using var at = TestTensors.Make(a, aShape, backend, la);
            using var bt = TestTensors.Make(b, bShape, backend, lb);
            using (var y = ApplyBinary(c, at, bt, null))
                TensorAssert.Close(expected, expectedShape, y, c.Tolerance, $"{label}, a {la}, b {lb}");
        }
        {
            using var at = TestTensors.Make(a, aShape, backend, TestLayout.Padded);
            using var bt = TestTensors.Make(b, bShape, backend, TestLayout.Contiguous);
            using var padded = TestTensors.EmptyPadded(expectedShape, backend);
            ApplyBinary(c, at, bt, padded.View);
            TensorAssert.Close(expected, expectedShape, padded.View, c.Tolerance, $"{label}, a Padded, into a strided output");
            padded.CheckGuards(label);
        }
        {
            // explicit broadcast views give the same answer as implicit broadcasting
            using var at = TestTensors.Make(a, aShape, backend, TestLayout.Contiguous);
            using var bt = TestTensors.Make(b, bShape, backend, TestLayout.Contiguous);
            using var ab = at.BroadcastTo(expectedShape);
            using var bb = bt.BroadcastTo(expectedShape);
            using var y = ApplyBinary(c, ab, bb, null);
            TensorAssert.Close(expected, expectedShape, y, c.Tolerance, $"{label}, explicit BroadcastTo");
        }
    }

    // ---- reductions ----------------------------------------------------------------------------------

    static Tensor ApplyReduce(ReferenceCase c, Tensor x, int axis, bool keepDim) => c.Op switch
    {
        "sum" => Ops.Sum(x, axis, keepDim),
        "mean" => Ops.Mean(x, axis, keepDim),
        "max" => Ops.Max(x, axis, keepDim),
        "min" => Ops.Min(x, axis, keepDim),
        "argmax" => Ops.ArgMax(x, axis, keepDim),
        "var" => Ops.Variance(x, axis, c.Int("correction"), keepDim),
        _ => throw new XunitException($"{c.Id}: unknown reduction '{c.Op}'"),
    };

    static ReduceOp ReduceOpOf(string op) => op switch
    {
        "sum" => ReduceOp.Sum, "mean" => ReduceOp.Mean, "max" => ReduceOp.Max, "min" => ReduceOp.Min,
        "argmax" => ReduceOp.ArgMax, "var" => ReduceOp.Variance,
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    static void Reduce(ReferenceCase c, IBackend backend, string label)
    {
        var (x, shape) = c.Input("x");
        if (c.Has("input_permute"))
        {
            int[] order = c.Ints("input_permute");
            x = TestTensors.Permute(x, shape, order);
            shape = order.Select(a => shape[a]).ToArray();
        }
        int axis = c.Int("axis");
        var (expected, expectedShape) = c.Expected;
        float[]? scale = c.ScaleData;
        int[] keptShape = shape.Select((d, i) => i == axis ? 1 : d).ToArray();

        foreach (var layout in TestTensors.LayoutsFor(shape.Length))
        {
            using var xt = TestTensors.Make(x, shape, backend, layout);
            using (var y = ApplyReduce(c, xt, axis, keepDim: false))
                TensorAssert.Close(expected, expectedShape, y, c.Tolerance, $"{label}, {layout} input", scale);
            using (var y = ApplyReduce(c, xt, axis, keepDim: true))
                TensorAssert.Close(expected, keptShape, y, c.Tolerance, $"{label}, {layout} input, keepDim", scale);
        }
        using (var xt = TestTensors.Make(x, shape, backend, TestLayout.Contiguous))
        {
            using (var y = ApplyReduce(c, xt, axis - shape.Length, keepDim: false))
                TensorAssert.Close(expected, expectedShape, y, c.Tolerance, $"{label}, negative axis {axis - shape.Length}", scale);
            if (shape.Length == 1)
            {
                using var all = Ops.ReduceAll(ReduceOpOf(c.Op), xt, c.Op == "var" ? c.Int("correction") : 0);
                TensorAssert.Close(expected, [1], all, c.Tolerance, $"{label}, ReduceAll", scale);
            }
        }
    }

    // ---- permute / transpose -------------------------------------------------------------------------

    static Tensor ApplyPermute(ReferenceCase c, Tensor x) => c.Op switch
    {
        "permute" => x.Permute(c.Ints("order")),
        "transpose" => x.Transpose(c.Ints("axes")[0], c.Ints("axes")[1]),
        _ => throw new XunitException($"{c.Id}: unknown layout op '{c.Op}'"),
    };

    static void Permute(ReferenceCase c, IBackend backend, string label)
    {
        var (x, shape) = c.Input("x");
        var (expected, expectedShape) = c.Expected;
        foreach (var layout in TestTensors.LayoutsFor(shape.Length))
        {
            using var xt = TestTensors.Make(x, shape, backend, layout);
            using var view = ApplyPermute(c, xt);
            Assert.Same(xt.Storage, view.Storage);   // a view: no copy
            TensorAssert.Close(expected, expectedShape, view, Tolerance.Exact, $"{label}, {layout} input, view");
            using (var contiguous = view.Contiguous())
            {
                Assert.True(contiguous.IsContiguous, $"{label}: Contiguous() returned a non-contiguous tensor");
                TensorAssert.Close(expected, expectedShape, contiguous, Tolerance.Exact, $"{label}, {layout} input, Contiguous()");
            }
            using var padded = TestTensors.EmptyPadded(expectedShape, backend);
            Ops.Copy(view, padded.View);
            TensorAssert.Close(expected, expectedShape, padded.View, Tolerance.Exact, $"{label}, {layout} input, Copy into a strided output");
            padded.CheckGuards(label);
        }
    }

    // ---- GEMM ----------------------------------------------------------------------------------------

    /// <summary>How the GEMM operands are handed over.</summary>
    enum GemmLayout
    {
        /// <summary>As stored, with the case's transpose flags.</summary>
        Stored,
        /// <summary>Each operand as a transposed view of its transpose (column-major storage): the backend sees the other flag.</summary>
        Flipped,
        /// <summary>Each operand (and C) as a column slice of a wider buffer: leading dimension > columns, non-zero offset.</summary>
        Padded,
    }

    static Tensor GemmOperand(float[] data, int[] shape, IBackend backend, GemmLayout layout)
    {
        int r = shape.Length;
        switch (layout)
        {
            case GemmLayout.Stored:
                return Tensor.FromSpan(data, shape, backend);
            case GemmLayout.Flipped:
                {
                    int[] swap = Enumerable.Range(0, r).ToArray();
                    (swap[r - 2], swap[r - 1]) = (swap[r - 1], swap[r - 2]);
                    using var t = Tensor.FromSpan(TestTensors.Permute(data, shape, swap), swap.Select(a => shape[a]).ToArray(), backend);
                    return t.Transpose(-1, -2);
                }
            case GemmLayout.Padded:
                {
                    const int Left = 2, Right = 3;
                    int cols = shape[r - 1];
                    int[] wide = [.. shape[..^1], cols + Left + Right];
                    var buffer = new float[NativeASD.Kernels.Layout.Count(wide)];
                    Array.Fill(buffer, float.NaN);   // a stray read of the padding poisons the result
                    long rows = data.Length / Math.Max(1, cols);
                    for (long i = 0; i < rows; i++)
                        Array.Copy(data, i * cols, buffer, i * (cols + Left + Right) + Left, cols);
                    using var t = Tensor.FromSpan(buffer, wide, backend);
                    return t.Slice(-1, Left, cols);
                }
            default:
                throw new ArgumentOutOfRangeException(nameof(layout));
        }
    }

    static void Gemm(ReferenceCase c, IBackend backend, string label)
    {
        var (a, aShape) = c.Input("a");
        var (b, bShape) = c.Input("b");
        var (expected, expectedShape) = c.Expected;
        float[] scale = c.ScaleData ?? throw new XunitException($"{c.Id}: GEMM cases need a scale file");
        bool transA = c.Bool("transA"), transB = c.Bool("transB");
        float alpha = c.Float("alpha"), beta = c.Float("beta");
        bool nanC = c.Str("c_init") == "nan";
        float[] cInit = nanC ? Enumerable.Repeat(float.NaN, expected.Length).ToArray() : c.Input("c").Data;

        foreach (var layout in Enum.GetValues<GemmLayout>())
        {
            using var at = GemmOperand(a, aShape, backend, layout);
            using var bt = GemmOperand(b, bShape, backend, layout);
            using var ct = GemmOperand(cInit, expectedShape, backend, layout == GemmLayout.Flipped ? GemmLayout.Stored : layout);
            Ops.Gemm(at, bt, ct, transA, transB, alpha, beta);
            TensorAssert.Close(expected, expectedShape, ct, c.Tolerance, $"{label}, {layout} operands", scale);
        }
        if (alpha == 1f && beta == 0f)
        {
            using var at = Tensor.FromSpan(a, aShape, backend);
            using var bt = Tensor.FromSpan(b, bShape, backend);
            using var y = Ops.MatMul(at, bt, transA, transB);
            TensorAssert.Close(expected, expectedShape, y, c.Tolerance, $"{label}, MatMul", scale);
        }
    }
}
