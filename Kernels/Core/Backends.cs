using NativeASD.Kernels.Cpu;
using NativeASD.Kernels.Ilgpu;

namespace NativeASD.Kernels;

/// <summary>Opens a backend from the one device option every compute command takes: cpu, cuda, opencl, ilgpu-cpu.</summary>
public static class Backends
{
    public static readonly string[] DeviceNames = ["cpu", "cuda", "opencl", "ilgpu-cpu"];

    static CpuBackend? _defaultCpu;

    /// <summary>The shared CPU backend on all cores; created on first use.</summary>
    public static CpuBackend DefaultCpu => LazyInitializer.EnsureInitialized(ref _defaultCpu, () => new CpuBackend());

    public static DeviceKind ParseDevice(string name) => name.Trim().ToLowerInvariant() switch
    {
        "cpu" => DeviceKind.Cpu,
        "cuda" => DeviceKind.Cuda,
        "opencl" => DeviceKind.OpenCL,
        "ilgpu-cpu" => DeviceKind.IlgpuCpu,
        _ => throw new ArgumentException($"unknown device '{name}': expected one of {string.Join(", ", DeviceNames)}"),
    };

    public static string Name(DeviceKind kind) => DeviceNames[(int)kind];

    /// <summary>Opens a backend; throws <see cref="DeviceNotFoundException"/> when the device is missing.</summary>
    public static IBackend Open(DeviceKind kind, int threads = 0) => kind switch
    {
        DeviceKind.Cpu => threads <= 0 ? DefaultCpu : new CpuBackend(threads),
        // A new ILGPU backend per call: each owns an accelerator and its compiled kernels; dispose it when done.
        DeviceKind.Cuda or DeviceKind.OpenCL or DeviceKind.IlgpuCpu => new IlgpuBackend(kind),
        _ => throw new DeviceNotFoundException($"device '{Name(kind)}' is not available in this build"),
    };

    public static IBackend Open(string device, int threads = 0) => Open(ParseDevice(device), threads);
}

/// <summary>The requested compute device does not exist on this machine.</summary>
public sealed class DeviceNotFoundException(string message) : Exception(message);
