using NativeASD.Kernels;
using NativeASD.Kernels.Ilgpu;
using static NativeASD.Tests.Kernels.BackendParity;

namespace NativeASD.Tests.Kernels.Ilgpu;

/// <summary>
/// The ILGPU convolutions against the CPU backend: implicit GEMM forward (bias; fused BatchNorm scale/shift with and
/// without residual and ReLU), backward data, backward weight (split-K with 1 and 3 splits) and bias, on stride,
/// padding per side, dilation and groups; depthwise takes the direct kernels and the per-element weight gradient.
/// The default simulator (16-thread groups) runs the 32×32k4 variant; a simulated device with 256-thread groups runs
/// each GPU variant by name. Tolerance: NMSE ≤ 1e-10 (BackendParity's bound), relative error ≤ 1e-5.
/// </summary>
public class IlgpuConvTests
{
    public static TheoryData<string> Geometries => new(Cases.Keys);

    static readonly Dictionary<string, Conv2dGeometry> Cases = new()
    {
        ["3x3 p1 9->10"] = new(2, 9, 7, 11, 10, 3, 3, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1),
        ["5x5 s2 pads 2,1,1,2 8->12"] = new(2, 8, 13, 12, 12, 5, 5, 2, 2, 2, 1, 1, 2),
        ["3x3 d2 groups 2 16->18"] = new(1, 16, 9, 10, 18, 3, 3, PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 2, DilationH: 2, DilationW: 2, Groups: 2),
        ["1x1 s2 12->9"] = new(3, 12, 6, 5, 9, 1, 1, 2, 2),
        ["depthwise 3x3 s2 6"] = new(2, 6, 9, 8, 6, 3, 3, 2, 2, 1, 1, 1, 1, Groups: 6),
    };

    [Theory]
    [MemberData(nameof(Geometries))]
    public void DefaultSimulator(string geometry)
    {
        var backend = (IlgpuBackend)TestBackends.Get("ilgpu-cpu");
        Check(backend, geometry, Cases[geometry]);
        backend.WeightGradSplits = 3;
        try { CheckWeightGrad(backend, $"{geometry} 3 splits", Cases[geometry]); }
        finally { backend.WeightGradSplits = null; }
    }

    [Theory]
    [InlineData("128x128k8")]
    [InlineData("128x128k16")]
    [InlineData("128x64k8")]
    [InlineData("64x128k8")]
    [InlineData("64x64k8")]
    public void GpuVariant(string variant)
    {
        using var backend = SimulatedGpu.Open();
        backend.GemmVariant = variant;
        var g = Cases["3x3 p1 9->10"];
        Check(backend, variant, g);
        backend.WeightGradSplits = 2;
        CheckWeightGrad(backend, $"{variant} 2 splits", g);
    }

    static void Check(IBackend backend, string what, Conv2dGeometry g)
    {
        int xLength = (int)Layout.Count(g.InputShape), wLength = (int)Layout.Count(g.WeightShape), yLength = (int)Layout.Count(g.OutputShape);
        using var x = Make(backend, xLength, 1);
        using var w = Make(backend, wLength, 2);
        using var bias = Make(backend, g.OutChannels, 3);
        using var scale = Make(backend, g.OutChannels, 4);
        using var shift = Make(backend, g.OutChannels, 5);
        using var residual = Make(backend, yLength, 6);
        StridedView V(Storage s, int[] shape) => StridedView.Contiguous(s, shape);

        using (var y = Make(backend, yLength, 7, (_, _) => float.NaN))
        {
            TestBackends.Reference.Conv2dForward(g, V(x.Expected, g.InputShape), V(w.Expected, g.WeightShape), V(bias.Expected, [g.OutChannels]), V(y.Expected, g.OutputShape));
            backend.Conv2dForward(g, V(x.Actual, g.InputShape), V(w.Actual, g.WeightShape), V(bias.Actual, [g.OutChannels]), V(y.Actual, g.OutputShape));
            AssertClose($"{what} forward", y);
        }
        foreach (bool withResidual in new[] { false, true })
        {
            using var y = Make(backend, yLength, 8, (_, _) => float.NaN);
            ConvEpilogue Epilogue(Func<Pair, Storage> side) => new(V(side(scale), [g.OutChannels]), V(side(shift), [g.OutChannels]),
                withResidual ? V(side(residual), g.OutputShape) : null, Relu: withResidual);
            TestBackends.Reference.Conv2dForwardFused(g, V(x.Expected, g.InputShape), V(w.Expected, g.WeightShape), Epilogue(p => p.Expected), V(y.Expected, g.OutputShape));
            backend.Conv2dForwardFused(g, V(x.Actual, g.InputShape), V(w.Actual, g.WeightShape), Epilogue(p => p.Actual), V(y.Actual, g.OutputShape));
            AssertClose($"{what} fused{(withResidual ? " residual relu" : "")}", y);
        }
        using (var dy = Make(backend, yLength, 9))
        using (var dx = Make(backend, xLength, 10, (_, _) => float.NaN))
        {
            TestBackends.Reference.Conv2dBackwardData(g, V(dy.Expected, g.OutputShape), V(w.Expected, g.WeightShape), V(dx.Expected, g.InputShape));
            backend.Conv2dBackwardData(g, V(dy.Actual, g.OutputShape), V(w.Actual, g.WeightShape), V(dx.Actual, g.InputShape));
            AssertClose($"{what} backward data", dx);
        }
        CheckWeightGrad(backend, what, g);
    }

    /// <summary>dW and db accumulate into non-zero gradients.</summary>
    static void CheckWeightGrad(IBackend backend, string what, Conv2dGeometry g)
    {
        using var x = Make(backend, (int)Layout.Count(g.InputShape), 11);
        using var dy = Make(backend, (int)Layout.Count(g.OutputShape), 12);
        using var dw = Make(backend, (int)Layout.Count(g.WeightShape), 13);
        using var db = Make(backend, g.OutChannels, 14);
        StridedView V(Storage s, int[] shape) => StridedView.Contiguous(s, shape);
        TestBackends.Reference.Conv2dBackwardWeight(g, V(x.Expected, g.InputShape), V(dy.Expected, g.OutputShape), V(dw.Expected, g.WeightShape), V(db.Expected, [g.OutChannels]));
        backend.Conv2dBackwardWeight(g, V(x.Actual, g.InputShape), V(dy.Actual, g.OutputShape), V(dw.Actual, g.WeightShape), V(db.Actual, [g.OutChannels]));
        AssertClose($"{what} backward weight", dw);
        AssertClose($"{what} backward bias", db);
    }
}
