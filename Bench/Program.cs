using BenchmarkDotNet.Running;

namespace NativeASD.Bench;

public static class Program
{
    /// <summary>
    /// BenchmarkDotNet switcher (e.g. <c>--filter *Gemm*</c>). <c>gemm-quick M N K threads [simd] [seconds]</c> instead
    /// times one GEMM shape with a plain stopwatch loop (for tuning; no BenchmarkDotNet overhead);
    /// <c>frontend-quick [preset] [seconds] [batch] [threads] [single|double]</c> times a frontend preset;
    /// <c>fma-peak [threads]</c> measures the FP32 FMA peak the GEMM numbers are compared with;
    /// <c>weights-load [file] [repeats]</c> times loading a ResNet38-size safetensors file;
    /// <c>resnet38-quick [threads] [repeats]</c> times one PANNs ResNet38 forward on a 10 s clip;
    /// <c>train-step-quick [threads] [batch]</c> times a training step of the autoencoder and VAE baselines;
    /// <c>conv-quick N C H W O K [threads]</c> compares the conv forward paths on one shape.
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
        if (args.Length > 0 && args[0] == "resnet38-quick")
        {
            ResNet38Quick.Run(args[1..]);
            return;
        }
        if (args.Length > 0 && args[0] == "weights-load")
        {
            WeightLoad.Run(args[1..]);
            return;
        }
        if (args.Length > 0 && args[0] == "train-step-quick")
        {
            TrainStepQuick.Run(args[1..]);
            return;
        }
        if (args.Length > 0 && args[0] == "conv-quick")
        {
            ConvQuick.Run(args[1..]);
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
