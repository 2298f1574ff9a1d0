namespace NativeASD.Engine.Optim;

public enum FanMode { FanIn, FanOut }

/// <summary>The nonlinearity after a layer, for <see cref="Init.Gain"/> (torch.nn.init.calculate_gain).</summary>
public enum Nonlinearity { Linear, Sigmoid, Tanh, Relu, LeakyRelu }

/// <summary>
/// Parameter initialisation as torch.nn.init, with torch's fan computations, drawing from a <see cref="SeededRandom"/>
/// (a documented seed gives the same values every run; they are not torch's values). Values are generated on the
/// host and uploaded.
/// </summary>
public static class Init
{
    /// <summary>torch's _calculate_fan_in_and_fan_out: fan_in = shape[1]·receptive, fan_out = shape[0]·receptive, receptive = Π shape[2..].</summary>
    public static (int FanIn, int FanOut) Fans(ReadOnlySpan<int> shape)
    {
        if (shape.Length < 2)
            throw new ArgumentException($"init: fan in and fan out need at least 2 dimensions, got {Kernels.Layout.Format(shape)}");
        int receptive = 1;
        for (int i = 2; i < shape.Length; i++) receptive *= shape[i];
        return (shape[1] * receptive, shape[0] * receptive);
    }

    /// <summary>torch.nn.init.calculate_gain; <paramref name="negativeSlope"/> is used for LeakyRelu only.</summary>
    public static float Gain(Nonlinearity nonlinearity, float negativeSlope = 0.01f) => nonlinearity switch
    {
        Nonlinearity.Linear or Nonlinearity.Sigmoid => 1f,
        Nonlinearity.Tanh => 5f / 3f,
        Nonlinearity.Relu => MathF.Sqrt(2f),
        Nonlinearity.LeakyRelu => MathF.Sqrt(2f / (1f + negativeSlope * negativeSlope)),
        _ => throw new ArgumentOutOfRangeException(nameof(nonlinearity)),
    };

    /// <summary>kaiming_uniform_: U(−b, b), b = gain·√(3 / fan); torch's default a = 0, fan_in, leaky_relu (gain √2).</summary>
    public static void KaimingUniform(Tensor w, SeededRandom rng, float a = 0f, FanMode mode = FanMode.FanIn, Nonlinearity nonlinearity = Nonlinearity.LeakyRelu)
    {
        float bound = MathF.Sqrt(3f) * Gain(nonlinearity, a) / MathF.Sqrt(Fan(w, mode));
        Uniform(w, rng, -bound, bound);
    }

    /// <summary>kaiming_normal_: N(0, std²), std = gain / √fan.</summary>
    public static void KaimingNormal(Tensor w, SeededRandom rng, float a = 0f, FanMode mode = FanMode.FanIn, Nonlinearity nonlinearity = Nonlinearity.LeakyRelu) =>
        Normal(w, rng, 0f, Gain(nonlinearity, a) / MathF.Sqrt(Fan(w, mode)));

    /// <summary>xavier_uniform_: U(−b, b), b = gain·√(6 / (fan_in + fan_out)).</summary>
    public static void XavierUniform(Tensor w, SeededRandom rng, float gain = 1f)
    {
        var (fanIn, fanOut) = Fans(w.Shape);
        float bound = gain * MathF.Sqrt(6f / (fanIn + fanOut));
        Uniform(w, rng, -bound, bound);
    }

    /// <summary>xavier_normal_: N(0, std²), std = gain·√(2 / (fan_in + fan_out)).</summary>
    public static void XavierNormal(Tensor w, SeededRandom rng, float gain = 1f)
    {
        var (fanIn, fanOut) = Fans(w.Shape);
        Normal(w, rng, 0f, gain * MathF.Sqrt(2f / (fanIn + fanOut)));
    }

    /// <summary>
    /// torch's default for Linear and Conv (reset_parameters): weight kaiming_uniform_(a = √5), i.e. U(±1/√fan_in),
    /// and bias U(±1/√fan_in).
    /// </summary>
    public static void TorchDefault(Tensor weight, Tensor? bias, SeededRandom rng)
    {
        KaimingUniform(weight, rng, a: MathF.Sqrt(5f));
        if (bias is null) return;
        float bound = 1f / MathF.Sqrt(Fans(weight.Shape).FanIn);
        Uniform(bias, rng, -bound, bound);
    }

    public static void Uniform(Tensor t, SeededRandom rng, float low, float high)
    {
        var v = new float[t.Count];
        rng.FillUniform(v, low, high);
        Upload(t, v);
    }

    public static void Normal(Tensor t, SeededRandom rng, float mean, float std)
    {
        var v = new float[t.Count];
        rng.FillNormal(v, mean, std);
        Upload(t, v);
    }

    public static void Constant(Tensor t, float value) => t.Backend.Fill(t.View, value);

    static float Fan(Tensor w, FanMode mode)
    {
        var (fanIn, fanOut) = Fans(w.Shape);
        int fan = mode == FanMode.FanIn ? fanIn : fanOut;
        if (fan == 0) throw new ArgumentException($"init: zero fan for weight {Kernels.Layout.Format(w.Shape)}");
        return fan;
    }

    static void Upload(Tensor t, float[] values)
    {
        using var src = Tensor.FromSpan(values, t.ShapeArray(), t.Backend);
        Ops.Copy(src, t);
    }
}
