using NativeASD.Kernels.Cpu;

namespace NativeASD.Bench;

/// <summary>
/// The machine's FP32 multiply-add peak, the yardstick for GEMM GFLOP/s (<see cref="PeakFlops"/>, the same meter as
/// <c>nasd bench peak</c>), printed for 5 repeats. <c>fma-peak [threads]</c>.
/// </summary>
internal static class FmaPeak
{
    public static void Run(string[] args)
    {
        int threads = args.Length > 0 ? int.Parse(args[0]) : Environment.ProcessorCount;
        for (int rep = 0; rep < 5; rep++)
            Console.WriteLine($"FMA peak, {threads} thread(s), {SimdSupport.Detect()}: {PeakFlops.Measure(threads):F1} GFLOP/s");
    }
}
