using NativeASD.Kernels;

namespace NativeASD.Engine.Layers;

/// <summary>
/// Channel squeeze-and-excitation (Hu et al. 2018) as EfficientAT's SqueezeExcitation over the channel axis:
/// s = mean of x over H, W [N, C]; g = sigmoid(fc2(relu(fc1(s)))) [N, C]; y = x·g, one gate per image and channel.
/// x, y [N, C, H, W]; children fc1 (Linear C→squeeze), fc2 (Linear squeeze→C), as torch names them.
/// Backward: dg = Σ_hw dy·x, back through sigmoid, fc2, relu, fc1 to ds; dx = dy·g + ds/(H·W).
/// </summary>
public sealed class SqueezeExcitation : Layer
{
    readonly GlobalPool _squeeze;
    readonly ReLU _relu;
    readonly Sigmoid _gate;

    Tensor? _x;      // [N, C, H, W]
    Tensor? _g;      // [N, C, 1, 1]

    public Linear Fc1 { get; }
    public Linear Fc2 { get; }
    public int Channels { get; }

    public SqueezeExcitation(int channels, int squeeze, IBackend? backend = null) : base(backend)
    {
        Channels = channels;
        Fc1 = AddChild("fc1", new Linear(channels, squeeze, backend: Backend));
        Fc2 = AddChild("fc2", new Linear(squeeze, channels, backend: Backend));
        // No parameters: registered so that Train/Eval reach them (their state-dict names are empty).
        _squeeze = AddChild("squeeze", new GlobalPool([2, 3], PoolMode.Mean, backend: Backend));
        _relu = AddChild("activation", new ReLU(Backend));
        _gate = AddChild("scale_activation", new Sigmoid(Backend));
    }

    public override string Describe() => $"SqueezeExcitation({Channels}→{Fc1.OutFeatures}→{Channels})";

    public override Tensor Forward(Tensor x)
    {
        if (x.Rank != 4 || x.Dim(1) != Channels)
            throw new ArgumentException($"{Describe()}: input {Layout.Format(x.Shape)} must be [N, {Channels}, H, W]");
        using var s = _squeeze.Forward(x);                               // [N, C]
        using var h = Fc1.Forward(s);
        using var a = _relu.Forward(h);
        using var z = Fc2.Forward(a);
        using var g = _gate.Forward(z);                                  // [N, C]
        var g4 = g.Reshape(x.Dim(0), Channels, 1, 1);
        var y = Ops.Mul(x, g4);
        if (Training) { Keep(ref _x, x.Share()); Keep(ref _g, g4); }
        else g4.Dispose();
        return y;
    }

    public override Tensor Backward(Tensor dy)
    {
        var x = Saved(_x);
        var g4 = Saved(_g);
        CheckGradShape(dy, x.Shape);
        int n = x.Dim(0);
        using var dyx = Ops.Mul(dy, x);
        using var rows = dyx.Reshape(n, Channels, -1);
        using var dg = Ops.Sum(rows, 2);                                 // [N, C]
        using var dz = _gate.Backward(dg);
        using var da = Fc2.Backward(dz);
        using var dh = _relu.Backward(da);
        using var ds = Fc1.Backward(dh);                                 // [N, C]
        using var dSqueeze = _squeeze.Backward(ds);                      // ds/(H·W) everywhere
        var dx = Ops.Mul(dy, g4);
        Ops.Add(dx, dSqueeze, into: dx);
        ClearSaved();
        return dx;
    }

    public override void ClearSaved()
    {
        Keep(ref _x, null);
        Keep(ref _g, null);
    }
}

/// <summary>
/// EfficientAT's ConcurrentSEBlock: squeeze-and-excitation branches over chosen axes (child "conc_se_layers"), their
/// outputs combined elementwise (se_agg). Only the channel branch is built (the published models' se_dims = 'c'), and
/// the combination of a single branch (max, mean, sum or min of one output) is that output, so this runs the branch.
/// </summary>
public sealed class ConcurrentSqueezeExcitation : Layer
{
    readonly SqueezeExcitation _channel;

    public ConcurrentSqueezeExcitation(int channels, int squeeze, IBackend? backend = null) : base(backend)
    {
        var branches = AddChild("conc_se_layers", new ModuleList<SqueezeExcitation>(Backend));
        _channel = branches.Add(new SqueezeExcitation(channels, squeeze, Backend));
    }

    public SqueezeExcitation Channel => _channel;

    public override string Describe() => $"ConcurrentSE(channel: {_channel.Describe()})";

    public override Tensor Forward(Tensor x) => _channel.Forward(x);

    public override Tensor Backward(Tensor dy) => _channel.Backward(dy);

    public override void ClearSaved() => _channel.ClearSaved();
}
