using System.Diagnostics;
using NativeASD.Engine.Diagnostics;
using Xunit.Abstractions;

namespace NativeASD.Tests.Engine.Diagnostics;

/// <summary>
/// What <c>nasd bench parity</c> runs (docs/kernels.md's GPU claims rest on it), on ILGPU's CPU simulator with a reduced
/// set: every unary, binary and reduction op, the 1×1×1 GEMMs, every layer case but two, and every kernel variant the
/// simulator has (the simple GEMM and the 32×32k4 tiled one, each with its convolutions). The larger GEMMs, the
/// Winograd-size conv, Linear 129→65 and the PANNs network take from seconds to minutes each in the simulator (its GEMM
/// runs each group's threads with barriers in software) and run on a real device only; the simulator's GEMM and
/// Linear are covered by IlgpuGemmTests and LayerReferenceTests.
/// </summary>
public class BackendParityTests(ITestOutputHelper output)
{
    static bool Reduced(string name) =>
        !(name.StartsWith("gemm 256x300x200") || name.StartsWith("gemm 65x33x129") || name.Contains("winograd size")
          || name.StartsWith("linear") || name.StartsWith("panns"));

    [Fact]
    public void ReducedSetOnIlgpuCpuIsWithinEveryBound()
    {
        var watch = Stopwatch.StartNew();
        var results = BackendParity.Run(TestBackends.Get("ilgpu-cpu"), includeNetwork: false, include: Reduced,
            report: r => output.WriteLine($"{watch.Elapsed.TotalSeconds,6:F1} s {(r.Ok ? "ok  " : "FAIL")} {r.Name} nmse {r.Nmse:E2} (bound {r.Bound:E0})"));
        Assert.All(results, r => Assert.True(r.Ok, $"{r.Name}: NMSE {r.Nmse:E2} > {r.Bound:E0}"));
        Assert.All(results, r => Assert.True(Reduced(r.Name), $"{r.Name} ran although excluded"));
        foreach (var part in new[] { "unary ", "binary ", "reduce ", "gemm 1x1x1", "conv3x3 16→24 pad1 dweight", "depthwise",
                     "conv1x1", "maxpool", "avgpool", "batchnorm2d train dweight", "batchnorm1d", "leaky relu dx",
                     "gemm simple 131x70x21 batch 2 a=0.75 b=0.5 tA=True tB=False", "gemm 32x32k4 131x70x21 batch 2 a=0.75 b=0.5 tA=False tB=True",
                     "conv simple fused residual relu", "conv 32x32k4 fused residual relu", "conv 32x32k4 dx 5x5 s2", "conv 32x32k4 dweight 2048",
                     "conv 32x32k4 dbias 2048" })
            Assert.Contains(results, r => r.Name.StartsWith(part));
        Assert.Equal(results.Count, results.Select(r => r.Name).Distinct().Count());
    }
}
