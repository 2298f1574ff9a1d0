using BenchmarkDotNet.Running;

namespace NativeASD.Bench;

public static class Program
{
    /// <summary>
    /// BenchmarkDotNet switcher (e.g. <c>--filter *Gemm*</c>). <c>gemm-quick M N K threads [simd] [seconds]</c> instead
    /// times one GEMM shape with a plain stopwatch loop (for tuning; no BenchmarkDotNet overhead);
    /// <c>frontend-quick [preset] [seconds] [batch] [threads] [single|double]</c> times a frontend preset;
    /// <c>conv-quick N C H W O K [threads]</c> compares the conv forward paths on one shape;
    /// <c>monitor-stream OUTDIR SECONDS ANOMALY_START …</c> writes a generated stream for <c>nasd monitor</c> (see MonitorStream);
    /// <c>fma-peak [threads]</c> measures the FP32 FMA peak the GEMM numbers are compared with.
    /// </summary>
    public static void Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "fma-peak")
        {
            FmaPeak.Run(args[1..]);
            return;
        }
        if (args.Length > 0 && args[0] == "frontend-quick")
        {
            FrontendQuick.Run(args[1..]);
            return;
        }
        if (args.Length > 0 && args[0] == "conv-quick")
        {
            ConvQuick.Run(args[1..]);
            return;
        }
        if (args.Length > 0 && args[0] == "monitor-stream")
        {
            MonitorStream.Run(args[1..]);
            return;
        }
        if (args.Length > 0 && args[0] == "gemm-quick")
        {
            GemmQuick.Run(args[1..]);
            return;
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
