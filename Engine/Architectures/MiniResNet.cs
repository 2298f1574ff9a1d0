using NativeASD.Engine.Layers;
using NativeASD.Kernels;

namespace NativeASD.Engine.Architectures;

/// <summary>
/// MiniResNet hyper-parameters (ST model zoo, audio_event_detection): <paramref name="Version"/> 1 (post-activation
/// blocks, Keras ResNet "block1" without its third conv) or 2 (pre-activation, ResNetV2 "block2" without its third conv),
/// <paramref name="Stacks"/> stacks of <paramref name="Blocks"/> blocks, the first stack <paramref name="Width"/>
/// channels wide and each next one twice as wide; BatchNorm ε as the files have it (Keras ResNet's 1.001e-5).
/// </summary>
public sealed record MiniResNetConfig(int Version = 1, int Stacks = 2, int Blocks = 2, int Width = 64, double BnEps = 1.001e-5)
{
    /// <summary>Channels of stack <paramref name="stack"/> (0-based).</summary>
    public int Channels(int stack) => Width << stack;

    /// <summary>Stride of block <paramref name="block"/> (1-based) of a stack: v1 halves in the first block, v2 in the last.</summary>
    public int Stride(int block) => Version == 1 ? (block == 1 ? 2 : 1) : (block == Blocks ? 2 : 1);

    /// <summary>The stage/child name of a block, as Keras names its layers: conv2_block1 is stack 0, block 1.</summary>
    public static string BlockName(int stack, int block) => $"conv{stack + 2}_block{block}";

    /// <summary>
    /// Values in the network's parameters and BatchNorm statistics (num_batches_tracked aside), computed without building
    /// it: a loader compares it with what a file stores before allocating a network the file's config describes.
    /// Saturates at <see cref="long.MaxValue"/>.
    /// </summary>
    public long Values()
    {
        if (Stacks > 31) return long.MaxValue;    // widths Width·2^s beyond any int
        try
        {
            checked
            {
                long BatchNorm(long channels) => 4 * channels;
                long w = Width, total = 49 * w + w + (Version == 1 ? BatchNorm(w) : 0);
                long inChannels = w;
                for (int s = 0; s < Stacks; s++)
                {
                    long f = (long)Width << s;
                    for (int b = 1; b <= Blocks; b++)
                    {
                        long cin = b == 1 ? inChannels : f;
                        if (Version == 1)
                            total += (b == 1 ? cin * f + f + BatchNorm(f) : 0) + cin * f + f + BatchNorm(f) + 9 * f * f + f + BatchNorm(f);
                        else
                            total += BatchNorm(cin) + (b == 1 ? cin * f + f : 0) + cin * f + BatchNorm(f) + 9 * f * f;
                    }
                    inChannels = f;
                }
                return total + (Version == 2 ? BatchNorm(inChannels) : 0);
            }
        }
        catch (OverflowException) { return long.MaxValue; }
    }
}

/// <summary>
/// The ST model zoo's MiniResNet / MiniResNetV2 backbones (pre-trained on FSD50K), on st-aed log-mel patches.
/// Keras takes a patch as [mel, time]; this network takes ours, [N, 1, frames, mel], and every layer is transposed
/// with it (all kernels, strides and paddings are square, so each map is the Keras map with its two spatial axes
/// swapped: taps are [N, C, time, mel]).
/// <list type="table">
/// <item>conv1: conv 7×7 stride 2 pad 3 (+ BatchNorm + ReLU in v1; v2 leaves them to the first block's pre-activation)</item>
/// <item>pool1: zero padding 1, max pooling 3×3 stride 2 (Keras pools the zero-padded map)</item>
/// <item>convS_blockB: residual blocks, see <see cref="MiniResNetBlock"/> and <see cref="MiniResNetV2Block"/>; convS = the stack's last block</item>
/// <item>post (v2 only): BatchNorm + ReLU</item>
/// <item>embedding: mean over the map → [N, C] (the zoo's "pooled" backbones)</item>
/// </list>
/// Keys: conv1.weight/bias, conv1_bn.* (v1), convS_blockB.{conv0,bn0,preact_bn,conv1,bn1,conv2,bn2}.*, post_bn.* (v2).
/// </summary>
public sealed class MiniResNet : TapModel
{
    public MiniResNetConfig Config { get; }
    public int EmbeddingSize { get; }

    public MiniResNet(MiniResNetConfig? config = null, IBackend? backend = null) : base(backend)
    {
        Config = config ?? new MiniResNetConfig();
        var c = Config;
        if (c.Version is not (1 or 2) || c.Stacks < 1 || c.Blocks < (c.Version == 1 ? 1 : 2) || c.Width < 1 || !(c.BnEps > 0))
            throw new ArgumentException($"MiniResNet: invalid configuration {c}");
        float eps = (float)c.BnEps;

        var conv1 = AddChild("conv1", new Conv2d(1, c.Width, 7, stride: 2, padding: 3, bias: true, backend: Backend));
        if (c.Version == 1)
            AddStage("conv1", Stages.Chain(conv1, AddChild("conv1_bn", MiniResNetLayers.Bn(c.Width, eps, Backend)), AddChild("conv1_relu", new ReLU(Backend))));
        else AddStage("conv1", conv1);
        AddStage("pool1", Stages.Chain(AddChild("pool1_pad", new ZeroPad2d(1, Backend)), AddChild("pool1", new MaxPool2d(3, stride: 2, backend: Backend))));

        int channels = c.Width;
        for (int s = 0; s < c.Stacks; s++)
        {
            int width = c.Channels(s);
            for (int b = 1; b <= c.Blocks; b++)
            {
                string name = MiniResNetConfig.BlockName(s, b);
                Layer block = c.Version == 1
                    ? new MiniResNetBlock(channels, width, c.Stride(b), convShortcut: b == 1, eps, Backend)
                    : new MiniResNetV2Block(channels, width, c.Stride(b), b == 1 ? V2Shortcut.Conv : b == c.Blocks ? V2Shortcut.Pool : V2Shortcut.Identity, eps, Backend);
                AddStage(name, AddChild(name, block));
                channels = width;
            }
            AddAlias($"conv{s + 2}", MiniResNetConfig.BlockName(s, c.Blocks));
        }
        if (c.Version == 2)
            AddStage("post", Stages.Chain(AddChild("post_bn", MiniResNetLayers.Bn(channels, eps, Backend)), AddChild("post_relu", new ReLU(Backend))));
        EmbeddingSize = channels;
        AddStage("embedding", AddChild("pool", new GlobalPool([2, 3], PoolMode.Mean, backend: Backend)));
    }

    public override string Describe() => $"MiniResNet{(Config.Version == 2 ? "V2" : "")}({Config.Stacks} stacks × {Config.Blocks} blocks, width {Config.Width})";

    protected override void CheckInput(Tensor x)
    {
        if (x.Rank != 4 || x.Dim(1) != 1 || x.Dim(2) < 8 || x.Dim(3) < 8)
            throw new ArgumentException($"{Describe()}: input must be log-mel patches [N, 1, frames ≥ 8, mel ≥ 8] (st-aed: [N, 1, 50, 64]), got {Layout.Format(x.Shape)}");
    }
}

static class MiniResNetLayers
{
    /// <summary>Keras BatchNormalization: momentum 0.99 is torch's 0.01 (the weight of the new batch).</summary>
    public static BatchNorm2d Bn(int channels, float eps, IBackend backend) => new(channels, eps, momentum: 0.01f, backend: backend);
}

/// <summary>
/// MiniResNet v1 block (the zoo's block1_custom): shortcut = bn0(conv0(x)) (1×1, stride s; first block of a stack) or x;
/// h = ReLU(bn2(conv2(ReLU(bn1(conv1(x)))))) with conv1 1×1 stride s and conv2 3×3 pad 1, all convs with bias;
/// y = ReLU(h + shortcut). x [N, C, H, W] → [N, F, ⌈H/s⌉, ⌈W/s⌉].
/// </summary>
public sealed class MiniResNetBlock : Layer
{
    readonly Conv2d? _conv0;
    readonly BatchNorm2d? _bn0;
    readonly (Func<Tensor, Tensor> Forward, Func<Tensor, Tensor> Backward) _main;   // conv1 … relu2
    readonly ReLU _reluOut;

    public MiniResNetBlock(int inChannels, int filters, int stride, bool convShortcut, float eps, IBackend? backend = null) : base(backend)
    {
        if (!convShortcut && (stride != 1 || inChannels != filters))
            throw new ArgumentException($"MiniResNetBlock: an identity shortcut needs stride 1 and {inChannels} = {filters} channels");
        if (convShortcut)
        {
            _conv0 = AddChild("conv0", new Conv2d(inChannels, filters, 1, stride: stride, bias: true, backend: Backend));
            _bn0 = AddChild("bn0", MiniResNetLayers.Bn(filters, eps, Backend));
        }
        _main = Stages.Chain(
            AddChild("conv1", new Conv2d(inChannels, filters, 1, stride: stride, bias: true, backend: Backend)),
            AddChild("bn1", MiniResNetLayers.Bn(filters, eps, Backend)),
            AddChild("relu1", new ReLU(Backend)),
            AddChild("conv2", new Conv2d(filters, filters, 3, stride: 1, padding: 1, bias: true, backend: Backend)),
            AddChild("bn2", MiniResNetLayers.Bn(filters, eps, Backend)),
            AddChild("relu2", new ReLU(Backend)));
        _reluOut = AddChild("relu_out", new ReLU(Backend));
        Description = $"MiniResNetBlock({inChannels}→{filters}, stride {stride}{(convShortcut ? ", conv shortcut" : "")})";
    }

    string Description { get; }
    public override string Describe() => Description;

    public override Tensor Forward(Tensor x)
    {
        using var h = _main.Forward(x);
        using var shortcutConv = _conv0?.Forward(x);
        using var shortcut = _bn0 is null ? x.Share() : _bn0.Forward(shortcutConv!);
        if (!Layout.SameShape(h.Shape, shortcut.Shape))
            throw new ArgumentException($"{Describe()}: residual branch {Layout.Format(h.Shape)} and shortcut {Layout.Format(shortcut.Shape)} differ (input {Layout.Format(x.Shape)})");
        using var sum = Ops.Add(h, shortcut);
        return _reluOut.Forward(sum);
    }

    public override Tensor Backward(Tensor dy)
    {
        using var dsum = _reluOut.Backward(dy);
        using var dMain = _main.Backward(dsum);
        if (_conv0 is null) return Ops.Add(dMain, dsum);
        using var dShortcutConv = _bn0!.Backward(dsum);
        using var dShortcut = _conv0.Backward(dShortcutConv);
        return Ops.Add(dMain, dShortcut);
    }
}

/// <summary>The shortcut of a <see cref="MiniResNetV2Block"/>.</summary>
public enum V2Shortcut
{
    /// <summary>conv0 (1×1, bias) on the pre-activated input: the first block of a stack.</summary>
    Conv,
    /// <summary>Max pooling 1×1 with the block's stride on the raw input (every other pixel): the last block.</summary>
    Pool,
    /// <summary>The raw input.</summary>
    Identity,
}

/// <summary>
/// MiniResNetV2 block (Keras ResNetV2 block2 without its third conv): p = ReLU(preact_bn(x));
/// h = conv2(ReLU(bn1(conv1(p)))) with conv1 1×1 and conv2 3×3 zero-padded by 1 with stride s, both without bias;
/// y = h + shortcut (see <see cref="V2Shortcut"/>). x [N, C, H, W] → [N, F, ⌈H/s⌉, ⌈W/s⌉].
/// </summary>
public sealed class MiniResNetV2Block : Layer
{
    readonly (Func<Tensor, Tensor> Forward, Func<Tensor, Tensor> Backward) _preact, _main;   // preact_bn, relu; conv1 … conv2
    readonly Conv2d? _conv0;
    readonly MaxPool2d? _pool0;

    public V2Shortcut Shortcut { get; }

    public MiniResNetV2Block(int inChannels, int filters, int stride, V2Shortcut shortcut, float eps, IBackend? backend = null) : base(backend)
    {
        if (shortcut != V2Shortcut.Conv && inChannels != filters || shortcut == V2Shortcut.Identity && stride != 1)
            throw new ArgumentException($"MiniResNetV2Block: a {shortcut} shortcut cannot take {inChannels} channels to {filters} with stride {stride}");
        Shortcut = shortcut;
        _preact = Stages.Chain(AddChild("preact_bn", MiniResNetLayers.Bn(inChannels, eps, Backend)), AddChild("preact_relu", new ReLU(Backend)));
        if (shortcut == V2Shortcut.Conv) _conv0 = AddChild("conv0", new Conv2d(inChannels, filters, 1, stride: stride, bias: true, backend: Backend));
        if (shortcut == V2Shortcut.Pool) _pool0 = AddChild("pool0", new MaxPool2d(1, stride: stride, backend: Backend));
        _main = Stages.Chain(
            AddChild("conv1", new Conv2d(inChannels, filters, 1, bias: false, backend: Backend)),
            AddChild("bn1", MiniResNetLayers.Bn(filters, eps, Backend)),
            AddChild("relu1", new ReLU(Backend)),
            AddChild("conv2", new Conv2d(filters, filters, 3, stride: stride, padding: 1, bias: false, backend: Backend)));
        Description = $"MiniResNetV2Block({inChannels}→{filters}, stride {stride}, {shortcut.ToString().ToLowerInvariant()} shortcut)";
    }

    string Description { get; }
    public override string Describe() => Description;

    public override Tensor Forward(Tensor x)
    {
        using var p = _preact.Forward(x);
        using var h = _main.Forward(p);
        using var shortcut = Shortcut switch
        {
            V2Shortcut.Conv => _conv0!.Forward(p),
            V2Shortcut.Pool => _pool0!.Forward(x),
            _ => x.Share(),
        };
        if (!Layout.SameShape(h.Shape, shortcut.Shape))
            throw new ArgumentException($"{Describe()}: residual branch {Layout.Format(h.Shape)} and shortcut {Layout.Format(shortcut.Shape)} differ (input {Layout.Format(x.Shape)})");
        return Ops.Add(h, shortcut);
    }

    public override Tensor Backward(Tensor dy)
    {
        using var dpMain = _main.Backward(dy);
        using var dShortcut = Shortcut switch
        {
            V2Shortcut.Conv => _conv0!.Backward(dy),
            V2Shortcut.Pool => _pool0!.Backward(dy),
            _ => dy.Share(),
        };
        using var dp = Shortcut == V2Shortcut.Conv ? Ops.Add(dpMain, dShortcut) : dpMain.Share();
        using var dx = _preact.Backward(dp);
        return Shortcut == V2Shortcut.Conv ? dx.Share() : Ops.Add(dx, dShortcut);
    }
}
