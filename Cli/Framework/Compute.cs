using NativeASD.Kernels;

namespace NativeASD.Cli;

/// <summary>
/// The one place a command opens a backend: <c>--device</c> and <c>--threads</c>, a bad device name as a usage error
/// and a missing device as an input error.
/// </summary>
public static class Compute
{
    public static IBackend OpenBackend(ParsedArgs args) => Open(Device(args), Threads(args));

    /// <summary>--device's kind (cpu when absent).</summary>
    public static DeviceKind Device(ParsedArgs args)
    {
        try { return Backends.ParseDevice(args.String("--device") ?? "cpu"); }
        catch (ArgumentException e) { throw new UsageException(e.Message, "--device takes cpu, cuda, opencl or ilgpu-cpu"); }
    }

    /// <summary>--threads, or 0 (all cores) when absent.</summary>
    public static int Threads(ParsedArgs args) => args.Int("--threads", 0, min: 1, max: 1024);

    /// <summary>A backend on <paramref name="kind"/>; on the CPU a fresh one with exactly <paramref name="threads"/> threads when given (0: the shared one on all cores).</summary>
    public static IBackend Open(DeviceKind kind, int threads)
    {
        try { return Backends.Open(kind, threads); }
        catch (DeviceNotFoundException e) { throw new InputException(e.Message, "run with --device cpu"); }
    }
}
