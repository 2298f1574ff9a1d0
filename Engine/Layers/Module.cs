using NativeASD.Kernels;

namespace NativeASD.Engine.Layers;

/// <summary>A trainable tensor and its accumulated gradient (same shape, same backend).</summary>
public sealed class Parameter : IDisposable
{
    Tensor? _grad;

    public Tensor Value { get; }
    /// <summary>Accumulated by Backward calls; cleared by <see cref="Module.ZeroGrad"/>. Allocated (as zeros) on first use,
    /// so a model that only runs inference holds its weights once, not twice.</summary>
    public Tensor Grad => _grad ??= Tensor.Zeros(Value.ShapeArray(), Value.Backend);
    /// <summary>False for frozen parameters (e.g. a pretrained backbone): Backward skips their gradient.</summary>
    public bool RequiresGrad { get; set; } = true;

    public Parameter(int[] shape, IBackend backend) => Value = Tensor.Zeros(shape, backend);

    /// <summary>Sets the gradient to zero (nothing to do while it was never allocated).</summary>
    public void ZeroGrad()
    {
        if (_grad is not null) _grad.Backend.Fill(_grad.View, 0f);
    }

    public void Dispose() { Value.Dispose(); _grad?.Dispose(); }
}

/// <summary>
/// Base of every layer and network. A module owns named parameters (trained), named buffers (state that is
/// saved but not trained, e.g. BatchNorm running statistics) and named child modules; the dotted names
/// ("layer1.0.conv1.weight") are the state-dict keys of the original PyTorch models, so checkpoints map 1:1.
/// Each layer implements its forward and its hand-written backward side by side; Backward accumulates
/// parameter gradients and returns the gradient with respect to the input.
/// </summary>
public abstract class Module : IDisposable
{
    readonly List<(string Name, Parameter Parameter)> _parameters = [];
    readonly List<(string Name, Tensor Buffer)> _buffers = [];
    readonly List<(string Name, Module Child)> _children = [];

    protected Module(IBackend? backend = null) => Backend = backend ?? Backends.DefaultCpu;

    public IBackend Backend { get; }

    /// <summary>Training mode (batch statistics, dropout) vs evaluation mode. Set recursively by <see cref="Train"/>.</summary>
    public bool Training { get; private set; } = true;

    public void Train(bool on = true)
    {
        Training = on;
        foreach (var (_, child) in _children) child.Train(on);
    }

    public void Eval() => Train(false);

    protected Parameter AddParameter(string name, params int[] shape)
    {
        var p = new Parameter(shape, Backend);
        _parameters.Add((name, p));
        return p;
    }

    protected Tensor AddBuffer(string name, Tensor buffer)
    {
        _buffers.Add((name, buffer));
        return buffer;
    }

    protected T AddChild<T>(string name, T child) where T : Module
    {
        _children.Add((name, child));
        return child;
    }

    public IEnumerable<(string Name, Module Child)> Children => _children;

    public IEnumerable<(string Name, Parameter Parameter)> NamedParameters(string prefix = "")
    {
        foreach (var (name, p) in _parameters) yield return (prefix + name, p);
        foreach (var (name, child) in _children)
            foreach (var item in child.NamedParameters(prefix + name + ".")) yield return item;
    }

    public IEnumerable<(string Name, Tensor Buffer)> NamedBuffers(string prefix = "")
    {
        foreach (var (name, b) in _buffers) yield return (prefix + name, b);
        foreach (var (name, child) in _children)
            foreach (var item in child.NamedBuffers(prefix + name + ".")) yield return item;
    }

    public void ZeroGrad()
    {
        foreach (var (_, p) in NamedParameters()) p.ZeroGrad();
    }

    public virtual void Dispose()
    {
        foreach (var (_, p) in _parameters) p.Dispose();
        foreach (var (_, b) in _buffers) b.Dispose();
        foreach (var (_, c) in _children) c.Dispose();
        GC.SuppressFinalize(this);
    }
}
