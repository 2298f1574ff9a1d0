using NativeASD.Engine.Layers;
using NativeASD.Kernels;

namespace NativeASD.Engine.Architectures.Panns;

/// <summary>
/// PANNs' ConvBlock: (conv3×3, no bias → BatchNorm2d → ReLU) ×2, then average pooling (2×2 for conv_block1,
/// 1×1 = none for conv_block_after1). Keys: conv1.weight, bn1.*, conv2.weight, bn2.*.
/// x [N, Cin, H, W] → [N, Cout, H/p, W/p].
/// </summary>
public sealed class ConvBlock : Layer
{
    readonly Conv2d _conv1, _conv2;
    readonly BatchNorm2d _bn1, _bn2;
    readonly ReLU _relu1, _relu2;
    readonly AvgPool2d? _pool;

    public int InChannels { get; }
    public int OutChannels { get; }

    public ConvBlock(int inChannels, int outChannels, int pool, IBackend? backend = null) : base(backend)
    {
        (InChannels, OutChannels) = (inChannels, outChannels);
        _conv1 = AddChild("conv1", PannsLayers.Conv(inChannels, outChannels, 3, Backend));
        _conv2 = AddChild("conv2", PannsLayers.Conv(outChannels, outChannels, 3, Backend));
        _bn1 = AddChild("bn1", new BatchNorm2d(outChannels, backend: Backend));
        _bn2 = AddChild("bn2", new BatchNorm2d(outChannels, backend: Backend));
        _relu1 = AddChild("relu1", new ReLU(Backend));
        _relu2 = AddChild("relu2", new ReLU(Backend));
        if (pool > 1) _pool = AddChild("pool", PannsLayers.AvgPool(pool, Backend));
    }

    public override string Describe() => $"ConvBlock({InChannels}→{OutChannels})";

    public override Tensor Forward(Tensor x)
    {
        if (!Training)
        {
            // Evaluation: each conv → BN → ReLU is one fused op (the BN folded into the conv's output), one pass per map.
            var h = _conv1.ForwardFused(x, _bn1, null, relu: true);
            h = PannsLayers.Then(h, a => _conv2.ForwardFused(a, _bn2, null, relu: true));
            return _pool is null ? h : PannsLayers.Then(h, _pool.Forward);
        }
        var y = _conv1.Forward(x);
        y = PannsLayers.Then(y, _bn1.Forward);
        y = PannsLayers.Then(y, _relu1.Forward);
        y = PannsLayers.Then(y, _conv2.Forward);
        y = PannsLayers.Then(y, _bn2.Forward);
        y = PannsLayers.Then(y, _relu2.Forward);
        return _pool is null ? y : PannsLayers.Then(y, _pool.Forward);
    }

    public override Tensor Backward(Tensor dy)
    {
        using var df = _pool is null ? dy.Share() : _pool.Backward(dy);
        using var de = _relu2.Backward(df);
        using var dd = _bn2.Backward(de);
        using var dc = _conv2.Backward(dd);
        using var db = _relu1.Backward(dc);
        using var da = _bn1.Backward(db);
        return _conv1.Backward(da);
    }
}

/// <summary>
/// PANNs' BasicBlock (audioset_tagging_cnn _ResnetBasicBlock). A stride-2 block average-pools 2×2 BEFORE its first
/// conv (every conv is stride 1) and its shortcut is AvgPool2d(2) → conv1×1 → BatchNorm2d (keys downsample.1.weight,
/// downsample.2.*); a stride-1 block whose width changes uses conv1×1 → BN (downsample.0 / .1).
/// out = ReLU(bn2(conv2(dropout(ReLU(bn1(conv1(pool?(x)))))) + shortcut(x)).
/// </summary>
public sealed class BasicBlock : Layer
{
    readonly AvgPool2d? _pool;
    readonly Conv2d _conv1, _conv2;
    readonly BatchNorm2d _bn1, _bn2;
    readonly ReLU _relu1, _relu2;
    readonly Dropout? _dropout;
    readonly Sequential? _downsample;
    readonly Conv2d? _downConv;      // the shortcut's conv and BN (inside _downsample), fused in evaluation mode
    readonly BatchNorm2d? _downBn;

    public int InChannels { get; }
    public int OutChannels { get; }
    public int Stride { get; }

    public BasicBlock(int inChannels, int outChannels, int stride, float dropout, ulong seed, IBackend? backend = null) : base(backend)
    {
        if (stride is not (1 or 2)) throw new ArgumentException($"BasicBlock: stride must be 1 or 2, got {stride}");
        (InChannels, OutChannels, Stride) = (inChannels, outChannels, stride);
        if (stride == 2) _pool = AddChild("pool", PannsLayers.AvgPool(2, Backend));
        _conv1 = AddChild("conv1", PannsLayers.Conv(inChannels, outChannels, 3, Backend));
        _bn1 = AddChild("bn1", new BatchNorm2d(outChannels, backend: Backend));
        _relu1 = AddChild("relu1", new ReLU(Backend));
        if (dropout > 0f) _dropout = AddChild("dropout", new Dropout(dropout, seed, Backend));
        _conv2 = AddChild("conv2", PannsLayers.Conv(outChannels, outChannels, 3, Backend));
        _bn2 = AddChild("bn2", new BatchNorm2d(outChannels, backend: Backend));
        _relu2 = AddChild("relu2", new ReLU(Backend));
        if (stride == 1 && inChannels == outChannels) return;
        _downConv = PannsLayers.Conv(inChannels, outChannels, 1, Backend);
        _downBn = new BatchNorm2d(outChannels, backend: Backend);
        _downsample = AddChild("downsample", stride == 2
            ? new Sequential([("0", PannsLayers.AvgPool(2, Backend)), ("1", _downConv), ("2", _downBn)], Backend)
            : new Sequential([("0", _downConv), ("1", _downBn)], Backend));
    }

    public override string Describe() => $"BasicBlock({InChannels}→{OutChannels}, stride {Stride})";

    public override Tensor Forward(Tensor x)
    {
        if (!Training) return ForwardEval(x);
        var y = _pool is null ? x.Share() : _pool.Forward(x);
        y = PannsLayers.Then(y, _conv1.Forward);
        y = PannsLayers.Then(y, _bn1.Forward);
        y = PannsLayers.Then(y, _relu1.Forward);
        if (_dropout is not null) y = PannsLayers.Then(y, _dropout.Forward);
        y = PannsLayers.Then(y, _conv2.Forward);
        using var f = PannsLayers.Then(y, _bn2.Forward);
        using var identity = _downsample is null ? x.Share() : _downsample.Forward(x);
        if (!Layout.SameShape(f.Shape, identity.Shape))
            throw new ArgumentException($"{Describe()}: residual branch {Layout.Format(f.Shape)} and shortcut {Layout.Format(identity.Shape)} differ (input {Layout.Format(x.Shape)})");
        using var sum = Ops.Add(f, identity);
        return _relu2.Forward(sum);
    }

    /// <summary>
    /// Evaluation: conv1 → BN → ReLU fused, the shortcut (its conv1×1 → BN fused), then conv2 → BN → + shortcut → ReLU
    /// fused, so the block writes three maps instead of eight. A stride-2 block pools x once for both branches (the
    /// shortcut's AvgPool2d(2) is the same pooling of the same input). Dropout is the identity here.
    /// </summary>
    Tensor ForwardEval(Tensor x)
    {
        using var pooled = _pool is null ? x.Share() : _pool.Forward(x);
        using var h = _conv1.ForwardFused(pooled, _bn1, null, relu: true);
        using var identity = _downConv is null ? x.Share() : _downConv.ForwardFused(pooled, _downBn!, null, relu: false);
        return _conv2.ForwardFused(h, _bn2, identity, relu: true);
    }

    public override Tensor Backward(Tensor dy)
    {
        using var dsum = _relu2.Backward(dy);
        using var df = _bn2.Backward(dsum);
        using var de = _conv2.Backward(df);
        using var dd = _dropout is null ? de.Share() : _dropout.Backward(de);
        using var dc = _relu1.Backward(dd);
        using var db = _bn1.Backward(dc);
        using var da = _conv1.Backward(db);
        using var dp = _pool is null ? da.Share() : _pool.Backward(da);
        if (_downsample is null) return Ops.Add(dp, dsum);
        using var dIdentity = _downsample.Backward(dsum);
        return Ops.Add(dp, dIdentity);
    }
}

/// <summary>The conv and pool layers PANNs is built from, in one place.</summary>
static class PannsLayers
{
    /// <summary>k×k conv, stride 1, padding k/2, no bias (every conv in PANNs' ResNets).</summary>
    public static Conv2d Conv(int inChannels, int outChannels, int k, IBackend backend) =>
        new(inChannels, outChannels, k, stride: 1, padding: k / 2, bias: false, backend: backend);

    public static AvgPool2d AvgPool(int k, IBackend backend) => new(k, backend: backend);

    /// <summary>next(x), releasing x right after: a block's intermediates are freed one by one as the forward goes, so only
    /// two feature maps of a block are alive at once (in training mode the layers hold their own references for Backward).</summary>
    public static Tensor Then(Tensor x, Func<Tensor, Tensor> next)
    {
        using (x) return next(x);
    }
}
