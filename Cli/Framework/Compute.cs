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

    /// <summary>--batch's default on a device: large enough to keep a GPU busy with 10 s clips, small enough for its memory.</summary>
    public const int DeviceBatch = 16;

    /// <summary>--clip-batch of the feature commands (fit, score, eval, embed, demo): clips of one length per network call.</summary>
    public static readonly OptionSpec ClipBatchOption = new("--clip-batch", "N",
        "clips of one length run through the network together (the same results within the backend's parity bounds; the audio is decoded on CPU threads meanwhile)",
        $"1 on cpu, {DeviceBatch} on a device");

    /// <summary>--batch where it is free (score, embed, demo): the same as --clip-batch. In fit and eval --batch is the head's training batch.</summary>
    public static readonly OptionSpec BatchOption = new("--batch", "N", "the same as --clip-batch", $"1 on cpu, {DeviceBatch} on a device");

    /// <summary>
    /// --clip-batch (or --batch where <see cref="BatchOption"/> is offered), or its default for the device: 1 on the CPU
    /// (clip by clip, as always), <see cref="DeviceBatch"/> elsewhere.
    /// </summary>
    public static int ClipBatch(ParsedArgs args, bool batchIsClipBatch = false)
    {
        int fallback = Device(args) == DeviceKind.Cpu ? 1 : DeviceBatch;
        int clipBatch = args.Int("--clip-batch", fallback, min: 1, max: 4096);
        if (!batchIsClipBatch || args.String("--batch") is null) return clipBatch;
        int batch = args.Int("--batch", fallback, min: 1, max: 4096);
        if (args.String("--clip-batch") is not null && batch != clipBatch)
            throw new UsageException($"{args.Command}: --batch {batch} and --clip-batch {clipBatch} disagree", "give one of them");
        return batch;
    }

    /// <summary>--threads, or 0 (all cores) when absent.</summary>
    public static int Threads(ParsedArgs args) => args.Int("--threads", 0, min: 1, max: 1024);

    /// <summary>A backend on <paramref name="kind"/>; on the CPU a fresh one with exactly <paramref name="threads"/> threads when given (0: the shared one on all cores).</summary>
    public static IBackend Open(DeviceKind kind, int threads)
    {
        try { return Backends.Open(kind, threads); }
        catch (DeviceNotFoundException e) { throw new InputException(e.Message, "run with --device cpu"); }
        catch (ArgumentException e) when (e.Message.StartsWith("NASD_GEMM_VARIANT", StringComparison.Ordinal)) { throw new UsageException(e.Message, "unset it, or use a name it lists"); }
    }
}
