using NativeASD.Kernels;
using static NativeASD.Tests.Kernels.BackendParity;

namespace NativeASD.Tests.Kernels.Core;

/// <summary>
/// The layer kernels of IBackend (UnaryGrad, ScatterAlongAxis): the CPU backend at every SIMD level against the
/// scalar rule (NnGrad.Of), and the ILGPU backend (ilgpu-cpu) against the CPU backend, over contiguous, strided,
/// broadcast and odd-sized views.
/// </summary>
public class NnKernelTests
{
    static IBackend Cpu => TestBackends.Reference;

    static readonly UnaryOp[] GradOps = [UnaryOp.Copy, UnaryOp.Neg, UnaryOp.Affine, UnaryOp.Relu, UnaryOp.Relu6, UnaryOp.LeakyRelu,
        UnaryOp.Sigmoid, UnaryOp.Tanh, UnaryOp.Exp, UnaryOp.Log, UnaryOp.Sqrt, UnaryOp.Abs, UnaryOp.Square, UnaryOp.Hardswish];

    static readonly string[] Layouts = ["contiguous", "odd", "strided-dx", "broadcast-dy", "permuted-saved"];

    static (View S, View Dy, View Dx) LayoutOf(string layout) => layout switch
    {
        "contiguous" => (View.Contiguous(3, 5, 8), View.Contiguous(3, 5, 8), View.Contiguous(3, 5, 8)),
        "odd" => (View.Contiguous(1, 131), View.Contiguous(1, 131), View.Contiguous(1, 131)),
        "strided-dx" => (View.Contiguous(4, 6), View.Contiguous(4, 6), new View(3, [4, 6], [14, 2])),
        "broadcast-dy" => (View.Contiguous(3, 5, 7), new View(2, [3, 5, 7], [0, 1, 0]), View.Contiguous(3, 5, 7)),
        "permuted-saved" => (View.Permuted([7, 3, 5], 1, 2, 0), View.Contiguous(3, 5, 7), View.Contiguous(3, 5, 7)),
        _ => throw new ArgumentException(layout),
    };

    public static TheoryData<string, UnaryOp, string> GradCases()
    {
        var data = new TheoryData<string, UnaryOp, string>();
        foreach (var backend in TestBackends.CpuNames())
            foreach (var op in GradOps)
                foreach (var layout in Layouts) data.Add(backend, op, layout);
        return data;
    }

    /// <summary>Saved values: ±8 so ReLU6 clips both sides; positive where the rule divides (Log, Sqrt).</summary>
    static Func<Random, int, float> SavedValues(UnaryOp op) =>
        op is UnaryOp.Log or UnaryOp.Sqrt ? (r, _) => 0.1f + (float)r.NextDouble() * 4 : Uniform(8f);

    [Theory]
    [MemberData(nameof(GradCases))]
    public void UnaryGradMatchesScalarRule(string backendName, UnaryOp op, string layout)
    {
        var backend = TestBackends.Get(backendName);
        var (s, dy, dx) = LayoutOf(layout);
        using var ss = Make(backend, s.Extent, seed: 1, SavedValues(op));
        using var ds = Make(backend, dy.Extent, seed: 2);
        using var xs = Make(backend, dx.Extent + 4, seed: 3);
        backend.UnaryGrad(op, ss.ActualView(s), ds.ActualView(dy), xs.ActualView(dx), 0.2f);
        var actual = Read(xs.Actual, xs.Length);
        var expected = (float[])xs.Initial.Clone();
        Walk(dx.Shape, idx =>
        {
            float sv = ss.Initial[At(s, idx)], g = ds.Initial[At(dy, idx)];
            expected[At(dx, idx)] = NnGrad.Of((int)op, sv, g, 0.2f);
        });
        AssertClose($"{op}Grad {layout} on {backendName}", expected, actual, ExactNmse, 1e-6);
    }

    [Theory]
    [MemberData(nameof(IlgpuGradCases))]
    public void UnaryGradIlgpuMatchesCpu(UnaryOp op, string layout)
    {
        var ilgpu = TestBackends.Get("ilgpu-cpu");
        var (s, dy, dx) = LayoutOf(layout);
        using var ss = Make(ilgpu, s.Extent, seed: 4, SavedValues(op));
        using var ds = Make(ilgpu, dy.Extent, seed: 5);
        using var xs = Make(ilgpu, dx.Extent + 4, seed: 6);
        Cpu.UnaryGrad(op, ss.ExpectedView(s), ds.ExpectedView(dy), xs.ExpectedView(dx), 0.2f);
        ilgpu.UnaryGrad(op, ss.ActualView(s), ds.ActualView(dy), xs.ActualView(dx), 0.2f);
        AssertClose($"{op}Grad {layout} ilgpu-cpu", xs, ExactNmse, 1e-6);
    }

    public static TheoryData<UnaryOp, string> IlgpuGradCases()
    {
        var data = new TheoryData<UnaryOp, string>();
        foreach (var op in GradOps)
            foreach (var layout in Layouts) data.Add(op, layout);
        return data;
    }

    public static TheoryData<string> AllBackends => TestBackends.All;

    [Theory]
    [MemberData(nameof(AllBackends))]
    public void ScatterAlongAxisRoutesValuesToIndices(string backendName)
    {
        var backend = TestBackends.Get(backendName);
        foreach (int axis in new[] { 0, 1, 2 })
        {
            int[] yShape = [3, 4, 5];
            var vShape = (int[])yShape.Clone();
            vShape[axis] = 1;
            int count = (int)Layout.Count(vShape);
            var random = new Random(axis);
            var values = Enumerable.Range(0, count).Select(_ => (float)random.NextDouble() + 1f).ToArray();
            var index = Enumerable.Range(0, count).Select(_ => (float)random.Next(yShape[axis])).ToArray();
            var vs = backend.Allocate(count); backend.Upload(values, vs, 0);
            var ix = backend.Allocate(count); backend.Upload(index, ix, 0);
            var ys = backend.Allocate(60); backend.Upload(Enumerable.Repeat(9f, 60).ToArray(), ys, 0);
            try
            {
                backend.ScatterAlongAxis(StridedView.Contiguous(vs, vShape), StridedView.Contiguous(ix, vShape), axis, StridedView.Contiguous(ys, yShape));
                var y = Read(ys, 60);
                var expected = new float[60];
                var yStrides = Layout.ContiguousStrides(yShape);
                Walk(vShape, idx =>
                {
                    long flat = 0, vFlat = 0;
                    var vStrides = Layout.ContiguousStrides(vShape);
                    for (int d = 0; d < 3; d++) { flat += idx[d] * yStrides[d]; vFlat += idx[d] * vStrides[d]; }
                    expected[flat + (long)index[vFlat] * yStrides[axis]] = values[vFlat];
                });
                AssertClose($"scatter axis {axis} on {backendName}", expected, y, 0, 0);
            }
            finally { vs.Release(); ix.Release(); ys.Release(); }
        }
    }

    [Fact]
    public void ScatterRejectsIndexOutsideAxisAndMismatchedShapes()
    {
        var vs = Cpu.Allocate(3); Cpu.Upload([1f, 2f, 3f], vs, 0);
        var ix = Cpu.Allocate(3); Cpu.Upload([0f, 4f, 1f], ix, 0);
        var ys = Cpu.Allocate(12);
        try
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
                Cpu.ScatterAlongAxis(StridedView.Contiguous(vs, 3, 1), StridedView.Contiguous(ix, 3, 1), 1, StridedView.Contiguous(ys, 3, 4)));
            Assert.Contains("index 4", e.Message);
            var shape = Assert.Throws<ArgumentException>(() =>
                Cpu.ScatterAlongAxis(StridedView.Contiguous(vs, 3, 1), StridedView.Contiguous(ix, 3, 1), 1, StridedView.Contiguous(ys, 2, 6)));
            Assert.Contains("[3,1]", shape.Message);
        }
        finally { vs.Release(); ix.Release(); ys.Release(); }
    }

    public static TheoryData<string> CpuBackends => TestBackends.Cpu;

    static AdamArgs AdamArgsOf(bool decoupled) => new(0.9f, 0.999f, 1e-8f, StepSize: 0.01f / (1 - 0.9f * 0.9f),
        Bias2Sqrt: MathF.Sqrt(1 - 0.999f * 0.999f), L2Decay: decoupled ? 0f : 0.1f, DecoupledScale: decoupled ? 1f - 0.01f * 0.1f : 1f);

    /// <summary>1003 elements: a Vector256 body and a scalar tail, which must agree bit for bit with the scalar rule.</summary>
    [Theory]
    [MemberData(nameof(CpuBackends))]
    public void AdamStepMatchesScalarRule(string backendName)
    {
        var backend = TestBackends.Get(backendName);
        foreach (bool decoupled in new[] { false, true })
        {
            var a = AdamArgsOf(decoupled);
            const int n = 1003;
            var v0 = Make(backend, 4 * n, seed: 7, (r, i) => i >= 3 * n ? (float)r.NextDouble() : (float)(r.NextDouble() * 2 - 1));
            try
            {
                var views = Enumerable.Range(0, 4).Select(k => new StridedView(v0.Actual, k * n, [n], [1])).ToArray();
                backend.AdamStep(views[0], views[1], views[2], views[3], a);
                var expected = (float[])v0.Initial.Clone();
                for (int i = 0; i < n; i++)
                    NnGrad.Adam(ref expected[i], expected[n + i], ref expected[2 * n + i], ref expected[3 * n + i], a);
                AssertClose($"AdamStep decoupled={decoupled} on {backendName}", expected, Read(v0.Actual, 4 * n), 0, 0);
            }
            finally { v0.Dispose(); }
        }
    }

    [Fact]
    public void AdamStepIlgpuMatchesCpu()
    {
        var ilgpu = TestBackends.Get("ilgpu-cpu");
        foreach (bool decoupled in new[] { false, true })
        {
            const int n = 301;
            using var p = Make(ilgpu, 4 * n + 5, seed: 8, (r, i) => i >= 3 * n ? (float)r.NextDouble() : (float)(r.NextDouble() * 2 - 1));
            var e = Enumerable.Range(0, 4).Select(k => new View(5 + k * n, [n], [1])).ToArray();
            Cpu.AdamStep(p.ExpectedView(e[0]), p.ExpectedView(e[1]), p.ExpectedView(e[2]), p.ExpectedView(e[3]), AdamArgsOf(decoupled));
            ilgpu.AdamStep(p.ActualView(e[0]), p.ActualView(e[1]), p.ActualView(e[2]), p.ActualView(e[3]), AdamArgsOf(decoupled));
            AssertClose($"AdamStep decoupled={decoupled} ilgpu-cpu", p, 1e-12, 1e-6);
        }
    }

    static long At(View v, int[] idx)
    {
        long o = v.Offset;
        for (int d = 0; d < idx.Length; d++) o += idx[d] * v.Strides[d];
        return o;
    }

    static void Walk(int[] shape, Action<int[]> visit)
    {
        var idx = new int[shape.Length];
        long count = Layout.Count(shape);
        for (long e = 0; e < count; e++)
        {
            visit(idx);
            for (int d = shape.Length - 1; d >= 0; d--)
            {
                if (++idx[d] < shape[d]) break;
                idx[d] = 0;
            }
        }
    }
}
