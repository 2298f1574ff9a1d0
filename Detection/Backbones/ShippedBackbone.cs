namespace NativeASD.Detection.Backbones;

/// <summary>
/// The pretrained ResNet that ships with NativeASD (Detection/Backbones/nasd-resnet-small.safetensors, copied next to the
/// program): the default backbone of <c>fit</c>, <c>eval</c> and <c>demo</c> for the metric detector. Its provenance is in
/// Detection/Backbones/README.md; <see cref="DefaultTaps"/> were chosen on development machines (synth seed 7) that are
/// neither in its pretraining corpus nor in any benchmark.
/// </summary>
public static class ShippedBackbone
{
    public const string FileName = "nasd-resnet-small.safetensors";

    /// <summary>The taps whose features the detectors use by default.</summary>
    public static readonly IReadOnlyList<string> DefaultTaps = ["layer3", "layer4"];

    /// <summary>Where the shipped file is: next to the program (NASD_SHIPPED_BACKBONE overrides).</summary>
    public static string Path => Environment.GetEnvironmentVariable("NASD_SHIPPED_BACKBONE") is { Length: > 0 } overridden
        ? overridden
        : System.IO.Path.Combine(AppContext.BaseDirectory, FileName);

    /// <summary>The shipped file's path, or a clear error when the installation lacks it.</summary>
    public static string Locate()
    {
        string path = Path;
        return File.Exists(path) ? path
            : throw new FileNotFoundException($"{path}: the shipped backbone is missing from this installation; pass --backbone W (another weight file) or --backbone none (log-mel features)", path);
    }
}
