using NativeASD.Engine.Layers;
using NativeASD.Kernels;

namespace NativeASD.Engine.Models;

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
/// layerK.pointwise_conv.weight [O,C,1,1]/bias, logits.weight [521,1024]/bias. <see cref="YamNetConfig.Width"/> scales channels.
/// </summary>
public sealed class YamNet : TapModel
{
    /// <summary>(depthwise stride, pointwise width) of layer2 … layer14.</summary>
    public static readonly (int Stride, int Width)[] Blocks =
        [(1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512), (1, 512), (1, 512), (1, 512), (1, 512), (1, 512), (2, 1024), (1, 1024)];

    public YamNetConfig Config { get; }
    public int EmbeddingSize { get; }

    public YamNet(YamNetConfig? config = null, IBackend? backend = null) : base(backend)
    {
        Config = config ?? new YamNetConfig();
        if (Config.Width <= 0 || Config.Classes < 1) throw new ArgumentException($"YamNet: invalid configuration {Config}");

        var layer1 = AddChild("layer1", new ModuleGroup(Backend));
        int channels = Config.Channels(32);
        var conv = layer1.Add("conv", YamNetLayers.Conv(1, channels, 3, 2, groups: 1, Backend));
        var relu = layer1.Add("relu", new ReLU6(Backend));
        AddStage("layer1", Stages.Chain(conv, relu));

        for (int i = 0; i < Blocks.Length; i++)
        {
            var (stride, width) = Blocks[i];
            int outChannels = Config.Channels(width);
            var layer = AddChild($"layer{i + 2}", new ModuleGroup(Backend));
            var dw = layer.Add("depthwise_conv", YamNetLayers.Conv(channels, channels, 3, stride, groups: channels, Backend));
            var dwRelu = layer.Add("depthwise_relu", new ReLU6(Backend));
            var pw = layer.Add("pointwise_conv", YamNetLayers.Conv(channels, outChannels, 1, 1, groups: 1, Backend));
            var pwRelu = layer.Add("pointwise_relu", new ReLU6(Backend));
            AddStage($"layer{i + 2}", Stages.Chain(dw, dwRelu, pw, pwRelu));
            channels = outChannels;
        }
        EmbeddingSize = channels;
        AddStage("embedding", Stages.Chain(AddChild("pool", new GlobalPool([2, 3], PoolMode.Mean, backend: Backend))));
        AddStage("logits", Stages.Chain(AddChild("logits", new Linear(channels, Config.Classes, backend: Backend))));
        AddStage("scores", Stages.Chain(AddChild("sigmoid", new Sigmoid(Backend))));
    }

    public override string Describe() => $"YamNet({(Config.Width != 1.0 ? $"width {Config.Width}, " : "")}{Config.Classes} classes)";

    protected override void CheckInput(Tensor x)
    {
        if (x.Rank != 4 || x.Dim(1) != 1 || x.Dim(2) < 32 || x.Dim(3) < 32)
            throw new ArgumentException($"{Describe()}: input must be log-mel patches [N, 1, frames ≥ 32, mel ≥ 32] (YAMNet: [N, 1, 96, 64]), got {Layout.Format(x.Shape)}");
    }

    public void Load(IEnumerable<NamedTensor> tensors, string source, string? stripPrefix = null) =>
        StateDict.Load(this, tensors, source, stripPrefix);
}

public sealed record YamNetConfig(double Width = 1.0, int Classes = 521)
{
    public int Channels(int full) => Math.Max(1, (int)Math.Round(full * Width, MidpointRounding.ToEven));
}

static class YamNetLayers
{
    /// <summary>k×k conv with bias and TF "SAME" padding (the extra row/column after).</summary>
    public static Conv2d Conv(int inChannels, int outChannels, int k, int stride, int groups, IBackend backend) =>
        new(inChannels, outChannels, (k, k), (stride, stride), ConvPadding.Same, (1, 1), groups, bias: true, backend: backend);
}
