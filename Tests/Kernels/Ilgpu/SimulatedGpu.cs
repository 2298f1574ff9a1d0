using ILGPU;
using ILGPU.Runtime.CPU;
using NativeASD.Kernels;
using NativeASD.Kernels.Ilgpu;

namespace NativeASD.Tests.Kernels.Ilgpu;

/// <summary>ILGPU's CPU simulator shaped like a GPU: warps of 32, groups of 256 threads (the default simulator allows 16).</summary>
internal static class SimulatedGpu
{
    public static IlgpuBackend Open()
    {
        var context = Context.Create(b => b.CPU(new CPUDevice(32, 8, 1)).EnableAlgorithms());
        return new IlgpuBackend(DeviceKind.IlgpuCpu, context, context.GetCPUDevice(0).CreateCPUAccelerator(context), "ILGPU CPU 256-thread groups");
    }
}
