using System.Diagnostics;
using NativeASD.Engine.Diagnostics;
using Xunit.Abstractions;

namespace NativeASD.Tests.Engine.Diagnostics;

/// <summary>
/// What <c>nasd bench parity</c> runs (the README's GPU claims rest on it), on ILGPU's CPU simulator with a reduced set:
/// every unary, binary and reduction op, the 1×1×1 GEMMs, one 65×33×129 GEMM and every layer case except the
/// Winograd-size conv. The other GEMMs, that conv and the PANNs network take minutes in the simulator (its GEMM runs each
/// group's threads with barriers in software) and run on a real device only; the GEMM kernel's transposes are covered
/// on the simulator by IlgpuGemmTests.
/// </summary>
public class BackendParityTests(ITestOutputHelper output)
{
    static bool Reduced(string name) =>
        !(name.StartsWith("gemm 256x300x200") || name.StartsWith("gemm 65x33x129 tA=True") || name.StartsWith("gemm 65x33x129 tA=False tB=True")
          || name.Contains("winograd size") || name.StartsWith("panns"));

    [Fact]
    public void ReducedSetOnIlgpuCpuIsWithinEveryBound()
    {
        var watch = Stopwatch.StartNew();
        var results = BackendParity.Run(TestBackends.Get("ilgpu-cpu"), includeNetwork: false, include: Reduced,
            report: r => output.WriteLine($"{watch.Elapsed.TotalSeconds,6:F1} s {(r.Ok ? "ok  " : "FAIL")} {r.Name} nmse {r.Nmse:E2} (bound {r.Bound:E0})"));
        Assert.All(results, r => Assert.True(r.Ok, $"{r.Name}: NMSE {r.Nmse:E2} > {r.Bound:E0}"));
        Assert.All(results, r => Assert.True(Reduced(r.Name), $"{r.Name} ran although excluded"));
        foreach (var part in new[] { "unary ", "binary ", "reduce ", "gemm 1x1x1", "gemm 65x33x129", "conv3x3 16→24 pad1 dweight", "depthwise",
                     "conv1x1", "maxpool", "avgpool", "batchnorm2d train dweight", "batchnorm1d", "linear 129→65 dbias", "leaky relu dx" })
            Assert.Contains(results, r => r.Name.StartsWith(part));
        Assert.Equal(results.Count, results.Select(r => r.Name).Distinct().Count());
    }
}
