using System.Text.Json;
using NativeASD.Weights;

namespace NativeASD.Detection.Backbones;

/// <summary>One tensor in our layout: its name, shape, the dtype we store it as, and how to read it (transforms go here).</summary>
/// <param name="ReadRange">Decodes a range of elements without a whole-tensor copy, when the source can (see <see cref="WeightTensor.DecodeRange"/>).</param>
public sealed record MappedTensor(string Name, int[] Shape, WeightDType StoreAs, Func<float[]> Read, Action<long, Span<float>>? ReadRange = null);

/// <summary>A source file mapped onto one of our architectures; <paramref name="Metadata"/>: extra keys for the converted file (e.g. YAMNet's int8_activations).</summary>
public sealed record MappedWeights(string Arch, string ConfigJson, string FrontendPreset, IReadOnlyList<MappedTensor> Tensors, IReadOnlyList<string> Ignored,
    IReadOnlyDictionary<string, string>? Metadata = null);

/// <summary>A tensor an architecture needs, with its exact shape.</summary>
public sealed record ExpectedTensor(string Name, int[] Shape);

/// <summary>
/// From a source file's tensor names and layouts to one of our architectures. Mappings are strict: every expected
/// tensor must be present with the right shape, and nothing may be left over unless extras are allowed.
/// </summary>
public interface IArchitectureMapping
{
    /// <summary>The --arch name, e.g. panns-resnet38.</summary>
    string Arch { get; }
    /// <summary>Whether the source's tensor names are this architecture's (used to auto-detect --arch).</summary>
    bool Recognises(IWeightSource source);
    /// <summary>Maps and checks the source; throws <see cref="WeightFormatException"/> naming every mismatch.</summary>
    MappedWeights Map(IWeightSource source, bool allowExtra);
}

/// <summary>The registered mappings, and the architecture names whose mapping arrives with their architecture.</summary>
public static class ArchitectureMappings
{
    /// <summary>The registration point for mappings.</summary>
    public static readonly List<IArchitectureMapping> All =
    [
        new PannsResNetMapping("panns-resnet22", [2, 2, 2, 2]),
        new PannsResNetMapping("panns-resnet38", [3, 4, 6, 3]),
        new HonkRes8Mapping(),
        new YamNetMapping(),
        new DcaseAutoencoderMapping(),
        new MiniResNetMapping("miniresnet", version: 1),
        new MiniResNetMapping("miniresnetv2", version: 2),
        new EfficientAtMapping(),
    ];

    /// <summary>Every --arch name the CLI accepts.</summary>
    public static string[] Names => [.. All.Select(m => m.Arch)];

    public static IArchitectureMapping Get(string path, string arch) =>
        All.FirstOrDefault(m => m.Arch == arch)
        ?? throw new WeightFormatException(path, $"unknown architecture '{arch}' (known: {string.Join(", ", Names)})");

    /// <summary>The one registered mapping that recognises the source, or an error saying why none or several do.</summary>
    public static IArchitectureMapping Detect(IWeightSource source)
    {
        var hits = All.Where(m => m.Recognises(source)).ToList();
        return hits.Count switch
        {
            1 => hits[0],
            0 => throw new WeightFormatException(source.Path, $"cannot tell the architecture from the tensor names; pass --arch ({string.Join("|", Names)})"),
            _ => throw new WeightFormatException(source.Path, $"tensor names fit several architectures ({string.Join(", ", hits.Select(h => h.Arch))}); pass --arch"),
        };
    }
}

/// <summary>Strict name-and-shape matching of a source against an expected tensor list; names are taken as they are.</summary>
public static class StrictMatch
{
    static readonly JsonSerializerOptions ConfigJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static MappedWeights AsIs(IWeightSource source, string arch, object config, string frontend, IReadOnlyList<ExpectedTensor> expected, bool allowExtra)
    {
        var byName = new Dictionary<string, WeightTensor>();
        foreach (var t in source.Tensors) byName.TryAdd(t.Name, t);
        var missing = new List<string>();
        var wrong = new List<string>();
        var mapped = new List<MappedTensor>();
        foreach (var e in expected)
        {
            if (!byName.TryGetValue(e.Name, out var t)) { missing.Add(e.Name); continue; }
            if (!t.Shape.SequenceEqual(e.Shape)) { wrong.Add($"{e.Name} is [{string.Join(",", t.Shape)}], expected [{string.Join(",", e.Shape)}]"); continue; }
            var store = WeightDTypes.IsFloat(t.StoredAs) ? WeightDType.F32 : WeightDType.I64;
            mapped.Add(new MappedTensor(e.Name, e.Shape, store, t.ReadFloat32, t.DecodeRange));
        }
        var expectedNames = expected.Select(e => e.Name).ToHashSet();
        var extra = source.Tensors.Select(t => t.Name).Where(n => !expectedNames.Contains(n)).ToList();
        var problems = new List<string>();
        if (missing.Count > 0) problems.Add($"{missing.Count} missing tensor(s): {List(missing)}");
        if (wrong.Count > 0) problems.Add($"{wrong.Count} wrong shape(s): {List(wrong)}");
        if (extra.Count > 0 && !allowExtra) problems.Add($"{extra.Count} unexpected tensor(s): {List(extra)} (pass --allow-extra to ignore them)");
        if (problems.Count > 0) throw new WeightFormatException(source.Path, $"does not match {arch}: {string.Join("; ", problems)}");
        return new MappedWeights(arch, JsonSerializer.Serialize(config, config.GetType(), ConfigJson), frontend, mapped, extra);
    }

    static string List(List<string> items) => string.Join(", ", items.Take(8)) + (items.Count > 8 ? $", … ({items.Count - 8} more)" : "");

    /// <summary>A dimension of a named source tensor, or <paramref name="fallback"/> when it is absent (the strict check then reports it).</summary>
    public static int Dim(IWeightSource source, string name, int axis, int fallback)
    {
        var t = source.Tensors.FirstOrDefault(x => x.Name == name);
        return t is not null && t.Shape.Length > axis && t.Shape[axis] > 0 ? t.Shape[axis] : fallback;
    }

    public static bool Has(IWeightSource source, string name) => source.Tensors.Any(t => t.Name == name);
}
