using NativeASD.Engine.Layers;

namespace NativeASD.Engine.Optim;

/// <summary>
/// Updates parameters in place from their accumulated gradients, with torch.optim's semantics. Parameters with
/// RequiresGrad = false are skipped (torch skips parameters without a gradient). Per-parameter state (momentum,
/// moments) is created on a parameter's first step and owned by the optimiser (disposed with it).
/// </summary>
public abstract class Optimizer : IDisposable
{
    protected Optimizer(IEnumerable<Parameter> parameters, float learningRate)
    {
        Parameters = parameters.ToArray();
        if (Parameters.Count == 0) throw new ArgumentException($"{GetType().Name}: no parameters to optimise");
        if (!(learningRate >= 0f)) throw new ArgumentException($"{GetType().Name}: learning rate must be ≥ 0, got {learningRate}");
        LearningRate = learningRate;
    }

    public IReadOnlyList<Parameter> Parameters { get; }
    public float LearningRate { get; set; }

    /// <summary>Number of Step calls so far.</summary>
    public int Steps { get; private set; }

    /// <summary>Sets the step count when a checkpoint is restored.</summary>
    protected void RestoreSteps(int steps) => Steps = steps >= 0 ? steps : throw new ArgumentException($"{GetType().Name}: step count must be ≥ 0, got {steps}");

    public void Step()
    {
        Steps++;
        for (int i = 0; i < Parameters.Count; i++)
            if (Parameters[i].RequiresGrad) Update(i, Parameters[i]);
    }

    /// <summary>Applies one step to parameter <paramref name="index"/>.</summary>
    protected abstract void Update(int index, Parameter p);

    public void ZeroGrad()
    {
        foreach (var p in Parameters) p.ZeroGrad();
    }

    public virtual void Dispose() => GC.SuppressFinalize(this);

    /// <summary>y += alpha·x, in place.</summary>
    protected static void AddScaled(Tensor y, Tensor x, float alpha)
    {
        using var t = Ops.Scale(x, alpha);
        Ops.Add(y, t, into: y);
    }

    protected static void DisposeAll(Tensor?[] tensors)
    {
        foreach (var t in tensors) t?.Dispose();
    }
}
