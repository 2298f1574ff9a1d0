using System.Text.Json;
using NativeASD.Engine;
using NativeASD.Engine.IO;
using NativeASD.Engine.Architectures;
using NativeASD.Engine.Architectures.Panns;
using NativeASD.Kernels;
using Xunit.Abstractions;

namespace NativeASD.Tests.Engine.Architectures;

/// <summary>
/// Tests/Fixtures/arch (written by Tests/Reference/make_arch_references.py): per case a folder with the random
/// weights (weights/&lt;state-dict key&gt;.npy), input.npy and taps/&lt;tap&gt;.npy, described by manifest.json.
/// Also reads the same layout from any other folder (the full-size PANNs files under /tmp/nasd-panns).
/// </summary>
public sealed class ArchCase
{
    public required string Folder { get; init; }
    public required string Name { get; init; }
    public required string Arch { get; init; }
    public required JsonElement Json { get; init; }

    public JsonElement Config => Json.GetProperty("config");

    public IEnumerable<string> TapNames => Json.TryGetProperty("taps", out var t) ? t.EnumerateObject().Select(p => p.Name) : [];

    public string PathOf(params string[] parts) => Path.Combine([Folder, .. parts]);

    public (float[] Data, int[] Shape) Npy(params string[] parts) => NpyFile.Read(PathOf(parts));

    public Tensor Tensor(IBackend backend, params string[] parts)
    {
        var (data, shape) = Npy(parts);
        return NativeASD.Engine.Tensor.FromSpan(data, shape, backend);
    }

    /// <summary>The .npy files of a sub-folder as state-dict tensors (file name = key + ".npy").</summary>
    public IEnumerable<NamedTensor> StateTensors(string sub)
    {
        foreach (var file in Directory.GetFiles(PathOf(sub), "*.npy").Order(StringComparer.Ordinal))
        {
            var header = NpyFile.ReadHeader(file);
            string path = file;
            yield return new NamedTensor(Path.GetFileNameWithoutExtension(file), header.Shape, () => NpyFile.Read(path).Data);
        }
    }

    public PannsConfig PannsConfig(float dropoutScale = 1f) => new(
        Config.GetProperty("blocks").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
        Width: Config.GetProperty("width").GetDouble(),
        MelBins: Config.GetProperty("mel_bins").GetInt32(),
        Classes: Config.GetProperty("classes").GetInt32(),
        DropoutScale: dropoutScale);

    public override string ToString() => Name;
}

public static class ArchFixtures
{
    public static string Root => Fixtures.PathOf("arch");

    static readonly Lazy<IReadOnlyList<ArchCase>> All = new(() => ReadManifest(Root));

    public static IReadOnlyList<ArchCase> Cases => All.Value;

    public static ArchCase Get(string name) => Cases.Single(c => c.Name == name);

    public static IReadOnlyList<ArchCase> ReadManifest(string root)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "manifest.json")));
        return doc.RootElement.EnumerateArray().Select(e => new ArchCase
        {
            Folder = Path.Combine(root, e.GetProperty("case").GetString()!),
            Name = e.GetProperty("case").GetString()!,
            Arch = e.GetProperty("arch").GetString()!,
            Json = e.Clone(),
        }).ToList();
    }

    /// <summary>Relative L2 error ‖a − e‖ / ‖e‖ and the largest absolute difference, in float64.</summary>
    public static (double RelL2, double MaxAbs) Compare(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double num = 0, den = 0, maxAbs = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = (double)actual[i] - expected[i];
            if (double.IsNaN(d)) return (double.NaN, double.NaN);
            num += d * d;
            den += (double)expected[i] * expected[i];
            maxAbs = Math.Max(maxAbs, Math.Abs(d));
        }
        return (den == 0 ? Math.Sqrt(num) : Math.Sqrt(num / den), maxAbs);
    }

    public const double RelL2Tolerance = 1e-4;

    /// <summary>Runs the case's input with every tap requested and compares each with its fixture.</summary>
    public static void CheckTaps(ArchCase c, TapModel model, IBackend backend, ITestOutputHelper output)
    {
        using var x = c.Tensor(backend, "input.npy");
        var taps = c.TapNames.ToArray();
        Assert.NotEmpty(taps);
        foreach (var tap in taps) Assert.Contains(tap, model.TapNames);
        using var result = model.Forward(x, taps);
        var failures = new List<string>();
        foreach (var tap in taps)
        {
            var (expected, shape) = c.Npy("taps", tap + ".npy");
            var actual = result[tap];
            Assert.True(Layout.SameShape(shape, actual.Shape), $"{c.Name} {tap}: shape {Layout.Format(actual.Shape)}, expected {Layout.Format(shape)}");
            var (rel, maxAbs) = Compare(expected, actual.ToArray());
            output.WriteLine($"{c.Name} {tap,-20} {Layout.Format(shape),-18} relL2 {rel:E2}  maxAbs {maxAbs:E2}");
            if (!(rel <= RelL2Tolerance)) failures.Add($"{tap}: relL2 {rel:E3}");
        }
        Assert.True(failures.Count == 0, $"{c.Name}: taps beyond relL2 {RelL2Tolerance}: {string.Join("; ", failures)}");
    }
}
