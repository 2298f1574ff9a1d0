using NativeASD.Weights;
namespace NativeASD.Detection.Backbones;

/// <summary>honk res8 hyper-parameters: feature maps (45 for res8, 19 for res8-narrow), output classes, and whether the per-channel scale layers exist.</summary>
public sealed record HonkRes8Config(int Channels = 45, int Classes = 12, int Layers = 6, bool Scales = true);

/// <summary>
/// honk res8 (Tang &amp; Lin 2018) state dicts, keys as-is: conv0 [C,1,3,3]; bn1…bn6 without affine (running
/// statistics only); conv1…conv6 [C,C,3,3]; optional scale1/3/5.scale [C] (all or none); output.weight/bias.
/// </summary>
public sealed class HonkRes8Mapping : IArchitectureMapping
{
    public string Arch => "honk-res8";

    public bool Recognises(IWeightSource s) =>
        StrictMatch.Has(s, "conv0.weight") && StrictMatch.Has(s, "conv6.weight") && !StrictMatch.Has(s, "conv7.weight") && StrictMatch.Has(s, "output.weight");

    public MappedWeights Map(IWeightSource source, bool allowExtra)
    {
        var config = new HonkRes8Config(
            Channels: StrictMatch.Dim(source, "conv0.weight", 0, 45),
            Classes: StrictMatch.Dim(source, "output.weight", 0, 12),
            Scales: StrictMatch.Has(source, "scale1.scale"));
        return StrictMatch.AsIs(source, Arch, config, "honk", Expected(config), allowExtra);
    }

    public static List<ExpectedTensor> Expected(HonkRes8Config c)
    {
        var list = new List<ExpectedTensor> { new("conv0.weight", [c.Channels, 1, 3, 3]) };
        for (int i = 1; i <= c.Layers; i++)
        {
            list.Add(new($"bn{i}.running_mean", [c.Channels]));
            list.Add(new($"bn{i}.running_var", [c.Channels]));
            list.Add(new($"bn{i}.num_batches_tracked", []));
            if (c.Scales && i % 2 == 1) list.Add(new($"scale{i}.scale", [c.Channels]));
            list.Add(new($"conv{i}.weight", [c.Channels, c.Channels, 3, 3]));
        }
        list.Add(new("output.weight", [c.Classes, c.Channels]));
        list.Add(new("output.bias", [c.Classes]));
        return list;
    }
}
