using NativeASD.Engine.Layers;
using NativeASD.Kernels;

namespace NativeASD.Engine.Architectures;

/// <summary>honk's residual keyword spotter (castorini/honk SpeechResModel). res8: 6 layers, 45 maps, AvgPool (4,3).</summary>
public sealed record HonkResConfig(int Maps = 45, int Layers = 6, int PoolH = 4, int PoolW = 3, int Classes = 12, bool Scales = true)
{
    public static HonkResConfig Res8 => new();
    /// <summary>res8-narrow: 19 maps, no scale layers.</summary>
    public static HonkResConfig Res8Narrow => new(Maps: 19, Scales: false);
}

/// <summary>
/// honk res8 on an MFCC matrix [N, 101 frames, 40 coefficients] (or [N, 1, 101, 40]). With s = pre-BatchNorm value:
/// conv0: s₀ = avgpool(ReLU(conv0(x))), output s₀; layer i (1…6): s_i = ReLU(conv_i(o_{i−1})) (+ s_{i−2} for even i,
/// the residual), o_i = bn_i(s_i), times scale_i for odd i when present. BatchNorms have no affine; the released
/// res8.pt's scale1/3/5.scale are the gamma of bn1/3/5 (castorini/honkling loads them so).
/// Taps: conv0, layer1 … layer6, embedding (mean over the map, [N, maps]), logits ([N, 12]).
/// Keys: conv0.weight, convK.weight, bnK.running_mean/var/num_batches_tracked, scaleK.scale, output.weight/bias.
/// </summary>
public sealed class HonkRes : TapModel
{
    readonly Conv2d[] _convs;
    readonly ReLU[] _relus;
    readonly BatchNorm2d?[] _bns;
    readonly ChannelScale?[] _scales;
    Tensor? _old;          // forward: the latest residual source s_{i−2}
    Tensor? _pendingOld;   // backward: gradient waiting for that source
    bool _rank3Input;      // the last input was [N, frames, coefficients]: the input gradient is returned so

    public HonkResConfig Config { get; }

    public HonkRes(HonkResConfig? config = null, IBackend? backend = null) : base(backend)
    {
        Config = config ?? HonkResConfig.Res8;
        int maps = Config.Maps, n = Config.Layers;
        if (maps < 1 || n < 1 || Config.Classes < 1) throw new ArgumentException($"HonkRes: invalid configuration {Config}");
        _convs = new Conv2d[n + 1];
        _relus = new ReLU[n + 1];
        _bns = new BatchNorm2d?[n + 1];
        _scales = new ChannelScale?[n + 1];

        _convs[0] = AddChild("conv0", new Conv2d(1, maps, 3, stride: 1, padding: 1, bias: false, backend: Backend));
        for (int i = 1; i <= n; i++)
        {
            _bns[i] = AddChild($"bn{i}", new BatchNorm2d(maps, affine: false, backend: Backend));
            if (Config.Scales && i % 2 == 1) _scales[i] = AddChild($"scale{i}", new ChannelScale(maps, Backend));
            _convs[i] = AddChild($"conv{i}", new Conv2d(maps, maps, 3, stride: 1, padding: 1, bias: false, backend: Backend));
        }
        for (int i = 0; i <= n; i++) _relus[i] = AddChild($"relu{i}", new ReLU(Backend));
        var pool = AddChild("pool", new AvgPool2d((Config.PoolH, Config.PoolW), backend: Backend));
        var output = AddChild("output", new Linear(maps, Config.Classes, backend: Backend));

        AddStage("conv0",
            x =>
            {
                _rank3Input = x.Rank == 3;
                using var x4 = _rank3Input ? x.Unsqueeze(1) : x.Share();
                using var c = _convs[0].Forward(x4);
                using var r = _relus[0].Forward(c);
                var s = pool.Forward(r);
                Keep(ref _old, s.Share());
                return s;
            },
            dy =>
            {
                using var ds = TakePending(dy);
                using var dr = pool.Backward(ds);
                using var dc = _relus[0].Backward(dr);
                using var dx4 = _convs[0].Backward(dc);
                return _rank3Input ? dx4.Squeeze(1) : dx4.Share();
            });
        for (int i = 1; i <= n; i++)
        {
            int layer = i;
            AddStage($"layer{i}", x => LayerForward(layer, x), dy => LayerBackward(layer, dy));
        }
        AddStage("embedding", Stages.Chain(AddChild("map_mean", new GlobalPool([2, 3], PoolMode.Mean, backend: Backend))));
        AddStage("logits", Stages.Chain(output));
    }

    public override string Describe() => $"HonkRes({Config.Layers} layers, {Config.Maps} maps)";

    protected override void CheckInput(Tensor x)
    {
        bool ok = x.Rank == 3 || x.Rank == 4 && x.Dim(1) == 1;
        if (!ok || x.Dim(-2) < Config.PoolH || x.Dim(-1) < Config.PoolW)
            throw new ArgumentException($"{Describe()}: input must be MFCCs [N, frames, coefficients] or [N, 1, frames, coefficients] (res8: 101×40), got {Layout.Format(x.Shape)}");
    }

    Tensor LayerForward(int i, Tensor x)
    {
        using var c = _convs[i].Forward(x);
        var s = _relus[i].Forward(c);
        if (i % 2 == 0)
        {
            using var branch = s;
            s = Ops.Add(branch, _old!);
            Keep(ref _old, s.Share());
        }
        using (s)
        {
            var o = _bns[i]!.Forward(s);
            if (_scales[i] is null) return o;
            using (o) return _scales[i]!.Forward(o);
        }
    }

    Tensor LayerBackward(int i, Tensor dy)
    {
        using var dbn = _scales[i] is null ? dy.Share() : _scales[i]!.Backward(dy);
        using var dsOwn = _bns[i]!.Backward(dbn);
        using var ds = i % 2 == 0 ? TakePending(dsOwn) : dsOwn.Share();
        if (i % 2 == 0) Keep(ref _pendingOld, ds.Share());             // s_{i−2} received ds through the residual sum
        using var dc = _relus[i].Backward(ds);
        return _convs[i].Backward(dc);
    }

    /// <summary>d + the residual gradient waiting for this stage's pre-BN value (then cleared).</summary>
    Tensor TakePending(Tensor d)
    {
        if (_pendingOld is null) return d.Share();
        var sum = Ops.Add(d, _pendingOld);
        Keep(ref _pendingOld, null);
        return sum;
    }

    public override Tensor Backward(Tensor dy)
    {
        Keep(ref _pendingOld, null);
        return base.Backward(dy);
    }

    public override void ClearSaved()
    {
        Keep(ref _old, null);
        Keep(ref _pendingOld, null);
        base.ClearSaved();
    }

    public void Load(IEnumerable<NamedTensor> tensors, string source, string? stripPrefix = null) =>
        StateDict.Load(this, tensors, source, stripPrefix);
}

/// <summary>y = x · scale[c] per channel (axis 1), key "scale". Backward: dx = dy·scale, dscale = Σ dy·x over all but axis 1.</summary>
public sealed class ChannelScale : Layer
{
    public Parameter Scale { get; }
    public int Channels { get; }
    Tensor? _x;

    public ChannelScale(int channels, IBackend? backend = null) : base(backend)
    {
        Channels = channels;
        Scale = AddParameter("scale", channels);
        Backend.Fill(Scale.Value.View, 1f);
    }

    public override string Describe() => $"ChannelScale({Channels})";

    Tensor View(Tensor x)
    {
        if (x.Rank < 2 || x.Dim(1) != Channels)
            throw new ArgumentException($"{Describe()}: input {Layout.Format(x.Shape)} must have {Channels} channels on axis 1");
        var shape = Enumerable.Repeat(1, x.Rank).ToArray();
        shape[1] = Channels;
        return Scale.Value.Reshape(shape);
    }

    public override Tensor Forward(Tensor x)
    {
        using var s = View(x);
        if (Training) Keep(ref _x, x.Share()); else ClearSaved();
        return Ops.Mul(x, s);
    }

    public override Tensor Backward(Tensor dy)
    {
        var x = Saved(_x);
        CheckGradShape(dy, x.Shape);
        using var s = View(x);
        if (Scale.RequiresGrad)
        {
            using var prod = Ops.Mul(dy, x);
            using var perChannel = prod.Transpose(0, 1).Reshape(Channels, -1);   // [C, rest]
            using var ds = Ops.Sum(perChannel, 1);
            Accumulate(Scale, ds);
        }
        ClearSaved();
        return Ops.Mul(dy, s);
    }

    public override void ClearSaved() => Keep(ref _x, null);
}
