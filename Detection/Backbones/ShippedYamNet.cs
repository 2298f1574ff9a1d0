namespace NativeASD.Detection.Backbones;

/// <summary>
/// Google's YAMNet (AudioSet) as the int8-weight TFLite file of google-coral/coralmicro, shipped unmodified
/// (Detection/Backbones/yamnet_spectra_in.tflite, Apache-2.0, LICENSE-yamnet.txt beside it) and copied next to the
/// program: <c>--backbone yamnet</c>, the default backbone of the default detector. Its weights run with float
/// activations and <see cref="DefaultTaps"/> was chosen on development data (docs/detectors.md).
/// </summary>
public static class ShippedYamNet
{
    /// <summary>The name <c>--backbone</c> takes for it.</summary>
    public const string Name = "yamnet";

    public const string FileName = "yamnet_spectra_in.tflite";

    /// <summary>The taps whose features the detectors use by default.</summary>
    public static readonly IReadOnlyList<string> DefaultTaps = ["layer14"];

    /// <summary>Where the shipped file is: next to the program.</summary>
    public static string Path => System.IO.Path.Combine(AppContext.BaseDirectory, FileName);

    /// <summary>The shipped file's path, or a clear error when the installation lacks it.</summary>
    public static string Locate() => File.Exists(Path) ? Path
        : throw new FileNotFoundException($"{Path}: the shipped YAMNet is missing from this installation; pass --backbone W (another weight file) or --backbone none (log-mel features)", Path);
}
