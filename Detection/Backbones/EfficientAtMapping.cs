using NativeASD.Engine.Architectures;
using NativeASD.Weights;

namespace NativeASD.Detection.Backbones;

/// <summary>EfficientAT MobileNetV3 hyper-parameters as a mapping reads them: width multiplier and classes.</summary>
public sealed record EfficientAtMappingConfig(double Width = 0.4, int Classes = 527);

/// <summary>
/// EfficientAT MobileNetV3 state dicts (fschmid56/EfficientAT, e.g. mn04_as_mAP_432.pt; head_type 'mlp', channel
/// squeeze-and-excitation), keys as-is. The width is read from the file (the MLP head's hidden units are 1280·width,
/// classifier.2.weight [1280w, 6·160w]) and the classes from classifier.5.weight; every other tensor must then have the
/// name and shape <see cref="EfficientAtMn"/> has at that width, BatchNorm num_batches_tracked included.
/// </summary>
public sealed class EfficientAtMapping : IArchitectureMapping
{
    public string Arch => "efficientat-mn";

    public bool Recognises(IWeightSource s) =>
        StrictMatch.Has(s, "features.0.0.weight") && StrictMatch.Has(s, "features.1.block.0.0.weight")
        && StrictMatch.Has(s, "features.16.0.weight") && StrictMatch.Has(s, "classifier.5.weight");

    public MappedWeights Map(IWeightSource source, bool allowExtra)
    {
        var config = new EfficientAtMappingConfig(StrictMatch.Dim(source, "classifier.2.weight", 0, 512) / 1280.0, StrictMatch.Dim(source, "classifier.5.weight", 0, 527));
        return StrictMatch.AsIs(source, Arch, config, "efficientat", Expected(config), allowExtra);
    }

    /// <summary>Every parameter and buffer of the network at this width, in network order (taken from the network itself).</summary>
    public static List<ExpectedTensor> Expected(EfficientAtMappingConfig c)
    {
        using var model = new EfficientAtMn(new EfficientAtConfig(c.Width, c.Classes));
        return [.. StateDict.Entries(model).Select(e => new ExpectedTensor(e.Name, e.Tensor.ShapeArray()))];
    }
}
