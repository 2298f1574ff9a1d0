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
/// types in arguments) and shared memory sized by something other than a constant.
/// </summary>
public class IlgpuPtxTests
{
    public static TheoryData<string> Kernels => new(KernelMethods().Select(k => k.Name));

    static IEnumerable<(string Name, MethodInfo Method, bool Grouped)> KernelMethods()
    {
        yield return ("Fill", typeof(ElementwiseKernels).GetMethod(nameof(ElementwiseKernels.Fill))!, false);
        yield return ("Unary", typeof(ElementwiseKernels).GetMethod(nameof(ElementwiseKernels.Unary))!, false);
        yield return ("Binary", typeof(ElementwiseKernels).GetMethod(nameof(ElementwiseKernels.Binary))!, false);
        yield return ("ReduceColumns", typeof(ReduceKernels).GetMethod(nameof(ReduceKernels.Columns))!, false);
        yield return ("ReduceRows", typeof(ReduceKernels).GetMethod(nameof(ReduceKernels.Rows))!, true);
        var gemm = typeof(GemmKernel).GetMethod(nameof(GemmKernel.Run))!;
        yield return ("Gemm16", gemm.MakeGenericMethod(typeof(GemmTile16)), true);
        yield return ("Gemm8", gemm.MakeGenericMethod(typeof(GemmTile8)), true);
        yield return ("Gemm4", gemm.MakeGenericMethod(typeof(GemmTile4)), true);
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
        if (name == "Gemm16")
            Assert.Contains(".shared .align 4 .b8", compiled.PTXAssembly); // fixed-size tiles in shared memory
    }
}
