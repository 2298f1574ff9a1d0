using System.Globalization;
using System.Text.Json;
using NativeASD.Weights;

namespace NativeASD.Cli.Commands;

/// <summary><c>nasd inspect FILE</c>: format, tensors (shape, dtype, bytes), metadata and parameter count of any supported weight file.</summary>
public static class InspectCommand
{
    public static readonly CommandSpec Spec = new(
        "inspect",
        "show the tensors and metadata of a weight file (any supported format)",
        "inspect FILE [--json]",
        [CommandSpec.Json],
        [
            "nasd inspect ResNet38_mAP=0.434.pth",
            "nasd inspect resnet38.safetensors --json",
        ],
        Run, MinPositionals: 1, MaxPositionals: 1);

    static int Run(ParsedArgs args)
    {
        string path = args.Positionals[0];
        if (!File.Exists(path)) throw new InputException($"{path}: no such file");
        using var source = WeightFiles.Open(path);
        long parameters = source.Tensors.Sum(t => t.Count);
        long bytes = source.Tensors.Sum(t => t.ByteLength);
        if (args.Flag("--json"))
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                file = path,
                format = source.Format,
                tensors = source.Tensors.Select(t => new { name = t.Name, dtype = t.StoredAs.ToString(), shape = t.Shape, bytes = t.ByteLength, note = t.Note }),
                metadata = source.Metadata,
                tensor_count = source.Tensors.Count,
                parameters,
                bytes,
            }));
            return ExitCode.Ok;
        }
        var o = Console.Out;
        o.WriteLine($"{path}: {source.Format}, {source.Tensors.Count} tensors, {parameters.ToString("N0", CultureInfo.InvariantCulture)} parameters, {Size(bytes)}");
        if (source.Tensors.Count > 0)
        {
            int width = Math.Min(72, source.Tensors.Max(t => t.Name.Length)) + 2;
            o.WriteLine();
            foreach (var t in source.Tensors)
                o.WriteLine($"  {t.Name.PadRight(width)}{t.StoredAs,-5} [{string.Join(", ", t.Shape)}]".PadRight(width + 30) + $" {Size(t.ByteLength)}{(t.Note is null ? "" : $"  ({t.Note})")}");
        }
        if (source.Metadata.Count > 0)
        {
            o.WriteLine();
            o.WriteLine("Metadata:");
            foreach (var (k, v) in source.Metadata) o.WriteLine($"  {k} = {v}");
        }
        return ExitCode.Ok;
    }

    static string Size(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1 << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:F1} KiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:F1} MiB"),
    };
}
