using System.Globalization;
using System.Text.Json;
using NativeASD.Detection.Backbones;

namespace NativeASD.Cli.Commands;

/// <summary><c>nasd convert SRC DEST.safetensors --arch A</c>: map a foreign checkpoint onto one of our architectures and write our format.</summary>
public static class ConvertCommand
{
    public static readonly CommandSpec Spec = new(
        "convert",
        "convert a PyTorch/TFLite/ONNX/Keras weight file into NativeASD's safetensors format",
        $"convert SRC DEST.safetensors [--arch {string.Join("|", ArchitectureMappings.Names)}] [--allow-extra] [--frontend PRESET] [--json]",
        [
            new("--arch", "NAME", $"target architecture: {string.Join(", ", ArchitectureMappings.Names)}", "detected from the tensor names"),
            new("--allow-extra", null, "ignore source tensors the architecture does not use (default: they are an error)"),
            new("--frontend", "PRESET", "frontend preset recorded in the metadata", "the architecture's own"),
            CommandSpec.Json,
        ],
        [
            "nasd convert ResNet38_mAP=0.434.pth resnet38.safetensors --arch panns-resnet38",
            "nasd convert res8.pt res8.safetensors",
        ],
        Run, MinPositionals: 2, MaxPositionals: 2);

    static int Run(ParsedArgs args)
    {
        string src = args.Positionals[0], dest = args.Positionals[1];
        if (!File.Exists(src)) throw new InputException($"{src}: no such file");
        if (!dest.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            throw new UsageException($"convert: destination '{dest}' should end in .safetensors");
        string? arch = args.String("--arch");
        if (arch is not null && !ArchitectureMappings.Names.Contains(arch))
            throw new UsageException($"convert: unknown --arch '{arch}'", $"choose one of {string.Join(", ", ArchitectureMappings.Names)}");
        var r = WeightConverter.Convert(src, dest, arch, args.Flag("--allow-extra"), args.String("--frontend"));
        if (args.Flag("--json"))
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                source = r.Source, source_format = r.SourceFormat, destination = r.Destination, arch = r.Arch,
                arch_config = JsonDocument.Parse(r.ConfigJson).RootElement, tensors = r.Tensors, parameters = r.Parameters,
                ignored = r.Ignored, metadata = r.Metadata,
            }));
        else
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Source} ({r.SourceFormat}) → {r.Destination}: {r.Arch}, {r.Tensors} tensors, {r.Parameters:N0} parameters"));
            Console.Out.WriteLine($"  config {r.ConfigJson}");
            Console.Out.WriteLine($"  source sha256 {r.Metadata["source_sha256"]}");
            if (r.Ignored.Count > 0) Console.Out.WriteLine($"  ignored {r.Ignored.Count} extra tensor(s): {string.Join(", ", r.Ignored.Take(8))}{(r.Ignored.Count > 8 ? ", …" : "")}");
        }
        return ExitCode.Ok;
    }
}
