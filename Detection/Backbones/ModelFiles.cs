using System.Text.Json;
using NativeASD.Engine.Frontend;
using NativeASD.Engine.Architectures;
using NativeASD.Engine.Architectures.Panns;
using NativeASD.Kernels;
using NativeASD.Weights;

namespace NativeASD.Detection.Backbones;

/// <summary>A network built from a weight file: the model (weights loaded, evaluation mode), its architecture name and its frontend.</summary>
public sealed class LoadedModel(TapModel model, string arch, FrontendPreset frontend, string source, IReadOnlyDictionary<string, string>? metadata = null) : IDisposable
{
    /// <summary>The file's string metadata (labels and provenance of pretrained files, conversion facts, …).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; } = metadata ?? new Dictionary<string, string>();

    public TapModel Model { get; } = model;
    /// <summary>panns-resnet22, panns-resnet38, yamnet, honk-res8, miniresnet, miniresnetv2 or efficientat-mn.</summary>
    public string Arch { get; } = arch;
    /// <summary>The frontend preset the model was trained with.</summary>
    public FrontendPreset Frontend { get; } = frontend;
    public string Source { get; } = source;

    /// <summary>Whether the network emulates an int8 runtime's activations (a model converted from an int8 file, unless turned off).</summary>
    public bool Int8Activations => Model is YamNet { Int8Activations: not null };

    /// <summary>The classifier output: PANNs clipwise_output (sigmoid), YAMNet and EfficientAT scores (sigmoid), honk logits; null for a backbone without one (MiniResNet, yamnet_256).</summary>
    public string? ClassifierTap => Model switch
    {
        PannsResNet => "clipwise_output",
        YamNet { Config.Classes: 0 } or MiniResNet => null,
        YamNet or EfficientAtMn => "scores",
        _ => "logits",
    };

    public void Dispose() => Model.Dispose();
}

/// <summary>A dcase-ae autoencoder built from a weight file: the network (evaluation mode), its configuration and its frontend (dcase2020).</summary>
public sealed class LoadedAutoencoder(DenseAutoencoder network, DcaseAutoencoderConfig config, FrontendPreset frontend, string source) : IDisposable
{
    public DenseAutoencoder Network { get; } = network;
    public DcaseAutoencoderConfig Config { get; } = config;
    public FrontendPreset Frontend { get; } = frontend;
    public string Source { get; } = source;

    public void Dispose() => Network.Dispose();
}

/// <summary>
/// Opens any supported weight file (torch zip/legacy, safetensors, TFLite, …), finds the architecture (from
/// <paramref name="arch"/> or the tensor names, see <see cref="ArchitectureMappings"/>), builds the matching
/// <see cref="TapModel"/> and loads the weights by state-dict name, strictly.
/// </summary>
public static class ModelFiles
{
    /// <param name="int8Activations">
    /// For a model converted from an int8 file (YAMNet's TFLite, or its converted safetensors with int8_activations
    /// metadata): emulate the int8 runtime's activation quantisation (<see cref="YamNet.Int8Activations"/>); false
    /// computes in float on the dequantised weights. Ignored for float models.
    /// </param>
    public static LoadedModel Load(string path, IBackend? backend = null, string? arch = null, bool int8Activations = true)
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
            "yamnet" => new YamNet(new YamNetConfig(c.GetProperty("width").GetDouble(), c.GetProperty("classes").GetInt32(),
                c.TryGetProperty("layers", out var layers) ? layers.GetInt32() : 14, !c.TryGetProperty("relu6", out var relu6) || relu6.GetBoolean()), backend),
            "miniresnet" or "miniresnetv2" => new MiniResNet(JsonSerializer.Deserialize<MiniResNetConfig>(mapped.ConfigJson, SnakeCase)!, backend),
            "honk-res8" => new HonkRes(new HonkResConfig(Maps: c.GetProperty("channels").GetInt32(), Layers: c.GetProperty("layers").GetInt32(),
                Classes: c.GetProperty("classes").GetInt32(), Scales: c.GetProperty("scales").GetBoolean()), backend),
            "efficientat-mn" => EfficientAt(path, c, backend),
            "dcase-ae" => throw new WeightFormatException(path, "a dcase-ae autoencoder has no taps or classes; it scores clips as a detector (nasd fit --detector ae --init FILE) or loads with ModelFiles.LoadAutoencoder"),
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
        if (int8Activations && model is YamNet yamnet && mapped.Metadata?.GetValueOrDefault(YamNetMapping.Int8Key) is string int8)
        {
            try { yamnet.Int8Activations = YamNetMapping.ParseInt8(path, int8); }
            catch (ArgumentException e)
            {
                model.Dispose();
                throw new WeightFormatException(path, e.Message, e);
            }
        }
        model.Eval();
        // A file we wrote records its frontend (convert --frontend may have overridden the mapping's choice).
        string frontend = source.Metadata.TryGetValue("frontend", out var recorded) ? recorded : mapped.FrontendPreset;
        FrontendPreset preset;
        try { preset = FrontendPreset.Get(frontend); }
        catch (ArgumentException e)
        {
            model.Dispose();
            throw new WeightFormatException(path, $"metadata names frontend '{frontend}': {e.Message}", e);
        }
        return new LoadedModel(model, mapped.Arch, preset, path, source.Metadata.ToDictionary());
    }

    /// <summary>
    /// A dcase-ae file (Keras ad01.h5, its folded TFLite, or their nasd convert safetensors) as a
    /// <see cref="DenseAutoencoder"/> in evaluation mode; <see cref="DenseAutoencoder.RowErrors"/> then gives each
    /// 640-d vector's mean squared reconstruction error.
    /// </summary>
    public static LoadedAutoencoder LoadAutoencoder(string path, IBackend? backend = null)
    {
        using var source = WeightFiles.Open(path);
        var mapped = ArchitectureMappings.Get(path, "dcase-ae").Map(source, allowExtra: false);
        var c = JsonSerializer.Deserialize<DcaseAutoencoderConfig>(mapped.ConfigJson, SnakeCase)!;
        var tensors = mapped.Tensors.Select(t => new NamedTensor(t.Name, t.Shape, t.Read)).ToList();
        var net = new DenseAutoencoder(c.Inputs, c.Hidden, c.Bottleneck, c.HiddenLayers, (float)c.BnEps, backend: backend);
        try { StateDict.Load(net, tensors, path); }
        catch (InvalidDataException e)
        {
            net.Dispose();
            throw new WeightFormatException(path, e.Message, e);
        }
        net.Eval();
        return new LoadedAutoencoder(net, c, FrontendPreset.Get(mapped.FrontendPreset), path);
    }

    static readonly JsonSerializerOptions SnakeCase = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>EfficientAT's width must give whole channel counts (the mapping has checked every shape against it).</summary>
    static EfficientAtMn EfficientAt(string path, JsonElement c, IBackend? backend)
    {
        double width = c.GetProperty("width").GetDouble();
        if (!(width > 0 && width <= 16)) throw new WeightFormatException(path, $"EfficientAT width {width} is outside (0, 16]");
        return new EfficientAtMn(new EfficientAtConfig(width, c.GetProperty("classes").GetInt32()), backend);
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
