using System.Text.Json;
using NativeASD.Engine.Frontend;
using NativeASD.Engine.Models;
using NativeASD.Engine.Models.Panns;
using NativeASD.Kernels;
using NativeASD.Weights.Mapping;

namespace NativeASD.Weights.Models;

/// <summary>A network built from a weight file: the model (weights loaded, evaluation mode), its architecture name and its frontend.</summary>
public sealed class LoadedModel(TapModel model, string arch, FrontendPreset frontend, string source) : IDisposable
{
    public TapModel Model { get; } = model;
    /// <summary>panns-resnet22, panns-resnet38, yamnet or honk-res8.</summary>
    public string Arch { get; } = arch;
    /// <summary>The frontend preset the model was trained with.</summary>
    public FrontendPreset Frontend { get; } = frontend;
    public string Source { get; } = source;

    /// <summary>The classifier output: PANNs clipwise_output (sigmoid), YAMNet scores (sigmoid), honk logits.</summary>
    public string ClassifierTap => Model switch
    {
        PannsResNet => "clipwise_output",
        YamNet => "scores",
        _ => "logits",
    };

    public void Dispose() => Model.Dispose();
}

/// <summary>
/// Opens any supported weight file (torch zip/legacy, safetensors, TFLite, …), finds the architecture (from
/// <paramref name="arch"/> or the tensor names, see <see cref="ArchitectureMappings"/>), builds the matching
/// <see cref="TapModel"/> and loads the weights by state-dict name, strictly.
/// </summary>
public static class ModelFiles
{
    public static LoadedModel Load(string path, IBackend? backend = null, string? arch = null)
    {
        using var source = WeightFiles.Open(path);
        var mapping = arch is null ? ArchitectureMappings.Detect(source) : ArchitectureMappings.Get(path, arch);
        var mapped = mapping.Map(source, allowExtra: false);
        var tensors = mapped.Tensors.Select(t => new NamedTensor(t.Name, t.Shape, t.Read, t.ReadRange)).ToList();
        using var config = JsonDocument.Parse(mapped.ConfigJson);
        var c = config.RootElement;
        TapModel model = mapped.Arch switch
        {
            "panns-resnet22" or "panns-resnet38" => Panns(path, c, backend),
            "yamnet" => new YamNet(new YamNetConfig(c.GetProperty("width").GetDouble(), c.GetProperty("classes").GetInt32()), backend),
            "honk-res8" => new HonkRes(new HonkResConfig(Maps: c.GetProperty("channels").GetInt32(), Layers: c.GetProperty("layers").GetInt32(),
                Classes: c.GetProperty("classes").GetInt32(), Scales: c.GetProperty("scales").GetBoolean()), backend),
            _ => throw new WeightFormatException(path, $"no network is built for architecture '{mapped.Arch}'"),
        };
        try
        {
            if (model is PannsResNet panns) panns.Load(tensors, path);
            else StateDict.Load(model, tensors, path);
        }
        catch (InvalidDataException e)
        {
            model.Dispose();
            throw new WeightFormatException(path, e.Message, e);
        }
        model.Eval();
        return new LoadedModel(model, mapped.Arch, FrontendPreset.Get(mapped.FrontendPreset), path);
    }

    /// <summary>PANNs widths must be one multiplier of the published ones (64/128/256/512, 2048).</summary>
    static PannsResNet Panns(string path, JsonElement c, IBackend? backend)
    {
        int[] blocks = c.GetProperty("blocks").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        int[] widths = c.GetProperty("widths").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var config = new PannsConfig(blocks, Width: widths[0] / 64.0, MelBins: c.GetProperty("mel_bins").GetInt32(), Classes: c.GetProperty("classes").GetInt32());
        int[] expected = [config.Channels(64), config.Channels(128), config.Channels(256), config.Channels(512)];
        if (!widths.SequenceEqual(expected) || c.GetProperty("embedding").GetInt32() != config.Channels(2048) || c.GetProperty("hidden").GetInt32() != config.Channels(2048))
            throw new WeightFormatException(path, $"PANNs widths [{string.Join(",", widths)}], embedding {c.GetProperty("embedding")}, hidden {c.GetProperty("hidden")} are not one width multiplier of 64/128/256/512/2048");
        return new PannsResNet(config, backend);
    }
}
