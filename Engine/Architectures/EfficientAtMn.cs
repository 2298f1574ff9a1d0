using NativeASD.Engine.Layers;
using NativeASD.Kernels;

namespace NativeASD.Engine.Architectures;

/// <summary>
/// Configuration of an EfficientAT MobileNetV3 (Schmid, Koutini &amp; Widmer, ICASSP 2023; fschmid56/EfficientAT
/// models/mn): <see cref="Width"/> scales every channel count (mn04 = 0.4), rounded as the published code does
/// (<see cref="MakeDivisible"/>); <see cref="Dropout"/> is the head's dropout (training mode only; 0 for
/// deterministic fine-tuning); <see cref="Seed"/> seeds its masks.
/// </summary>
public sealed record EfficientAtConfig(double Width = 0.4, int Classes = 527, float Dropout = 0.2f, ulong Seed = 0)
{
    /// <summary>
    /// MobileNetV3-Large's inverted residual settings at width 1 (the published _mobilenet_v3_conf with strides
    /// (2, 2, 2, 2), no dilation, no reduced tail): input, kernel, expanded and output channels, squeeze-and-excitation,
    /// Hardswish (else ReLU), depthwise stride.
    /// </summary>
    public static readonly (int In, int Kernel, int Expanded, int Out, bool Se, bool Hardswish, int Stride)[] Blocks =
    [
        (16, 3, 16, 16, false, false, 1),
        (16, 3, 64, 24, false, false, 2),
        (24, 3, 72, 24, false, false, 1),
        (24, 5, 72, 40, true, false, 2),
        (40, 5, 120, 40, true, false, 1),
        (40, 5, 120, 40, true, false, 1),
        (40, 3, 240, 80, false, true, 2),
        (80, 3, 200, 80, false, true, 1),
        (80, 3, 184, 80, false, true, 1),
        (80, 3, 184, 80, false, true, 1),
        (80, 3, 480, 112, true, true, 1),
        (112, 3, 672, 112, true, true, 1),
        (112, 5, 672, 160, true, true, 2),
        (160, 5, 960, 160, true, true, 1),
        (160, 5, 960, 160, true, true, 1),
    ];

    /// <summary>The squeeze-and-excitation bottleneck divisor (se_r).</summary>
    public const int SeReduction = 4;

    /// <summary>
    /// The TF-slim rounding the published code uses: the nearest multiple of <paramref name="divisor"/> (at least
    /// divisor), one step up when that falls more than 10 % below <paramref name="v"/>.
    /// </summary>
    public static int MakeDivisible(double v, int divisor = 8)
    {
        int rounded = Math.Max(divisor, (int)(v + divisor / 2.0) / divisor * divisor);
        return rounded < 0.9 * v ? rounded + divisor : rounded;
    }

    public int Channels(int full) => MakeDivisible(full * Width);

    /// <summary>Channels of the last 1×1 conv (features.16) and of the embedding: 6 × the last block's output.</summary>
    public int LastChannels => 6 * Channels(Blocks[^1].Out);

    /// <summary>Hidden units of the MLP head (classifier.2): 1280 at width 1.</summary>
    public int Hidden => Channels(1280);

    /// <summary>Squeeze-and-excitation bottleneck for a block of <paramref name="expanded"/> channels.</summary>
    public static int Squeeze(int expanded) => MakeDivisible(expanded / SeReduction);
}

/// <summary>
/// EfficientAT MobileNetV3 ("efficientat-mn", e.g. mn04_as: width 0.4, AudioSet, mAP 0.432), built as
/// get_model(width_mult, strides=(2,2,2,2), head_type='mlp', se_dims='c', se_agg='max', se_r=4) of the published code.
/// Input [N, 1, T, mel] (frames × 128 mel bins of the <c>efficientat</c> frontend), the engine's layout. The published
/// network runs on [mel, frames] images; here every stage runs on that layout internally (a transposed view, no copy)
/// and hands its output back as [N, C, T, F], so taps read like every other model's while the weights and arithmetic
/// stay exactly the original's. Stages and taps:
/// <list type="table">
/// <item>features.0: conv 3×3 stride 2 (1→16w), BatchNorm, Hardswish</item>
/// <item>features.1 … features.15: inverted residual blocks (<see cref="EfficientAtConfig.Blocks"/>): 1×1 expansion
/// (when it widens), depthwise k×k with the block's stride, channel squeeze-and-excitation (blocks 4–6, 11–15), linear
/// 1×1 projection, residual add when the shape is kept; ReLU in blocks 1–6, Hardswish after</item>
/// <item>features.16: conv 1×1 to 6 × 160w channels, BatchNorm, Hardswish → [N, 384, T/32, mel/32] at width 0.4</item>
/// <item>embedding: mean over time and frequency → [N, 384]</item>
/// <item>logits: Linear (classifier.2) → Hardswish → Dropout → Linear (classifier.5) → [N, 527]</item>
/// <item>scores: sigmoid of the logits</item>
/// </list>
/// Every conv before a BatchNorm has no bias; BatchNorm eps 0.001, momentum 0.01. Parameter and buffer names are the
/// published state dict's (features.4.block.2.conc_se_layers.0.fc1.weight, classifier.5.bias, …).
/// </summary>
public sealed class EfficientAtMn : TapModel
{
    public EfficientAtConfig Config { get; }

    /// <summary>Channels of the embedding (features.16's output).</summary>
    public int EmbeddingSize => Config.LastChannels;

    public EfficientAtMn(EfficientAtConfig? config = null, IBackend? backend = null) : base(backend)
    {
        Config = config ?? new EfficientAtConfig();
        if (!(Config.Width > 0) || Config.Classes < 1 || !(Config.Dropout is >= 0f and < 1f))
            throw new ArgumentException($"EfficientAtMn: invalid configuration {Config}");
        var c = Config;
        var features = AddChild("features", new ModuleGroup(Backend));
        int channels = c.Channels(EfficientAtConfig.Blocks[0].In);
        var stem = features.Add("0", ConvBnAct(1, channels, 3, 2, groups: 1, new Hardswish(Backend)));
        AddStage("features.0", OnMelFrames(stem));
        for (int i = 0; i < EfficientAtConfig.Blocks.Length; i++)
        {
            var b = EfficientAtConfig.Blocks[i];
            int expanded = c.Channels(b.Expanded), output = c.Channels(b.Out);
            Layer Act() => b.Hardswish ? new Hardswish(Backend) : new ReLU(Backend);
            var layers = new List<Layer>();
            if (expanded != channels) layers.Add(ConvBnAct(channels, expanded, 1, 1, groups: 1, Act()));
            layers.Add(ConvBnAct(expanded, expanded, b.Kernel, b.Stride, groups: expanded, Act()));
            if (b.Se) layers.Add(new ConcurrentSqueezeExcitation(expanded, EfficientAtConfig.Squeeze(expanded), Backend));
            layers.Add(ConvBnAct(expanded, output, 1, 1, groups: 1, activation: null));
            var block = new Sequential([.. layers.Select((l, k) => (k.ToString(), l))], Backend);
            var ir = features.Add($"{i + 1}", new InvertedResidual(block, residual: b.Stride == 1 && channels == output));
            AddStage($"features.{i + 1}", OnMelFrames(ir));
            channels = output;
        }
        var last = features.Add($"{EfficientAtConfig.Blocks.Length + 1}", ConvBnAct(channels, c.LastChannels, 1, 1, groups: 1, new Hardswish(Backend)));
        AddStage($"features.{EfficientAtConfig.Blocks.Length + 1}", OnMelFrames(last));

        AddStage("embedding", AddChild("pool", new GlobalPool([2, 3], PoolMode.Mean, backend: Backend)));
        var classifier = AddChild("classifier", new ModuleGroup(Backend));
        AddStage("logits", Stages.Chain(
            classifier.Add("2", new Linear(c.LastChannels, c.Hidden, backend: Backend)),
            classifier.Add("3", new Hardswish(Backend)),
            classifier.Add("4", new Dropout(c.Dropout, c.Seed, Backend)),
            classifier.Add("5", new Linear(c.Hidden, c.Classes, backend: Backend))));
        AddStage("scores", AddChild("sigmoid", new Sigmoid(Backend)));
    }

    /// <summary>torchvision's ConvNormActivation: k×k conv (padding (k−1)/2, no bias), BatchNorm2d, optional activation; children "0", "1", "2".</summary>
    Sequential ConvBnAct(int inChannels, int outChannels, int kernel, int stride, int groups, Layer? activation)
    {
        var conv = new Conv2d(inChannels, outChannels, kernel, stride, padding: (kernel - 1) / 2, groups: groups, bias: false, backend: Backend);
        var bn = new BatchNorm2d(outChannels, eps: 1e-3f, momentum: 0.01f, backend: Backend);
        return activation is null ? new Sequential(conv, bn) : new Sequential(conv, bn, activation);
    }

    /// <summary>
    /// A stage that takes and returns [N, C, T, F] while <paramref name="layer"/> computes on the published [N, C, F, T]
    /// layout: both directions are transposed views (the conv outputs stay contiguous in [N, C, F, T]).
    /// </summary>
    static (Func<Tensor, Tensor> Forward, Func<Tensor, Tensor> Backward) OnMelFrames(Layer layer) =>
        (x =>
        {
            using var melFirst = x.Transpose(2, 3);
            using var y = layer.Forward(melFirst);
            return y.Transpose(2, 3);
        },
        dy =>
        {
            using var melFirst = dy.Transpose(2, 3);
            using var dx = layer.Backward(melFirst);
            return dx.Transpose(2, 3);
        });

    public override string Describe() => $"EfficientAtMn(width {Config.Width}, {Config.Classes} classes)";

    protected override void CheckInput(Tensor x)
    {
        if (x.Rank != 4 || x.Dim(1) != 1 || x.Dim(2) < 1 || x.Dim(3) < 1)
            throw new ArgumentException($"{Describe()}: input must be log-mel spectrograms [N, 1, frames, mel] (efficientat frontend: 128 mel), got {Layout.Format(x.Shape)}");
    }
}
