using System.Globalization;
using NativeASD.Detection.Backbones;
using NativeASD.Engine;
using NativeASD.Engine.Architectures;
using NativeASD.Engine.Audio;
using NativeASD.Engine.Frontend;
using NativeASD.Engine.Layers;
using NativeASD.Kernels;
using NativeASD.Kernels.Cpu;

namespace NativeASD.Bench;

/// <summary>
/// <c>efficientat-quick [repeats] [shared]</c>: EfficientAT mn04 (../shared/weights/mn04_as_mAP_432.pt) on one 10 s
/// DCASE clip, frontend + network to the embedding, evaluation mode, 1 and 2 threads, against Debian torch on the same
/// weights and clip in the same run (Bench/torch_efficientat.py, run first as a child process): median wall and process
/// CPU time after one warm-up; the frontend alone; and every conv of the network timed alone on its geometry
/// (<see cref="IBackend.Conv2dForward"/>), summed per kind — the stem 3×3, the depthwise k×k and the 1×1 convs.
/// </summary>
internal static class EfficientAtQuick
{
    const string Clip = "data/dcase2020-lite/slider/anomaly_id_02_00000016.wav";

    public static void Run(string[] args)
    {
        int repeats = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5;
        string shared = Path.GetFullPath(args.Length > 1 ? args[1] : Path.Combine(Measure.RepoRoot(), "..", "shared"));
        var torch = Measure.TorchPeer("torch_efficientat.py", repeats.ToString(CultureInfo.InvariantCulture), shared);
        var inv = CultureInfo.InvariantCulture;
        var clip = AudioFile.Read(Path.Combine(shared, Clip), default, 32000);
        foreach (int threads in new[] { 1, 2 })
        {
            var backend = new CpuBackend(threads);
            using var loaded = ModelFiles.Load(Path.Combine(shared, "weights", "mn04_as_mAP_432.pt"), backend);
            using var fe = new AudioFrontend(loaded.Frontend, threads);
            float[] embedding = [];
            var (ms, cpuMs) = Timed(repeats, () =>
            {
                var features = fe.Compute(clip);
                using var x = TapFeatures.Input(loaded.Frontend, features, Clip, backend);
                using var outputs = loaded.Model.Forward(x, ["embedding"]);
                embedding = outputs["embedding"].ToArray();
            });
            var (feMs, _) = Timed(repeats, () => fe.Compute(clip));
            var kinds = ConvTimes(loaded.Model, backend, repeats, fe.FrameCount(clip.Samples.Length));
            double torchMs = torch.GetProperty($"ms_{threads}thread").GetDouble(), torchCpu = torch.GetProperty($"cpu_ms_{threads}thread").GetDouble();
            Console.WriteLine(string.Create(inv,
                $"{threads} thread(s): NativeASD {ms:F1} ms wall ({cpuMs:F1} ms CPU), torch {torchMs:F1} ms wall ({torchCpu:F1} ms CPU): {torchMs / ms:F2}x wall, {torchCpu / cpuMs:F2}x CPU"));
            string convs = string.Join(", ", kinds.Select(k => FormattableString.Invariant(
                $"{k.Key} {k.Value:F1} ms (torch {torch.GetProperty($"{k.Key}_ms_{threads}thread").GetDouble():F1})")));
            Console.WriteLine(string.Create(inv, $"  frontend {feMs:F1} ms (torch {torch.GetProperty($"frontend_ms_{threads}thread").GetDouble():F1}); convs alone: {convs}"));
            Console.WriteLine(string.Create(inv, $"  embedding[0..4] {string.Join(", ", embedding.Take(4).Select(v => v.ToString("F6", inv)))} (torch {torch.GetProperty("embedding_head")})"));
        }
    }

    /// <summary>Median wall and process CPU milliseconds of <paramref name="repeats"/> runs after one warm-up.</summary>
    static (double Wall, double Cpu) Timed(int repeats, Action run)
    {
        run();
        List<double> wall = [], cpu = [];
        for (int r = 0; r < repeats; r++) Measure.Once(run, wall, cpu);
        wall.Sort();
        cpu.Sort();
        return (wall[repeats / 2], cpu[repeats / 2]);
    }

    /// <summary>Every conv of the network on the geometry it gets for a [1, 1, 128, frames] input (the convs run in a chain), timed alone and summed per kind.</summary>
    static Dictionary<string, double> ConvTimes(TapModel model, IBackend backend, int repeats, int frames)
    {
        var kinds = new Dictionary<string, double> { ["stem"] = 0, ["depthwise"] = 0, ["pointwise"] = 0 };
        int[] shape = [1, 1, 128, frames];
        foreach (var conv in Convs(model))
        {
            var g = conv.GeometryFor(shape);
            StridedView View(int[] s) => StridedView.Contiguous(backend.Allocate(Layout.Count(s), zero: true), s);
            var (x, y) = (View(g.InputShape), View(g.OutputShape));
            var w = conv.Weight.Value.View;
            string kind = g.KernelH == 1 && g.KernelW == 1 ? "pointwise" : g.Groups > 1 ? "depthwise" : "stem";
            kinds[kind] += Timed(repeats, () => backend.Conv2dForward(g, x, w, null, y)).Wall;
            shape = g.OutputShape;
        }
        return kinds;
    }

    static IEnumerable<Conv2d> Convs(Module m)
    {
        if (m is Conv2d c) yield return c;
        foreach (var (_, child) in m.Children)
            foreach (var inner in Convs(child)) yield return inner;
    }
}
