using BenchmarkDotNet.Running;

namespace NativeASD.Bench;

public static class Program
{
    /// <summary>Quick stopwatch subcommands (no BenchmarkDotNet overhead; for tuning and one-shot comparisons).</summary>
    static readonly (string Name, string Usage, Action<string[]> Run)[] Quick =
    [
        ("fma-peak", "[threads]: the FP32 FMA peak the GEMM numbers are compared with", FmaPeak.Run),
        ("gemm-quick", "M N K threads [simd] [seconds]: one GEMM shape", GemmQuick.Run),
        ("resample-quick", "[dir|file]: decoding and resampling one real clip, thread CPU time", ResampleQuick.Run),
        ("frontend-quick", "[preset] [seconds] [batch] [threads] [single|double]: a frontend preset", FrontendQuick.Run),
        ("conv-quick", "N C H W O K [threads]: the conv forward paths on one shape", ConvQuick.Run),
        ("weights-load", "[file] [repeats]: loading a ResNet38-size safetensors file", WeightLoad.Run),
        ("resnet38-quick", "[threads] [repeats] [weights]: one PANNs ResNet38 forward on a 10 s clip, time and peak memory", ResNet38Quick.Run),
        ("resnet38-convs", "[threads] [calls]: the conv geometries of a ResNet38 eval forward, fused path, time per geometry", ResNet38Convs.Run),
        ("resnet38-onnx", "[dir] [threads] [repeats]: ResNet38 forward, NativeASD vs ONNX Runtime vs Debian torch on the same weights (exports to dir)", ResNet38Onnx.Run),
        ("efficientat-quick", "[repeats] [shared]: EfficientAT mn04 on a 10 s clip (frontend + network to the embedding), 1 and 2 threads, vs Debian torch; convs per kind", EfficientAtQuick.Run),
        ("train-step-quick", "[threads] [batch]: a training step of the autoencoder and VAE baselines", TrainStepQuick.Run),
        ("detector-quick", "[threads] [clips] [yamnet.tflite]: metric fit on 1000 cached clips; scoring clips/s per detector and backbone", DetectorQuick.Run),
        ("threshold-study", "DATA [detector[@backbone]|default] [cache] [threads] [folds] [json]: per machine ID (and its machine type's model where eval uses it), out-of-fold scores, the gamma threshold and the test scores it meets", ThresholdStudy.Run),
        ("monitor-stream", "OUTDIR SECONDS ANOMALY_START …: a generated stream for nasd monitor (see MonitorStream)", MonitorStream.Run),
        ("serve-load", "NASD_DLL OUTDIR MACHINES SECONDS [SILOS]: machines streaming at real time to nasd serve, reading latency and drops (see ServeLoad)", ServeLoad.Run),
    ];

    /// <summary>
    /// A quick subcommand by name (see <see cref="Quick"/>), or the BenchmarkDotNet switcher (e.g. <c>--filter *Gemm*</c>).
    /// </summary>
    public static void Main(string[] args)
    {
        if (args.Length > 0 && (args[0] is "--list-quick"))
        {
            foreach (var (name, usage, _) in Quick) Console.WriteLine($"{name} {usage}");
            return;
        }
        foreach (var (name, _, run) in Quick)
            if (args.Length > 0 && args[0] == name)
            {
                run(args[1..]);
                return;
            }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
