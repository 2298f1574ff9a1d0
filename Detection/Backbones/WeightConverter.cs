using System.Runtime.InteropServices;
using System.Security.Cryptography;
using NativeASD.Weights.Safetensors;
using NativeASD.Weights;
using NativeASD.Engine.IO;

namespace NativeASD.Detection.Backbones;

/// <summary>What a conversion wrote.</summary>
public sealed record ConversionResult(string Source, string SourceFormat, string Destination, string Arch, string ConfigJson, int Tensors, long Parameters, IReadOnlyList<string> Ignored, IReadOnlyDictionary<string, string> Metadata);

/// <summary>
/// Source file → architecture mapping (strict) → our safetensors file with provenance metadata, written atomically.
/// Metadata keys: format, arch, arch_config (JSON), frontend, source_file, source_sha256, source_format, converter, and
/// the mapping's own (YAMNet from an int8 model: int8_activations).
/// </summary>
public static class WeightConverter
{
    public static string ConverterVersion => $"nasd-convert {typeof(WeightConverter).Assembly.GetName().Version}";

    /// <param name="arch">An architecture name, or null to detect it from the tensor names.</param>
    /// <param name="frontend">Overrides the mapping's frontend preset when not null.</param>
    public static ConversionResult Convert(string source, string destination, string? arch, bool allowExtra, string? frontend = null)
    {
        using var src = WeightFiles.Open(source);
        var mapping = arch is null ? ArchitectureMappings.Detect(src) : ArchitectureMappings.Get(source, arch);
        var mapped = mapping.Map(src, allowExtra);
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "nativeasd-weights/1",
            ["arch"] = mapped.Arch,
            ["arch_config"] = mapped.ConfigJson,
            ["frontend"] = frontend ?? mapped.FrontendPreset,
            ["source_file"] = Path.GetFileName(source),
            ["source_sha256"] = Sha256(source),
            ["source_format"] = src.Format,
            ["converter"] = ConverterVersion,
        };
        foreach (var (key, value) in mapped.Metadata ?? new Dictionary<string, string>()) metadata[key] = value;
        var tensors = mapped.Tensors.Select(t => new SafetensorsTensor(t.Name, t.StoreAs, t.Shape, () => Encode(source, t))).ToList();
        AtomicFile.Write(destination, s => SafetensorsWriter.Write(s, destination, tensors, metadata));
        long parameters = mapped.Tensors.Sum(t => t.Shape.Aggregate(1L, (a, d) => a * d));
        return new ConversionResult(source, src.Format, destination, mapped.Arch, mapped.ConfigJson, tensors.Count, parameters, mapped.Ignored, metadata);
    }

    static ReadOnlyMemory<byte> Encode(string source, MappedTensor t)
    {
        float[] values = t.Read();
        long count = t.Shape.Aggregate(1L, (a, d) => a * d);
        if (values.Length != count) throw new WeightFormatException(source, $"tensor {t.Name} decoded to {values.Length} values, shape needs {count}");
        return t.StoreAs switch
        {
            WeightDType.F32 => FloatBytes.Of(values),
            WeightDType.I64 => MemoryMarshal.AsBytes(values.Select(v => (long)v).ToArray().AsSpan()).ToArray(),
            _ => throw new ArgumentException($"tensor {t.Name}: storing as {t.StoreAs} is not supported"),
        };
    }

    public static string Sha256(string path)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return System.Convert.ToHexStringLower(SHA256.HashData(f));
    }
}
