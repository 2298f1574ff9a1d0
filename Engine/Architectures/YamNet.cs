using NativeASD.Engine.Layers;
using NativeASD.Kernels;

namespace NativeASD.Engine.Architectures;

/// <summary>
/// YAMNet (tensorflow/models research/audioset/yamnet): MobileNetV1 on a [96 frames × 64 mel] log-mel patch, TF
/// "SAME" padding, ReLU6, BatchNorm folded into the conv biases (as in the released TFLite model), 521 AudioSet classes.
/// Input [N, 1, 96, 64] (any frames/mel ≥ 32 work). Stages and taps:
/// <list type="table">
/// <item>layer1: conv3×3 stride 2, 32 channels, ReLU6</item>
/// <item>layer2 … layer14: depthwise 3×3 (strides 1,2,1,2,1,2,1,1,1,1,1,2,1) + ReLU6, pointwise 1×1 (64,128,128,256,256,512×6,1024,1024) + ReLU6</item>
/// <item>embedding: mean over the map → [N, 1024]</item>
/// <item>logits: fully connected → [N, 521]; scores: sigmoid</item>
/// </list>
/// Keys (YAMNet's layer names): layer1.conv.weight/bias, layerK.depthwise_conv.weight [C,1,3,3]/bias,
/// layerK.pointwise_conv.weight [O,C,1,1]/bias, logits.weight [521,1024]/bias. <see cref="YamNetConfig.Width"/> scales channels;
/// <see cref="YamNetConfig.Layers"/> &lt; 14 keeps the first layers only (the ST model zoo's yamnet_256: layer1 … layer6),
/// <see cref="YamNetConfig.Classes"/> = 0 drops logits and scores (the embedding is the output), and
/// <see cref="YamNetConfig.Relu6"/> = false uses ReLU as YAMNet's Keras code does (the released TFLite model clips at 6).
/// <para>Float arithmetic by default; <see cref="Int8Activations"/> emulates an int8 runtime (the released TFLite model)
/// by quantising the input and every activation an int8 graph stores (<see cref="FakeQuantize"/>).</para>
/// </summary>
public sealed class YamNet : TapModel
{
    /// <summary>(depthwise stride, pointwise width) of layer2 … layer14.</summary>
    public static readonly (int Stride, int Width)[] Blocks =
        [(1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512), (1, 512), (1, 512), (1, 512), (1, 512), (1, 512), (2, 1024), (1, 1024)];

    public YamNetConfig Config { get; }
    public int EmbeddingSize { get; }

    /// <summary>
    /// The points where an int8 runtime quantises activations, in order: input (the QUANTIZE of the patch), layer1,
    /// layerK.depthwise and layerK.pointwise (each conv + ReLU6 output), embedding (the MEAN), logits, scores.
    /// </summary>
    public IReadOnlyList<string> QuantizationPoints => [.. _quantizers.Select(q => q.Point)];

    readonly List<(string Point, FakeQuantize Layer)> _quantizers = [];

    public YamNet(YamNetConfig? config = null, IBackend? backend = null) : base(backend)
    {
        Config = config ?? new YamNetConfig();
        if (Config.Width <= 0 || Config.Classes < 0 || Config.Layers is < 1 or > 14) throw new ArgumentException($"YamNet: invalid configuration {Config}");
        // Quantisers have no parameters or buffers, so the state dict is the same with emulation on or off.
        FakeQuantize Q(ModuleGroup group, string child, string point)
        {
            var q = group.Add(child, new FakeQuantize(Backend));
            _quantizers.Add((point, q));
            return q;
        }

        var layer1 = AddChild("layer1", new ModuleGroup(Backend));
        int channels = Config.Channels(32);
        var input = Q(layer1, "input_quant", "input");
        var conv = layer1.Add("conv", YamNetLayers.Conv(1, channels, 3, 2, groups: 1, Backend));
        var relu = layer1.Add("relu", Relu());
        AddStage("layer1", Stages.Chain(input, conv, relu, Q(layer1, "quant", "layer1")));

        for (int i = 0; i < Config.Layers - 1; i++)
        {
            var (stride, width) = Blocks[i];
            int outChannels = Config.Channels(width);
            string name = $"layer{i + 2}";
            var layer = AddChild(name, new ModuleGroup(Backend));
            var dw = layer.Add("depthwise_conv", YamNetLayers.Conv(channels, channels, 3, stride, groups: channels, Backend));
            var dwRelu = layer.Add("depthwise_relu", Relu());
            var dwQuant = Q(layer, "depthwise_quant", $"{name}.depthwise");
            var pw = layer.Add("pointwise_conv", YamNetLayers.Conv(channels, outChannels, 1, 1, groups: 1, Backend));
            var pwRelu = layer.Add("pointwise_relu", Relu());
            AddStage(name, Stages.Chain(dw, dwRelu, dwQuant, pw, pwRelu, Q(layer, "pointwise_quant", $"{name}.pointwise")));
            channels = outChannels;
        }
        EmbeddingSize = channels;
        var heads = AddChild("quant", new ModuleGroup(Backend));
        AddStage("embedding", Stages.Chain(AddChild("pool", new GlobalPool([2, 3], PoolMode.Mean, backend: Backend)), Q(heads, "embedding", "embedding")));
        if (Config.Classes == 0) return;
        AddStage("logits", Stages.Chain(AddChild("logits", new Linear(channels, Config.Classes, backend: Backend)), Q(heads, "logits", "logits")));
        AddStage("scores", Stages.Chain(AddChild("sigmoid", new Sigmoid(Backend)), Q(heads, "scores", "scores")));
    }

    Activation Relu() => Config.Relu6 ? new ReLU6(Backend) : new ReLU(Backend);

    /// <summary>
    /// Int8 activation emulation: the quantisation of every point in <see cref="QuantizationPoints"/> (all of them), as
    /// an int8 TFLite model stores it; null (the default) computes in float throughout.
    /// </summary>
    public IReadOnlyDictionary<string, ActivationQuantization>? Int8Activations
    {
        get => _quantizers[0].Layer.Quantization is null ? null : _quantizers.ToDictionary(q => q.Point, q => q.Layer.Quantization!.Value);
        set
        {
            if (value is not null)
            {
                var missing = QuantizationPoints.Where(k => !value.ContainsKey(k)).ToList();
                var unknown = value.Keys.Where(k => !QuantizationPoints.Contains(k)).ToList();
                if (missing.Count > 0 || unknown.Count > 0)
                    throw new ArgumentException($"{Describe()}: activation quantisation {(missing.Count > 0 ? $"misses {string.Join(", ", missing)}" : "")}{(unknown.Count > 0 ? $" has unknown points {string.Join(", ", unknown)}" : "")}");
                foreach (var (point, q) in value)
                    if (!(q.Scale > 0 && float.IsFinite(q.Scale)) || q.ZeroPoint is < ActivationQuantization.Min or > ActivationQuantization.Max)
                        throw new ArgumentException($"{Describe()}: activation quantisation of {point} has scale {q.Scale}, zero point {q.ZeroPoint}");
            }
            foreach (var (point, layer) in _quantizers) layer.Quantization = value?[point];
        }
    }

    public override string Describe() => $"YamNet({(Config.Width != 1.0 ? $"width {Config.Width}, " : "")}{(Config.Layers != 14 ? $"{Config.Layers} layers, " : "")}{(Config.Relu6 ? "" : "ReLU, ")}{Config.Classes} classes{(Int8Activations is not null ? ", int8 activations" : "")})";

    protected override void CheckInput(Tensor x)
    {
        if (x.Rank != 4 || x.Dim(1) != 1 || x.Dim(2) < 32 || x.Dim(3) < 32)
            throw new ArgumentException($"{Describe()}: input must be log-mel patches [N, 1, frames ≥ 32, mel ≥ 32] (YAMNet: [N, 1, 96, 64]), got {Layout.Format(x.Shape)}");
    }

    public void Load(IEnumerable<NamedTensor> tensors, string source, string? stripPrefix = null) =>
        StateDict.Load(this, tensors, source, stripPrefix);
}

/// <param name="Layers">layer1 … layerK kept (1–14).</param>
/// <param name="Relu6">ReLU6 after every conv (the TFLite model), else ReLU (YAMNet's Keras code).</param>
public sealed record YamNetConfig(double Width = 1.0, int Classes = 521, int Layers = 14, bool Relu6 = true)
{
    public int Channels(int full) => Math.Max(1, (int)Math.Round(full * Width, MidpointRounding.ToEven));
}

static class YamNetLayers
{
    /// <summary>k×k conv with bias and TF "SAME" padding (the extra row/column after).</summary>
    public static Conv2d Conv(int inChannels, int outChannels, int k, int stride, int groups, IBackend backend) =>
        new(inChannels, outChannels, (k, k), (stride, stride), ConvPadding.Same, (1, 1), groups, bias: true, backend: backend);
}
