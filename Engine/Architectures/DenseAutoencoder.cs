using NativeASD.Engine.Layers;
using NativeASD.Engine.Losses;
using NativeASD.Kernels;

namespace NativeASD.Engine.Architectures;

/// <summary>
/// The DCASE 2020 Task 2 baseline autoencoder (y-kawagu/dcase2020_task2_baseline, Keras): dense
/// 640-128-128-128-128-8-128-128-128-128-640, every hidden layer Dense → BatchNormalization → ReLU, a linear output.
/// Keras' BatchNormalization defaults are epsilon 1e−3 and momentum 0.99, i.e. torch momentum 0.01.
/// <para>Children: one Sequential "net": for hidden layer k, Linear at net.{3k}, BatchNorm1d at net.{3k+1}, ReLU at
/// net.{3k+2}; the output Linear last. Input and output [N, 640] (5 frames × 128 log-mel).</para>
/// </summary>
public sealed class DenseAutoencoder : Layer
{
    public Sequential Net { get; }
    public int InputDim { get; }

    public DenseAutoencoder(int inputDim = 640, int hiddenDim = 128, int bottleneckDim = 8, int hiddenLayers = 4,
        float bnEps = 1e-3f, float bnMomentum = 0.01f, SeededRandom? init = null, IBackend? backend = null) : base(backend)
    {
        InputDim = inputDim;
        // encoder: hiddenLayers × hidden, the bottleneck; decoder: hiddenLayers × hidden
        var widths = Enumerable.Repeat(hiddenDim, hiddenLayers).Append(bottleneckDim).Concat(Enumerable.Repeat(hiddenDim, hiddenLayers)).ToArray();
        Net = AddChild("net", new Sequential([], Backend));
        int width = inputDim, index = 0;
        foreach (int w in widths)
        {
            Net.Append((index++).ToString(), new Linear(width, w, init: init, backend: Backend));
            Net.Append((index++).ToString(), new BatchNorm1d(w, bnEps, bnMomentum, backend: Backend));
            Net.Append((index++).ToString(), new ReLU(Backend));
            width = w;
        }
        Net.Append(index.ToString(), new Linear(width, inputDim, init: init, backend: Backend));
    }

    public override string Describe() => $"DenseAutoencoder({InputDim})";

    /// <summary>Reconstruction [N, input] of x [N, input].</summary>
    public override Tensor Forward(Tensor x) => Net.Forward(x);

    public override Tensor Backward(Tensor dy) => Net.Backward(dy);

    public override void ClearSaved() => Net.ClearSaved();

    /// <summary>
    /// One training pass: reconstruction, mean squared error against x, backward (gradients accumulated into the
    /// parameters). Returns the loss; the caller zeroes gradients and steps the optimiser.
    /// </summary>
    public float LossAndBackward(Tensor x)
    {
        using var reconstruction = Forward(x);
        using var loss = Loss.Mse(reconstruction, x);
        Backward(loss.Grad).Dispose();
        return loss.Value;
    }

    /// <summary>Anomaly score of each row: mean squared reconstruction error over its features → [N] (evaluation mode expected).</summary>
    public Tensor RowErrors(Tensor x)
    {
        using var reconstruction = Forward(x);
        using var diff = Ops.Sub(reconstruction, x);
        Ops.Square(diff, into: diff);
        return Ops.Mean(diff, 1);
    }
}
