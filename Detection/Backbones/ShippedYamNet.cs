namespace NativeASD.Detection.Backbones;

/// <summary>
/// Google's YAMNet (AudioSet) as the int8-weight TFLite file of google-coral/coralmicro, shipped unmodified
/// (Detection/Backbones/yamnet_spectra_in.tflite, Apache-2.0, LICENSE-yamnet.txt beside it) and copied next to the
/// program: <c>--backbone yamnet</c>, the default backbone of the default detector. Its weights run with float
/// activations and its default tap was chosen on development data (docs/detectors.md).
/// </summary>
public static class ShippedYamNet
{
    /// <summary>The name <c>--backbone</c> takes for it.</summary>
    public const string Name = "yamnet";

    /// <summary>
    /// The file, its default tap and float activations (<see cref="ShippedBackbone.Named"/> resolves the name). Tap
    /// layer10 (512 channels): Mahalanobis on it beat layer14 (the default before), layer12 and every other variant
    /// studied on the real dev sets and synth seeds 2/3 (docs/default-detector-studies.md).
    /// </summary>
    public static readonly ShippedFile File = new(Name, "yamnet_spectra_in.tflite", ["layer10"], FloatActivations: true);
}
