using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace NativeASD.Kernels.Ilgpu;

/// <summary>
/// Finds the accelerator for a device option and opens it in its own ILGPU context (algorithms enabled for
/// XMath). Each kind only enables its own ILGPU runtime, so ilgpu-cpu never touches the CUDA or OpenCL
/// drivers, and a missing device is a <see cref="DeviceNotFoundException"/> naming what ILGPU did see.
/// </summary>
internal static class IlgpuDevices
{
    public static (Context Context, Accelerator Accelerator, string Description) Open(DeviceKind kind) => kind switch
    {
        DeviceKind.Cuda => OpenCuda(),
        DeviceKind.OpenCL => OpenOpenCL(),
        DeviceKind.IlgpuCpu => OpenCpu(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "ILGPU backend: not an ILGPU device"),
    };

    static (Context, Accelerator, string) OpenCpu()
    {
        var context = Context.Create(b => b.CPU().EnableAlgorithms());
        try
        {
            // The default simulated device: warp 4, up to 16 threads per group, 16 host threads.
            var device = context.GetCPUDevice(0);
            var accelerator = device.CreateCPUAccelerator(context);
            return (context, accelerator,
                $"ILGPU CPU simulator ({device.NumThreads} threads, warp {device.WarpSize}, groups of ≤{device.MaxNumThreadsPerGroup})");
        }
        catch { context.Dispose(); throw; }
    }

    static (Context, Accelerator, string) OpenCuda()
    {
        var context = Context.Create(b => b.Cuda().EnableAlgorithms());
        try
        {
            var devices = context.GetCudaDevices();
            if (devices.Count == 0)
                throw new DeviceNotFoundException(
                    $"device 'cuda' requested but no CUDA device was found (ILGPU saw: {Survey()})");
            var device = devices[0];
            var accelerator = device.CreateCudaAccelerator(context);
            return (context, accelerator,
                $"ILGPU CUDA {device.Name} ({Gib(device.MemorySize)} GiB, {device.NumMultiprocessors} SMs, {device.Architecture})");
        }
        catch { context.Dispose(); throw; }
    }

    /// <summary>
    /// ILGPU's OpenCL backend needs OpenCL C 2.0's generic address space; PoCL and other 1.x-only devices
    /// lack it. Enumerate every device (not just those ILGPU pre-approves) so the error can say why each was passed over.
    /// </summary>
    static (Context, Accelerator, string) OpenOpenCL()
    {
        var context = Context.Create(b => b.OpenCL(_ => true).EnableAlgorithms());
        try
        {
            var rejected = new List<string>();
            foreach (var device in context.GetCLDevices())
            {
                if (!device.Capabilities.GenericAddressSpace)
                {
                    rejected.Add($"{Describe(device)}: no generic address space");
                    continue;
                }
                try
                {
                    var accelerator = device.CreateCLAccelerator(context);
                    return (context, accelerator, $"ILGPU OpenCL {device.Name} ({device.PlatformName}, OpenCL C {device.CVersion}, {Gib(device.MemorySize)} GiB)");
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    rejected.Add($"{Describe(device)}: {e.Message}");
                }
            }
            string saw = rejected.Count == 0 ? "no OpenCL devices" : string.Join("; ", rejected);
            throw new DeviceNotFoundException(
                $"device 'opencl' requested but no OpenCL 2.0 device with generic address space was found (ILGPU saw: {saw})");
        }
        catch { context.Dispose(); throw; }
    }

    static string Describe(CLDevice d) => $"{d.Name} [{d.PlatformName}, OpenCL C {d.CVersion}]";

    /// <summary>Every non-simulated device ILGPU can see, for error messages.</summary>
    static string Survey()
    {
        try
        {
            using var context = Context.Create(b => b.Cuda().OpenCL(_ => true));
            var seen = context.Devices
                .Where(d => d.AcceleratorType != AcceleratorType.CPU)
                .Select(d => $"{d.AcceleratorType} {d.Name}")
                .ToList();
            return seen.Count == 0 ? "no CUDA or OpenCL devices, only its CPU simulator ('ilgpu-cpu')" : string.Join(", ", seen);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return $"device enumeration failed: {e.Message}";
        }
    }

    static string Gib(long bytes) => (bytes / (double)(1L << 30)).ToString("0.#", System.Globalization.CultureInfo.InvariantCulture);
}
