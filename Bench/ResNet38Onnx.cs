using System.Globalization;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using NativeASD.Engine;
using NativeASD.Engine.IO;
using NativeASD.Kernels.Cpu;
using NativeASD.Detection.Backbones;

namespace NativeASD.Bench;

/// <summary>
/// <c>resnet38-onnx [DIR] [threads] [repeats]</c>: one PANNs ResNet38 forward on a 10 s clip at 32 kHz (log-mel
/// [1, 1, 1001, 64]), evaluation mode, the same random weights three ways, in one run: Debian torch (Bench/torch_resnet38.py,
/// run as a child process first; it also exports the weights as DIR/resnet38.pth and DIR/resnet38.onnx when DIR lacks
/// them), then NativeASD (CPU backend, the .pth loaded through ModelFiles) and ONNX Runtime (in-process, all graph
/// optimisations, intra-op threads = threads) alternately. Reports median wall times (and the process CPU time of each
/// call, steadier on a shared machine), the ratios, and how far the outputs (embedding, clipwise_output) are apart
/// (relative L2). <c>resnet38-onnx DIR THREADS REPEATS nospin</c> runs ORT without spin-waiting threads.
/// </summary>
internal static class ResNet38Onnx
{
    public static void Run(string[] args)
    {
        string dir = args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), "nasd-onnx");
        int threads = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2;
        int repeats = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 5;
        bool noSpin = args.Length > 3 && args[3] == "nospin";

        var torch = Measure.TorchPeer("torch_resnet38.py", repeats.ToString(CultureInfo.InvariantCulture), "--export", dir);
        double torchMs = torch.GetProperty($"ms_{threads}thread").GetDouble();

        var (input, inputShape) = NpyFile.Read(Path.Combine(dir, "input.npy"));
        string[] taps = ["embedding", "clipwise_output"];

        using var loaded = ModelFiles.Load(Path.Combine(dir, "resnet38.pth"), new CpuBackend(threads));
        var model = loaded.Model;
        using var x = Tensor.FromSpan(input, inputShape, model.Backend);
        float[][] Ours()
        {
            using var r = model.Forward(x, taps);
            return [.. taps.Select(t => r[t].ToArray())];
        }

        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        // ORT's intra-op threads spin-wait after a run by default, which takes CPU from the NativeASD call that follows it
        // in this alternating loop; "nospin" turns that off (session.intra_op.allow_spinning = 0) to measure without it.
        if (noSpin) options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        using var session = new InferenceSession(Path.Combine(dir, "resnet38.onnx"), options);
        using var ortInput = OrtValue.CreateTensorValueFromMemory(input, [.. inputShape.Select(d => (long)d)]);
        using var runOptions = new RunOptions();
        float[][] Ort()
        {
            using var outputs = session.Run(runOptions, ["logmel"], [ortInput], taps);
            return [.. outputs.Select(o => o.GetTensorDataAsSpan<float>().ToArray())];
        }

        var ours = Ours();
        var ort = Ort();
        List<double> ourTimes = [], ortTimes = [], ourCpu = [], ortCpu = [];
        for (int r = 0; r < repeats; r++)
        {
            Measure.Once(() => Ours(), ourTimes, ourCpu);
            Measure.Once(() => Ort(), ortTimes, ortCpu);
        }
        foreach (var list in new[] { ourTimes, ortTimes, ourCpu, ortCpu }) list.Sort();
        double ourMs = ourTimes[repeats / 2], ortMs = ortTimes[repeats / 2];
        double ourCpuMs = ourCpu[repeats / 2], ortCpuMs = ortCpu[repeats / 2], torchCpuMs = torch.GetProperty($"cpu_ms_{threads}thread").GetDouble();

        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"ResNet38 forward [1,1,1001,64], {threads} threads, median of {repeats} after one warm-up{(noSpin ? ", ORT without spin-waiting" : "")}:"));
        Console.WriteLine(string.Create(inv, $"  NativeASD CPU backend {ourMs,8:F1} ms (min {ourTimes[0]:F1}), process CPU time {ourCpuMs:F1} ms"));
        Console.WriteLine(string.Create(inv, $"  ONNX Runtime {OrtEnv.Instance().GetVersionString(),-8} {ortMs,8:F1} ms (min {ortTimes[0]:F1}), process CPU time {ortCpuMs:F1} ms   NativeASD is {ortMs / ourMs:F2}× its speed"));
        Console.WriteLine(string.Create(inv, $"  torch {torch.GetProperty("torch").GetString(),-15} {torchMs,8:F1} ms, process CPU time {torchCpuMs:F1} ms                  NativeASD is {torchMs / ourMs:F2}× its speed"));
        var result = new Dictionary<string, object>
        {
            ["threads"] = threads, ["repeats"] = repeats, ["nasd_ms"] = Math.Round(ourMs, 1), ["ort_ms"] = Math.Round(ortMs, 1),
            ["torch_ms"] = torchMs, ["nasd_cpu_ms"] = Math.Round(ourCpuMs, 1), ["ort_cpu_ms"] = Math.Round(ortCpuMs, 1), ["torch_cpu_ms"] = torchCpuMs,
            ["ort_over_nasd"] = Math.Round(ortMs / ourMs, 3), ["torch_over_nasd"] = Math.Round(torchMs / ourMs, 3),
        };
        for (int i = 0; i < taps.Length; i++)
        {
            var (torchOut, _) = NpyFile.Read(Path.Combine(dir, $"torch_{taps[i]}.npy"));
            double oursOrt = RelL2(ours[i], ort[i]), oursTorch = RelL2(ours[i], torchOut), ortTorch = RelL2(ort[i], torchOut);
            Console.WriteLine(string.Create(inv, $"  {taps[i]}: relative L2 NativeASD vs ORT {oursOrt:E2}, NativeASD vs torch {oursTorch:E2}, ORT vs torch {ortTorch:E2}"));
            result[$"{taps[i]}_rel_l2_nasd_ort"] = oursOrt;
            result[$"{taps[i]}_rel_l2_nasd_torch"] = oursTorch;
            result[$"{taps[i]}_rel_l2_ort_torch"] = ortTorch;
        }
        Console.WriteLine(JsonSerializer.Serialize(result));
    }

    /// <summary>‖a − b‖ / ‖b‖ in double.</summary>
    static double RelL2(float[] a, float[] b)
    {
        if (a.Length != b.Length) throw new InvalidDataException($"outputs differ in length: {a.Length} vs {b.Length}");
        double d = 0, n = 0;
        for (int i = 0; i < a.Length; i++) { d += (double)(a[i] - b[i]) * (a[i] - b[i]); n += (double)b[i] * b[i]; }
        return Math.Sqrt(d / n);
    }
}
