using System.Text.Json;
using NativeASD.Engine.Architectures;
using NativeASD.Weights.Keras;
using NativeASD.Weights.Tflite;
using NativeASD.Weights;

namespace NativeASD.Detection.Backbones;

/// <summary>
/// <see cref="DenseAutoencoder"/> hyper-parameters. <paramref name="BatchNormFolded"/>: the source had BatchNorm folded
/// into its dense layers (TFLite), so every BatchNorm holds the identity (see <see cref="DcaseAutoencoderMapping"/>).
/// </summary>
public sealed record DcaseAutoencoderConfig(int Inputs = 640, int Hidden = 128, int Bottleneck = 8, int HiddenLayers = 4,
    double BnEps = 1e-3, bool BatchNormFolded = false);

/// <summary>
/// The DCASE 2020 Task 2 / MLPerf Tiny dense autoencoder (ad01) onto <see cref="DenseAutoencoder"/> (net.{3k} Linear,
/// net.{3k+1} BatchNorm1d, net.{3k+2} ReLU, output Linear last), from:
/// <list type="bullet">
/// <item>Keras HDF5: the model_config layers must be [InputLayer], (Dense linear → BatchNormalization → Activation relu)
/// × (2K+1), Dense linear; kernels [in, out] are transposed to [out, in]; gamma/beta/moving_mean/moving_variance become
/// weight/bias/running_mean/running_var; ε from the config (all layers alike).</item>
/// <item>TFLite: FULLY_CONNECTED ops only (weights [out, in], fused ReLU on every hidden layer, none on the output).
/// BatchNorm is folded into those weights, so each BatchNorm1d gets the identity: γ = 1, β = 0, mean 0 and
/// running_var = the float32 below 1 − ε with (var + ε) rounding to exactly 1, so evaluation computes x·1 + 0.
/// (Fine-tuning from such a file then trains a BatchNorm that starts as the identity.)</item>
/// <item>Our own layout (a converted safetensors): names as they are; ε from its arch_config.</item>
/// </list>
/// </summary>
public sealed class DcaseAutoencoderMapping : IArchitectureMapping
{
    static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public string Arch => "dcase-ae";

    public bool Recognises(IWeightSource s) => s switch
    {
        TfliteWeightSource t => t.Model.Operators.Count > 2 && t.Model.Operators.All(op => op.Opcode == TfliteBuiltinOperator.FULLY_CONNECTED),
        KerasH5Source k => k.Layers.Count > 0 && k.Layers.All(l => l.ClassName is "InputLayer" or "Dense" or "BatchNormalization" or "Activation")
            && k.Layers.Any(l => l.ClassName == "BatchNormalization"),
        _ => StrictMatch.Has(s, "net.0.weight") && StrictMatch.Has(s, "net.1.running_var"),
    };

    public MappedWeights Map(IWeightSource source, bool allowExtra) => source switch
    {
        TfliteWeightSource t => FromTflite(t.Model),
        KerasH5Source k => FromKeras(k, allowExtra),
        _ => FromOurs(source, allowExtra),
    };

    /// <summary>Every tensor of a <see cref="DenseAutoencoder"/> with this configuration, in state-dict order.</summary>
    public static List<ExpectedTensor> Expected(DcaseAutoencoderConfig c)
    {
        var list = new List<ExpectedTensor>();
        int width = c.Inputs, index = 0;
        foreach (int w in Widths(c))
        {
            list.Add(new($"net.{index}.weight", [w, width]));
            list.Add(new($"net.{index}.bias", [w]));
            foreach (string b in (string[])["weight", "bias", "running_mean", "running_var"]) list.Add(new($"net.{index + 1}.{b}", [w]));
            list.Add(new($"net.{index + 1}.num_batches_tracked", []));
            width = w;
            index += 3;
        }
        list.Add(new($"net.{index}.weight", [c.Inputs, width]));
        list.Add(new($"net.{index}.bias", [c.Inputs]));
        return list;
    }

    static int[] Widths(DcaseAutoencoderConfig c) =>
        [.. Enumerable.Repeat(c.Hidden, c.HiddenLayers), c.Bottleneck, .. Enumerable.Repeat(c.Hidden, c.HiddenLayers)];

    /// <summary>The configuration of a chain of dense widths (inputs, hidden…, outputs), or an error saying why it is not one.</summary>
    static DcaseAutoencoderConfig Config(string path, List<(int In, int Out)> dense, double eps, bool folded)
    {
        var widths = dense.Select(d => d.Out).ToList();
        int inputs = dense[0].In, k = (dense.Count - 2) / 2;
        var c = new DcaseAutoencoderConfig(inputs, widths[0], dense.Count % 2 == 0 && k >= 1 ? widths[k] : -1, k, eps, folded);
        bool chained = dense.Zip(dense.Skip(1)).All(p => p.First.Out == p.Second.In);
        if (!chained || dense.Count % 2 != 0 || k < 1 || widths[^1] != inputs || !widths.SkipLast(1).SequenceEqual(Widths(c)))
            throw new WeightFormatException(path, $"does not match dcase-ae: dense layers {inputs}→{string.Join("→", widths)} are not " +
                "inputs → hidden × K → bottleneck → hidden × K → inputs");
        return c;
    }

    static MappedWeights Result(DcaseAutoencoderConfig c, List<MappedTensor> tensors, IReadOnlyList<string> ignored) =>
        new("dcase-ae", JsonSerializer.Serialize(c, Json), "dcase2020", tensors, ignored);

    static MappedWeights FromTflite(TfliteModel model)
    {
        var ops = model.Operators;
        if (ops.Count < 4 || ops.Any(op => op.Opcode != TfliteBuiltinOperator.FULLY_CONNECTED))
            throw new WeightFormatException(model.Path, $"does not match dcase-ae: expected FULLY_CONNECTED operators only, found {string.Join(", ", ops.Select(o => o.OpName).Distinct())}");
        var dense = new List<(int, int)>();
        for (int i = 0; i < ops.Count; i++)
        {
            var op = ops[i];
            var w = op.Inputs.Length > 1 && op.Inputs[1] >= 0 ? model.Tensors[op.Inputs[1]] : null;
            if (w is null || w.Shape.Length != 2 || !w.HasData) throw new WeightFormatException(model.Path, $"does not match dcase-ae: operator {i} has no constant 2-D weight");
            if (op.Inputs.Length < 3 || op.Inputs[2] < 0) throw new WeightFormatException(model.Path, $"does not match dcase-ae: operator {i} has no bias");
            var activation = (op.Options as TfliteFullyConnectedOptions)?.Activation;
            var wanted = i == ops.Count - 1 ? TfliteActivation.None : TfliteActivation.Relu;
            if (activation != wanted) throw new WeightFormatException(model.Path, $"does not match dcase-ae: operator {i} has activation {activation}, expected {wanted}");
            dense.Add((w.Shape[1], w.Shape[0]));
        }
        var c = Config(model.Path, dense, 1e-3, folded: true);
        float eps = (float)c.BnEps, identityVar = IdentityVariance(eps);
        var tensors = new List<MappedTensor>();
        for (int i = 0; i < ops.Count; i++)
        {
            var (ins, outs) = dense[i];
            var w = model.Tensors[ops[i].Inputs[1]];
            var b = model.Tensors[ops[i].Inputs[2]];
            if (!b.Shape.SequenceEqual([outs])) throw new WeightFormatException(model.Path, $"does not match dcase-ae: bias '{b.Name}' is [{string.Join(",", b.Shape)}], expected [{outs}]");
            tensors.Add(new($"net.{3 * i}.weight", [outs, ins], WeightDType.F32, w.ReadFloat32));
            tensors.Add(new($"net.{3 * i}.bias", [outs], WeightDType.F32, b.ReadFloat32));
            if (i == ops.Count - 1) break;
            string bn = $"net.{3 * i + 1}";
            tensors.Add(new($"{bn}.weight", [outs], WeightDType.F32, () => Filled(outs, 1f)));
            tensors.Add(new($"{bn}.bias", [outs], WeightDType.F32, () => new float[outs]));
            tensors.Add(new($"{bn}.running_mean", [outs], WeightDType.F32, () => new float[outs]));
            tensors.Add(new($"{bn}.running_var", [outs], WeightDType.F32, () => Filled(outs, identityVar)));
            tensors.Add(new($"{bn}.num_batches_tracked", [], WeightDType.I64, () => [0f]));
        }
        return Result(c, tensors, []);
    }

    /// <summary>The largest float32 v ≤ 1 − ε with v + ε == 1 in float32, so √(v + ε) is exactly 1.</summary>
    internal static float IdentityVariance(float eps)
    {
        float v = 1f - eps;
        while (v + eps > 1f) v = MathF.BitDecrement(v);
        while (v + eps < 1f) v = MathF.BitIncrement(v);
        return v;
    }

    static float[] Filled(int n, float value) { var a = new float[n]; Array.Fill(a, value); return a; }

    static MappedWeights FromKeras(KerasH5Source source, bool allowExtra)
    {
        var layers = source.Layers.Where(l => l.ClassName != "InputLayer").ToList();
        WeightFormatException Bad(string problem) => new(source.Path, $"does not match dcase-ae: {problem}");
        if (layers.Count == 0) throw Bad("the file has no model_config layer list");
        var byName = source.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var used = new HashSet<string>(StringComparer.Ordinal);
        WeightTensor Weight(string layer, string weight, int[] shape)
        {
            string name = $"{layer}/{weight}:0";
            if (!byName.TryGetValue(name, out var t)) throw Bad($"missing tensor {name}");
            if (!t.Shape.SequenceEqual(shape)) throw Bad($"{name} is [{string.Join(",", t.Shape)}], expected [{string.Join(",", shape)}]");
            used.Add(name);
            return t;
        }
        string Activation(KerasLayer l) => l.Config.ValueKind == JsonValueKind.Object && l.Config.TryGetProperty("activation", out var a) ? a.GetString() ?? "" : "";

        var dense = new List<(int In, int Out)>();
        double? eps = null;
        var tensors = new List<MappedTensor>();
        int width = -1;
        for (int i = 0; i < layers.Count; i++)
        {
            bool last = i == layers.Count - 1;
            int unit = i % 3;
            string expectedClass = unit switch { 0 => "Dense", 1 => "BatchNormalization", _ => "Activation" };
            var layer = layers[i];
            if (layer.ClassName != expectedClass) throw Bad($"layer {layer.Name} is {layer.ClassName}, expected {expectedClass} (Dense → BatchNormalization → Activation relu per hidden layer, a linear Dense last)");
            int index = dense.Count * 3 - (unit == 0 ? 0 : 3) + unit;
            switch (unit)
            {
                case 0:
                {
                    if (Activation(layer) != "linear") throw Bad($"Dense layer {layer.Name} has activation '{Activation(layer)}', expected linear");
                    string kernelName = $"{layer.Name}/kernel:0";
                    if (!byName.TryGetValue(kernelName, out var k) || k.Shape.Length != 2) throw Bad($"missing 2-D tensor {kernelName}");
                    int ins = k.Shape[0], outs = k.Shape[1];
                    if (width >= 0 && ins != width) throw Bad($"{kernelName} takes {ins} inputs, the previous layer gives {width}");
                    var kernel = Weight(layer.Name, "kernel", [ins, outs]);
                    var bias = Weight(layer.Name, "bias", [outs]);
                    tensors.Add(new($"net.{index}.weight", [outs, ins], WeightDType.F32, () => Transpose(kernel.ReadFloat32(), ins, outs)));
                    tensors.Add(new($"net.{index}.bias", [outs], WeightDType.F32, bias.ReadFloat32));
                    dense.Add((ins, outs));
                    width = outs;
                    break;
                }
                case 1:
                {
                    double e = layer.Config.ValueKind == JsonValueKind.Object && layer.Config.TryGetProperty("epsilon", out var ep) ? ep.GetDouble() : 1e-3;
                    if (eps is double previous && previous != e) throw Bad($"BatchNormalization {layer.Name} has epsilon {e}, an earlier one {previous}");
                    eps = e;
                    foreach (var (kerasName, ours) in (ReadOnlySpan<(string, string)>)[("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"), ("moving_variance", "running_var")])
                    {
                        var t = Weight(layer.Name, kerasName, [width]);
                        tensors.Add(new($"net.{index}.{ours}", [width], WeightDType.F32, t.ReadFloat32));
                    }
                    tensors.Add(new($"net.{index}.num_batches_tracked", [], WeightDType.I64, () => [0f]));
                    break;
                }
                default:
                    if (Activation(layer) != "relu") throw Bad($"Activation layer {layer.Name} is '{Activation(layer)}', expected relu");
                    break;
            }
            if (last && unit != 0) throw Bad($"the last layer is {layer.ClassName}, expected a linear Dense");
        }
        var c = Config(source.Path, dense, eps ?? 1e-3, folded: false);
        var extra = source.Tensors.Select(t => t.Name).Where(n => !used.Contains(n)).ToList();
        if (extra.Count > 0 && !allowExtra) throw Bad($"{extra.Count} unexpected tensor(s): {string.Join(", ", extra.Take(8))} (pass --allow-extra to ignore them)");
        return Result(c, tensors, extra);
    }

    static float[] Transpose(float[] a, int rows, int cols)
    {
        var t = new float[a.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
        return t;
    }

    /// <summary>A file in our layout: the configuration from the Linear shapes (ε and the folded flag from arch_config when present).</summary>
    static MappedWeights FromOurs(IWeightSource source, bool allowExtra)
    {
        var dense = new List<(int, int)>();
        for (int index = 0; source.Tensors.FirstOrDefault(t => t.Name == $"net.{index}.weight") is { Shape.Length: 2 } w; index += 3)
            dense.Add((w.Shape[1], w.Shape[0]));
        if (dense.Count < 2) throw new WeightFormatException(source.Path, "does not match dcase-ae: no net.0.weight / net.3.weight Linear layers");
        double eps = 1e-3;
        bool folded = false;
        if (source.Metadata.TryGetValue("arch_config", out var json))
        {
            try
            {
                using var doc = JsonDocument.Parse(json);
                if (doc.RootElement.TryGetProperty("bn_eps", out var e)) eps = e.GetDouble();
                if (doc.RootElement.TryGetProperty("batch_norm_folded", out var f)) folded = f.GetBoolean();
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
            {
                throw new WeightFormatException(source.Path, $"arch_config is not valid JSON: {e.Message}");
            }
        }
        var c = Config(source.Path, dense, eps, folded);
        return StrictMatch.AsIs(source, "dcase-ae", c, "dcase2020", Expected(c), allowExtra);
    }
}
