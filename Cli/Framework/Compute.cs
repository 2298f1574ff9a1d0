using NativeASD.Kernels;

namespace NativeASD.Cli;

/// <summary>Opens the backend named by <c>--device</c> and <c>--threads</c>, turning a missing device into an input error.</summary>
public static class Compute
{
    public static IBackend OpenBackend(ParsedArgs args)
    {
        string device = args.String("--device") ?? "cpu";
        int threads = args.Int("--threads", 0, min: 1, max: 1024);
        try
        {
            var kind = Backends.ParseDevice(device);
            // A fresh CPU backend when --threads is given, so the count is exactly what was asked for.
            return kind == DeviceKind.Cpu && threads > 0 ? new Kernels.Cpu.CpuBackend(threads) : Backends.Open(kind, threads);
        }
        catch (ArgumentException e) { throw new UsageException(e.Message, "--device takes cpu, cuda, opencl or ilgpu-cpu"); }
        catch (DeviceNotFoundException e) { throw new InputException(e.Message, "run with --device cpu"); }
    }
}
