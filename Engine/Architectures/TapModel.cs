using NativeASD.Engine.Layers;
using NativeASD.Kernels;

namespace NativeASD.Engine.Architectures;

/// <summary>
/// The outputs of one <see cref="TapModel.Forward(Tensor, IReadOnlyCollection{string}?)"/>: the last stage's output
/// and the requested taps (each an owned reference; disposing this releases them all).
/// </summary>
public sealed class TapOutputs : IDisposable
{
    readonly Dictionary<string, Tensor> _taps;

    internal TapOutputs(string last, Tensor output, Dictionary<string, Tensor> taps) => (LastStage, Output, _taps) = (last, output, taps);

    /// <summary>Name of the last stage that ran (the deepest requested tap, or the model's final output).</summary>
    public string LastStage { get; }

    /// <summary>Output of <see cref="LastStage"/>.</summary>
    public Tensor Output { get; }

    /// <summary>Requested taps by the name they were asked for (aliases included).</summary>
    public IReadOnlyDictionary<string, Tensor> Taps => _taps;

    public Tensor this[string tap] => _taps.TryGetValue(tap, out var t) ? t
        : throw new KeyNotFoundException($"tap '{tap}' was not requested (requested: {string.Join(", ", _taps.Keys)})");

    public void Dispose()
    {
        Output.Dispose();
        foreach (var t in _taps.Values) t.Dispose();
        _taps.Clear();
    }
}

/// <summary>
/// A network run as a chain of named stages whose outputs are its tap points (PANNs: bn0, conv_block1, layer1.0 …,
/// embedding, clipwise_output). Forward can stop at the deepest requested tap, so a feature extractor pays only for
/// the depth it uses; Backward runs the stages that the last training-mode Forward ran, in reverse, so a head trained
/// on any tap back-propagates into the backbone. Aliases name a stage twice (layer1 = its last block, layer1.1).
/// Errors from a stage are re-thrown naming the model, the stage and the shapes.
/// </summary>
public abstract class TapModel : Layer
{
    protected sealed record Stage(string Name, Func<Tensor, Tensor> Forward, Func<Tensor, Tensor> Backward);

    readonly List<Stage> _stages = [];
    readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);
    readonly List<string> _tapNames = [];
    int _ran;        // stages run by the last training-mode Forward (what Backward walks back through)

    protected TapModel(IBackend? backend) : base(backend) { }

    /// <summary>Every tap name, in network order (stages and aliases).</summary>
    public IReadOnlyList<string> TapNames => _tapNames;

    /// <summary>The stage names in order (taps without aliases).</summary>
    public IEnumerable<string> StageNames => _stages.Select(s => s.Name);

    /// <summary>Name of the final stage (the model's output).</summary>
    public string OutputName => _stages[^1].Name;

    protected void AddStage(string name, Func<Tensor, Tensor> forward, Func<Tensor, Tensor> backward)
    {
        _index.Add(name, _stages.Count);
        _stages.Add(new Stage(name, forward, backward));
        _tapNames.Add(name);
    }

    protected void AddStage(string name, Layer layer) => AddStage(name, layer.Forward, layer.Backward);

    protected void AddStage(string name, (Func<Tensor, Tensor> Forward, Func<Tensor, Tensor> Backward) stage) => AddStage(name, stage.Forward, stage.Backward);

    /// <summary>Another name for an existing stage's output.</summary>
    protected void AddAlias(string alias, string stage)
    {
        _index.Add(alias, _index[stage]);
        _tapNames.Add(alias);
    }

    /// <summary>Throws naming the model and the expected layout when the input cannot be this model's input.</summary>
    protected abstract void CheckInput(Tensor x);

    /// <summary>The stage index of a tap name, or an error listing the valid names.</summary>
    public int StageOf(string tap) => _index.TryGetValue(tap, out int i) ? i
        : throw new ArgumentException($"{Describe()}: no tap '{tap}' (taps: {string.Join(", ", _tapNames)})");

    /// <summary>The whole network: input → final output (owned by the caller).</summary>
    public override Tensor Forward(Tensor x)
    {
        using var r = Forward(x, null);
        return r.Output.Share();
    }

    /// <summary>
    /// Runs the stages up to the deepest requested tap (all stages when <paramref name="taps"/> is null or empty)
    /// and returns that stage's output with the requested taps. x: borrowed.
    /// </summary>
    public TapOutputs Forward(Tensor x, IReadOnlyCollection<string>? taps)
    {
        CheckInput(x);
        var wanted = new Dictionary<int, List<string>>();
        int last = _stages.Count - 1;
        if (taps is { Count: > 0 })
        {
            last = 0;
            foreach (var tap in taps)
            {
                int i = StageOf(tap);
                if (!wanted.TryGetValue(i, out var names)) wanted[i] = names = [];
                if (!names.Contains(tap)) names.Add(tap);
                last = Math.Max(last, i);
            }
        }
        var kept = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var current = x.Share();
        try
        {
            for (int i = 0; i <= last; i++)
            {
                using var input = current;
                current = Run(_stages[i], () => _stages[i].Forward(input), input);
                if (wanted.TryGetValue(i, out var names))
                    foreach (var name in names) kept[name] = current.Share();
            }
        }
        catch
        {
            current.Dispose();
            foreach (var t in kept.Values) t.Dispose();
            throw;
        }
        _ran = Training ? last + 1 : 0;
        return new TapOutputs(_stages[last].Name, current, kept);
    }

    /// <summary>dx from the gradient of the last training-mode Forward's output (its deepest stage); accumulates parameter gradients.</summary>
    public override Tensor Backward(Tensor dy)
    {
        if (_ran == 0)
            throw new InvalidOperationException($"{Describe()}: Backward needs a training-mode Forward first (Train(), then Forward, then one Backward)");
        var current = dy.Share();
        for (int i = _ran - 1; i >= 0; i--)
        {
            using var grad = current;
            current = Run(_stages[i], () => _stages[i].Backward(grad), grad, backward: true);
        }
        _ran = 0;
        return current;
    }

    Tensor Run(Stage stage, Func<Tensor> step, Tensor input, bool backward = false)
    {
        try { return step(); }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{Describe()} stage {stage.Name}{(backward ? " (backward)" : "")}, {(backward ? "gradient" : "input")} {Layout.Format(input.Shape)}: {e.Message}", e);
        }
    }

    public override void ClearSaved()
    {
        _ran = 0;
        ClearSaved(this);
    }

    static void ClearSaved(Module module)
    {
        foreach (var (_, child) in module.Children)
            if (child is Layer layer) layer.ClearSaved();
            else ClearSaved(child);
    }
}
