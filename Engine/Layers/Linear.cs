using NativeASD.Engine.Optim;
using NativeASD.Kernels;

namespace NativeASD.Engine.Layers;

/// <summary>
/// y = x·Wᵀ + b. x [..., in] → y [..., out]; weight [out, in], bias [out] (torch layout and names).
/// Parameters start at zero unless a generator is given (then torch's default init, <see cref="Init.TorchDefault"/>).
/// </summary>
public sealed class Linear : Layer
{
    public Parameter Weight { get; }
    public Parameter? Bias { get; }
    public int InFeatures { get; }
    public int OutFeatures { get; }

    Tensor? _x;        // [n, in], the input flattened over its leading axes
    int[]? _inShape;

    public Linear(int inFeatures, int outFeatures, bool bias = true, SeededRandom? init = null, IBackend? backend = null) : base(backend)
    {
        if (inFeatures < 1 || outFeatures < 1) throw new ArgumentException($"Linear: features must be positive, got {inFeatures}→{outFeatures}");
        (InFeatures, OutFeatures) = (inFeatures, outFeatures);
        Weight = AddParameter("weight", outFeatures, inFeatures);
        Bias = bias ? AddParameter("bias", outFeatures) : null;
        if (init is not null) Init.TorchDefault(Weight.Value, Bias?.Value, init);
    }

    public override string Describe() => $"Linear({InFeatures}→{OutFeatures})";

    public override Tensor Forward(Tensor x)
    {
        if (x.Rank < 1 || x.Dim(-1) != InFeatures)
            throw new ArgumentException($"{Describe()}: input {Layout.Format(x.Shape)} must end in {InFeatures} features");
        using var x2 = x.Reshape(-1, InFeatures);                      // [n, in]
        int n = x2.Dim(0);
        var y = Tensor.Empty([n, OutFeatures], Backend);               // [n, out]
        float beta = 0f;
        if (Bias is not null)
        {
            using var b = Bias.Value.BroadcastTo(n, OutFeatures);
            Ops.Copy(b, y);
            beta = 1f;
        }
        Ops.Gemm(x2, Weight.Value, y, transB: true, beta: beta);       // y = x·Wᵀ (+ b)
        if (Training) { Keep(ref _x, x2.Share()); _inShape = x.ShapeArray(); }
        else ClearSaved();
        var outShape = x.ShapeArray();
        outShape[^1] = OutFeatures;
        using (y) return y.Reshape(outShape);
    }

    public override Tensor Backward(Tensor dy)
    {
        var x2 = Saved(_x);
        var outShape = (int[])_inShape!.Clone();
        outShape[^1] = OutFeatures;
        CheckGradShape(dy, outShape);
        using var dy2 = dy.Reshape(-1, OutFeatures);                   // [n, out]
        if (Weight.RequiresGrad) Ops.Gemm(dy2, x2, Weight.Grad, transA: true, beta: 1f);   // dW += dyᵀ·x  [out, in]
        if (Bias is { RequiresGrad: true })
        {
            using var db = Ops.Sum(dy2, 0);                            // [out]
            Accumulate(Bias, db);
        }
        using var dx = Ops.MatMul(dy2, Weight.Value);                  // dx = dy·W  [n, in]
        var inShape = _inShape!;
        ClearSaved();
        return dx.Reshape(inShape);
    }

    public override void ClearSaved() => Keep(ref _x, null);
}
