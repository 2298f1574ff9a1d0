using System.Diagnostics;
using System.Globalization;
using NativeASD.Detection.Backbones;
using NativeASD.Weights.Safetensors;
using NativeASD.Engine.IO;

namespace NativeASD.Bench;

/// <summary>
/// <c>weights-load [FILE] [repeats]</c>: times opening a ResNet38-size (≈300 MB) converted safetensors file. When FILE
/// does not exist it is generated there first (random values, the full PANNs ResNet38 layout). Reports, warm (file in
/// the page cache): open (header parse + map), touching every page of every tensor through the mapping (no copy), and
/// decoding every tensor to float32 arrays (one copy).
/// </summary>
static class WeightLoad
{
    public static void Run(string[] args)
    {
        string path = args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), "nasd-resnet38-bench.safetensors");
        int repeats = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        if (!File.Exists(path)) Generate(path);
        Console.WriteLine($"{path}: {new FileInfo(path).Length / 1048576.0:F1} MiB");

        var open = new List<double>(); var touch = new List<double>(); var decode = new List<double>();
        long checksum = 0;
        for (int r = 0; r < repeats + 1; r++) // the first round warms the page cache and the JIT
        {
            var sw = Stopwatch.StartNew();
            using var f = SafetensorsFile.Open(path);
            double tOpen = sw.Elapsed.TotalMilliseconds;
            foreach (var e in f.Entries)
            {
                var bytes = f.GetBytes(e);
                for (int i = 0; i < bytes.Length; i += 4096) checksum += bytes[i];
            }
            double tTouch = sw.Elapsed.TotalMilliseconds;
            foreach (var t in f.Tensors) checksum += t.ReadFloat32().Length;
            double tDecode = sw.Elapsed.TotalMilliseconds;
            if (r == 0) continue;
            open.Add(tOpen); touch.Add(tTouch); decode.Add(tDecode);
        }
        static string Stat(List<double> v) { v.Sort(); return string.Create(CultureInfo.InvariantCulture, $"median {v[v.Count / 2]:F1} ms (min {v[0]:F1}, max {v[^1]:F1})"); }
        Console.WriteLine($"open (header + map):              {Stat(open)}");
        Console.WriteLine($"open + touch every page (mapped): {Stat(touch)}");
        Console.WriteLine($"open + touch + decode all to f32: {Stat(decode)}");
        Console.WriteLine($"({repeats} warm repeats; checksum {checksum})");
    }

    static void Generate(string path)
    {
        var config = new PannsResNetConfig([3, 4, 6, 3], [64, 128, 256, 512]);
        var rng = new Random(38);
        var tensors = PannsResNetMapping.Expected(config).Select(e =>
        {
            int n = e.Shape.Aggregate(1, (a, d) => a * d);
            return e.Name.EndsWith("num_batches_tracked", StringComparison.Ordinal)
                ? SafetensorsTensor.Int64(e.Name, e.Shape, [0])
                : new SafetensorsTensor(e.Name, NativeASD.Weights.WeightDType.F32, e.Shape, () =>
                {
                    var v = new float[n];
                    for (int i = 0; i < n; i++) v[i] = (float)(rng.NextDouble() - 0.5);
                    return FloatBytes.Of(v);
                });
        }).ToList();
        AtomicFile.Write(path, s => SafetensorsWriter.Write(s, path, tensors, new Dictionary<string, string> { ["arch"] = "panns-resnet38", ["arch_config"] = "{}", ["frontend"] = "panns" }));
    }
}
