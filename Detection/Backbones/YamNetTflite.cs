using NativeASD.Engine.Layers;
using NativeASD.Engine.Architectures;
using NativeASD.Weights.Tflite;
using NativeASD.Weights;

namespace NativeASD.Detection.Backbones;

/// <summary>
/// Reads YAMNet's weights out of its TFLite export (float32 or int8 with per-channel scales, e.g. coral's
/// yamnet_spectra_in.tflite) as <see cref="YamNet"/> state-dict tensors. The graph is walked in operator order:
/// one CONV_2D 3×3 stride 2 (layer1), thirteen DEPTHWISE_CONV_2D + CONV_2D 1×1 pairs (layer2 … layer14) and one
/// FULLY_CONNECTED (logits); strides, SAME padding and ReLU6 are checked against <see cref="YamNet.Blocks"/>. Weights
/// are dequantised by the reader and moved from TFLite's channels-last layouts (conv [O,kh,kw,I], depthwise
/// [1,kh,kw,C]) to torch's [O,I,kh,kw] and [C,1,kh,kw]; BatchNorm is already folded into the biases.
/// </summary>
public static class YamNetTflite
{
    public static List<NamedTensor> StateDict(TfliteModel model)
    {
        var convs = model.Operators.Where(op => op.Opcode is TfliteBuiltinOperator.CONV_2D or TfliteBuiltinOperator.DEPTHWISE_CONV_2D
            or TfliteBuiltinOperator.FULLY_CONNECTED).ToList();
        int expected = 1 + 2 * YamNet.Blocks.Length + 1;
        if (convs.Count != expected)
            throw Fail(model, $"expected {expected} conv/depthwise/fully-connected operators (YAMNet), found {convs.Count}");
        var result = new List<NamedTensor>();
        Conv(model, convs[0], TfliteBuiltinOperator.CONV_2D, 2, "layer1.conv", result);
        for (int i = 0; i < YamNet.Blocks.Length; i++)
        {
            Conv(model, convs[1 + 2 * i], TfliteBuiltinOperator.DEPTHWISE_CONV_2D, YamNet.Blocks[i].Stride, $"layer{i + 2}.depthwise_conv", result);
            Conv(model, convs[2 + 2 * i], TfliteBuiltinOperator.CONV_2D, 1, $"layer{i + 2}.pointwise_conv", result);
        }
        var fc = convs[^1];
        if (fc.Opcode != TfliteBuiltinOperator.FULLY_CONNECTED) throw Fail(model, $"operator {fc.Index} is {fc.OpName}, expected FULLY_CONNECTED (logits)");
        var w = model.Tensors[fc.Inputs[1]];
        result.Add(NamedTensor.Of("logits.weight", w.ReadFloat32(), w.Shape));
        result.Add(Bias(model, fc, "logits.bias"));
        return result;
    }

    /// <summary>
    /// The int8 quantisation of every activation <see cref="YamNet.QuantizationPoints"/> names, read from an int8 graph:
    /// input = the first conv's input (the QUANTIZE of the patch), layer1 / layerK.depthwise / layerK.pointwise = each
    /// conv's output (after its fused ReLU6), embedding = the logits layer's input (the MEAN), logits = its output, scores =
    /// the output of the op that reads the logits (LOGISTIC). Null when the activations are not all int8 per-tensor
    /// (a float model).
    /// </summary>
    public static Dictionary<string, ActivationQuantization>? Int8Activations(TfliteModel model)
    {
        var convs = model.Operators.Where(op => op.Opcode is TfliteBuiltinOperator.CONV_2D or TfliteBuiltinOperator.DEPTHWISE_CONV_2D
            or TfliteBuiltinOperator.FULLY_CONNECTED).ToList();
        if (convs.Count != 1 + 2 * YamNet.Blocks.Length + 1) throw Fail(model, $"expected {1 + 2 * YamNet.Blocks.Length + 1} conv/depthwise/fully-connected operators (YAMNet), found {convs.Count}");
        var fc = convs[^1];
        var sigmoid = model.Operators.FirstOrDefault(op => op.Opcode == TfliteBuiltinOperator.LOGISTIC && op.Inputs.Contains(fc.Outputs[0]));
        if (sigmoid is null) return null;
        var points = new List<(string, int)> { ("input", convs[0].Inputs[0]), ("layer1", convs[0].Outputs[0]) };
        for (int i = 0; i < YamNet.Blocks.Length; i++)
        {
            points.Add(($"layer{i + 2}.depthwise", convs[1 + 2 * i].Outputs[0]));
            points.Add(($"layer{i + 2}.pointwise", convs[2 + 2 * i].Outputs[0]));
        }
        points.Add(("embedding", fc.Inputs[0]));
        points.Add(("logits", fc.Outputs[0]));
        points.Add(("scores", sigmoid.Outputs[0]));
        var result = new Dictionary<string, ActivationQuantization>();
        foreach (var (point, index) in points)
        {
            var t = model.Tensors[index];
            if (t.Type != TfliteTensorType.Int8 || t.Quantization is not { Scale.Length: 1, ZeroPoint.Length: 1 } q) return null;
            if (!(q.Scale[0] > 0 && float.IsFinite(q.Scale[0])) || q.ZeroPoint[0] is < Engine.Layers.ActivationQuantization.Min or > Engine.Layers.ActivationQuantization.Max)
                throw Fail(model, $"activation '{t.Name}' ({point}) has scale {q.Scale[0]}, zero point {q.ZeroPoint[0]}");
            result[point] = new(q.Scale[0], (int)q.ZeroPoint[0]);
        }
        return result;
    }

    static void Conv(TfliteModel model, TfliteOperator op, TfliteBuiltinOperator kind, int stride, string name, List<NamedTensor> result)
    {
        if (op.Opcode != kind) throw Fail(model, $"operator {op.Index} is {op.OpName}, expected {kind} for {name}");
        var (padding, strideH, strideW, activation) = op.Options switch
        {
            TfliteConv2DOptions o => (o.Padding, o.StrideH, o.StrideW, o.Activation),
            TfliteDepthwiseConv2DOptions o => (o.Padding, o.StrideH, o.StrideW, o.Activation),
            _ => throw Fail(model, $"operator {op.Index} ({op.OpName}) has no conv options"),
        };
        if (padding != TflitePadding.Same || strideH != stride || strideW != stride || activation != TfliteActivation.Relu6)
            throw Fail(model, $"operator {op.Index} ({name}): padding {padding}, stride {strideH}x{strideW}, activation {activation}; YAMNet has SAME, {stride}x{stride}, Relu6");
        var w = model.Tensors[op.Inputs[1]];
        if (w.Shape.Length != 4) throw Fail(model, $"{name}: weight '{w.Name}' is [{string.Join(",", w.Shape)}], expected 4-D");
        var data = w.ReadFloat32();
        int a = w.Shape[0], kh = w.Shape[1], kw = w.Shape[2], b = w.Shape[3];
        if (kind == TfliteBuiltinOperator.DEPTHWISE_CONV_2D)
        {
            // [1, kh, kw, C] → [C, 1, kh, kw]
            if (a != 1) throw Fail(model, $"{name}: depthwise weight [{string.Join(",", w.Shape)}] has a depth multiplier");
            var t = new float[data.Length];
            for (int y = 0; y < kh; y++)
                for (int x = 0; x < kw; x++)
                    for (int c = 0; c < b; c++)
                        t[(c * kh + y) * kw + x] = data[(y * kw + x) * b + c];
            result.Add(NamedTensor.Of(name + ".weight", t, b, 1, kh, kw));
        }
        else
        {
            // [O, kh, kw, I] → [O, I, kh, kw]
            var t = new float[data.Length];
            for (int o = 0; o < a; o++)
                for (int y = 0; y < kh; y++)
                    for (int x = 0; x < kw; x++)
                        for (int i = 0; i < b; i++)
                            t[((o * b + i) * kh + y) * kw + x] = data[((o * kh + y) * kw + x) * b + i];
            result.Add(NamedTensor.Of(name + ".weight", t, a, b, kh, kw));
        }
        result.Add(Bias(model, op, name + ".bias"));
    }

    static NamedTensor Bias(TfliteModel model, TfliteOperator op, string name)
    {
        if (op.Inputs.Length < 3 || op.Inputs[2] < 0) throw Fail(model, $"operator {op.Index} ({name}) has no bias");
        var b = model.Tensors[op.Inputs[2]];
        return NamedTensor.Of(name, b.ReadFloat32(), b.Shape);
    }

    static WeightFormatException Fail(TfliteModel model, string problem) => new(model.Path, $"not a YAMNet TFLite graph: {problem}");
}
