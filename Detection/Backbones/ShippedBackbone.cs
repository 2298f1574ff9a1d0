namespace NativeASD.Detection.Backbones;

/// <summary>
/// One pretrained network file that ships with NativeASD: its <c>--backbone</c> name, file name, default taps, and
/// whether an int8 file's weights run with float activations.
/// </summary>
public sealed record ShippedFile(string Name, string FileName, IReadOnlyList<string> DefaultTaps, bool FloatActivations = false)
{
    /// <summary>Where the file is: next to the program.</summary>
    public string Path => System.IO.Path.Combine(AppContext.BaseDirectory, FileName);
}

/// <summary>
/// The pretrained ResNet that ships with NativeASD (Detection/Backbones/nasd-resnet-small.safetensors, copied next to
/// the program), named <c>shipped</c> or <c>shipped-v1</c>: the default backbone of <c>fit</c>, <c>eval</c> and
/// <c>demo</c> for the metric detector. Provenance in Detection/Backbones/README.md (also why the distilled v2 is not
/// shipped); its default taps were chosen on development machines that are in no reported benchmark.
/// </summary>
public static class ShippedBackbone
{
    public static readonly ShippedFile V1 = new("shipped-v1", "nasd-resnet-small.safetensors", ["layer3", "layer4"]);

    /// <summary>What <c>--backbone shipped</c> means.</summary>
    public static ShippedFile Chosen => V1;

    /// <summary>The shipped file a <c>--backbone</c> value names (shipped, shipped-v1, yamnet), or null for anything else.</summary>
    public static ShippedFile? Named(string name) => name switch
    {
        "shipped" => Chosen,
        "shipped-v1" => V1,
        ShippedYamNet.Name => ShippedYamNet.File,
        _ => null,
    };

    public static string FileName => Chosen.FileName;

    /// <summary>The taps whose features the detectors use by default on <see cref="Chosen"/>.</summary>
    public static IReadOnlyList<string> DefaultTaps => Chosen.DefaultTaps;

    /// <summary>Where the chosen file is: next to the program (NASD_SHIPPED_BACKBONE overrides).</summary>
    public static string Path => Environment.GetEnvironmentVariable("NASD_SHIPPED_BACKBONE") is { Length: > 0 } overridden
        ? overridden
        : Chosen.Path;

    /// <summary>The chosen file's path, or a clear error when the installation lacks it.</summary>
    public static string Locate() => Locate(Path);

    /// <summary>A shipped file's path (the chosen one honours NASD_SHIPPED_BACKBONE), or a clear error when the installation lacks it.</summary>
    public static string Locate(ShippedFile file) => Locate(file == Chosen ? Path : file.Path);

    static string Locate(string path) => File.Exists(path) ? path
        : throw new FileNotFoundException($"{path}: the shipped backbone is missing from this installation; pass --backbone W (another weight file) or --backbone none (log-mel features)", path);
}
