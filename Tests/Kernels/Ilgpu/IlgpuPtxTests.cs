using System.Reflection;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime.Cuda;
using NativeASD.Kernels.Ilgpu;

namespace NativeASD.Tests.Kernels.Ilgpu;

/// <summary>
/// No GPU is needed to compile for one: ILGPU's PTX backend runs anywhere. Compiling every kernel for an H100
/// (sm_90) catches what the CPU simulator cannot, because the simulator runs the kernels as plain .NET code:
/// constructs the device compiler rejects (fixed buffers indexed at run time, unsupported intrinsics, managed
/// types in arguments) and shared memory sized by something other than a constant. "Every kernel": each static method
/// of the Kernels assembly whose first parameter is an ILGPU index (the implicitly grouped kernels, found by
/// reflection so a new one cannot be missed), and the explicitly grouped ones (row reduction, the GEMM tiles).
/// </summary>
public class IlgpuPtxTests
{
    /// <summary>Every tile shape and every kind of operands the tiled GEMM is instantiated with.</summary>
    static readonly Type[] TiledConfigs = typeof(IGemmConfig).Assembly.GetTypes()
        .Where(t => t.IsValueType && typeof(IGemmConfig).IsAssignableFrom(t)).OrderBy(t => t.Name, StringComparer.Ordinal).ToArray();
    static readonly Type[] TiledOperands = typeof(IGemmOperands).Assembly.GetTypes()
        .Where(t => t.IsValueType && typeof(IGemmOperands).IsAssignableFrom(t)).OrderBy(t => t.Name, StringComparer.Ordinal).ToArray();

    public static TheoryData<string> Kernels => new(KernelMethods().Select(k => k.Name));

    static readonly Type[] IndexTypes = [typeof(Index1D), typeof(Index2D), typeof(Index3D)];

    static IEnumerable<(string Name, MethodInfo Method, bool Grouped)> KernelMethods()
    {
        var implicitlyGrouped = typeof(IlgpuBackend).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Where(m => m.ReturnType == typeof(void) && m.GetParameters() is [var first, ..] && IndexTypes.Contains(first.ParameterType))
            .OrderBy(m => m.DeclaringType!.Name + "." + m.Name, StringComparer.Ordinal);
        foreach (var m in implicitlyGrouped) yield return ($"{m.DeclaringType!.Name}.{m.Name}", m, false);
        yield return ("ReduceKernels.Rows", typeof(ReduceKernels).GetMethod(nameof(ReduceKernels.Rows))!, true);
        yield return ("ConvGemm.WeightGradPerElement", typeof(ConvGemm).GetMethod(nameof(ConvGemm.WeightGradPerElement))!, true);
        yield return ("ConvGemm.BiasGrad", typeof(ConvGemm).GetMethod(nameof(ConvGemm.BiasGrad))!, true);
        var gemm = typeof(GemmKernel).GetMethod(nameof(GemmKernel.Run))!;
        yield return ("GemmKernel.Run<GemmTile16>", gemm.MakeGenericMethod(typeof(GemmTile16)), true);
        yield return ("GemmKernel.Run<GemmTile8>", gemm.MakeGenericMethod(typeof(GemmTile8)), true);
        yield return ("GemmKernel.Run<GemmTile4>", gemm.MakeGenericMethod(typeof(GemmTile4)), true);
        var tiled = typeof(TiledGemm).GetMethod(nameof(TiledGemm.Run))!;
        foreach (var config in TiledConfigs)
            foreach (var operands in TiledOperands)
                yield return ($"TiledGemm.Run<{config.Name},{operands.Name}>", tiled.MakeGenericMethod(config, operands), true);
    }

    /// <summary>The kernels the backends load today (elementwise, reductions, GEMM, conv and pooling, the spectrogram,
    /// the training ops) are all found: a discovery that silently finds fewer would compile fewer.</summary>
    [Fact]
    public void EveryLoadedKernelIsCompiled()
    {
        var names = KernelMethods().Select(k => k.Name).ToHashSet();
        foreach (var expected in new[] { "ElementwiseKernels.Fill", "ElementwiseKernels.Unary", "ElementwiseKernels.Binary", "ReduceKernels.Columns",
                     "ConvKernels.Forward", "ConvKernels.BackwardData", "ConvGemm.SumSplits", "ConvGemm.WeightGradPerElement", "ConvGemm.BiasGrad",
                     "ConvKernels.PoolForward", "ConvKernels.PoolBackward", "IlgpuSpectrogramPlan.PowerKernel", "IlgpuSpectrogramPlan.MelKernel",
                     "IlgpuNnKernels.UnaryGradKernel", "IlgpuNnKernels.ScatterKernel", "IlgpuNnKernels.AdamKernel" })
            Assert.Contains(expected, names);
        Assert.Contains("TiledGemm.Run<Gemm128x128k8,DenseOperands>", names);
        Assert.Contains("TiledGemm.Run<Gemm128x128k8,ConvForwardOperands>", names);
        Assert.Contains("TiledGemm.Run<Gemm128x128k8,ConvBackwardDataOperands>", names);
        Assert.Contains("TiledGemm.Run<Gemm128x128k8,ConvBackwardWeightOperands>", names);
        Assert.Equal(6, TiledConfigs.Length);
        Assert.Equal(20 + TiledConfigs.Length * TiledOperands.Length, names.Count);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void CompilesToPtxForSm90(string name)
    {
        var (_, method, grouped) = KernelMethods().Single(k => k.Name == name);
        using var context = Context.Create(b => b.EnableAlgorithms());
        using var ptx = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_90),
            CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, nvvmAPI: null);
        var entry = grouped
            ? EntryPointDescription.FromExplicitlyGroupedKernel(method)
            : EntryPointDescription.FromImplicitlyGroupedKernel(method);
        var compiled = (PTXCompiledKernel)ptx.Compile(entry, default);
        Assert.Contains(".entry", compiled.PTXAssembly);
        if (name == "GemmKernel.Run<GemmTile16>" || name.StartsWith("TiledGemm.", StringComparison.Ordinal))
            Assert.Contains(".shared .align 4 .b8", compiled.PTXAssembly); // fixed-size tiles in shared memory
        if (name.StartsWith("TiledGemm.", StringComparison.Ordinal))
            Assert.DoesNotContain(".local", compiled.PTXAssembly); // the 8×8 accumulators and staged slabs stay in registers
    }
}
