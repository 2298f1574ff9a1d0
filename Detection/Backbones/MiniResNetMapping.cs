using System.Text.Json;
using NativeASD.Engine.Architectures;
using NativeASD.Weights;
using NativeASD.Weights.Keras;

namespace NativeASD.Detection.Backbones;

/// <summary>
/// The ST model zoo's MiniResNet (<paramref name="arch"/> miniresnet, version 1) or MiniResNetV2 (miniresnetv2) onto
/// <see cref="MiniResNet"/>, from:
/// <list type="bullet">
/// <item>Keras HDF5 (miniresnet[v2]_N_stacks_backbone.h5): stacks, blocks, width and BatchNorm ε are read from
/// model_config, whose whole layer graph must then be the one <see cref="MiniResNet"/> computes (<see cref="KerasGraph"/>);
/// kernels [kh, kw, in, out] over Keras's [mel, time] patches become ours [out, in, time, mel] (both spatial axes swap
/// with the input's); gamma/beta/moving_mean/moving_variance become weight/bias/running_mean/running_var.</item>
/// <item>Our own layout (a converted safetensors): names as they are; the configuration from arch_config, else from the
/// tensor names and shapes.</item>
/// </list>
/// Tensors are checked in state-dict order; the first that is missing or mis-shaped is named.
/// </summary>
public sealed class MiniResNetMapping(string arch, int version) : IArchitectureMapping
{
    static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public string Arch => arch;

    bool IsV2(Func<string, bool> has) => has("conv2_block1_preact_bn") || has("conv2_block1.preact_bn.weight");

    public bool Recognises(IWeightSource s) => s switch
    {
        KerasH5Source k => KerasGraph.Find(k, "conv1_conv") is not null && KerasGraph.Find(k, "conv2_block1_1_conv") is not null
            && IsV2(n => KerasGraph.Find(k, n) is not null) == (version == 2),
        _ => StrictMatch.Has(s, "conv1.weight") && StrictMatch.Has(s, "conv2_block1.conv1.weight") && IsV2(n => StrictMatch.Has(s, n)) == (version == 2),
    };

    public MappedWeights Map(IWeightSource source, bool allowExtra) => source is KerasH5Source k ? FromKeras(k, allowExtra) : FromOurs(source, allowExtra);

    /// <summary>Every tensor of a <see cref="MiniResNet"/> with this configuration, in state-dict order.</summary>
    public static List<ExpectedTensor> Expected(MiniResNetConfig c)
    {
        using var model = new MiniResNet(c);
        return [.. StateDict.Entries(model).Select(e => new ExpectedTensor(e.Name, e.Tensor.ShapeArray()))];
    }

    /// <summary>
    /// <see cref="Expected"/> for the configuration a file describes, once the file is known to hold as many values as
    /// that network (the network is built to list its tensors, so a config must not make it larger than the file).
    /// </summary>
    List<ExpectedTensor> ExpectedIn(IWeightSource source, MiniResNetConfig c)
    {
        long stored = source.Tensors.Sum(t => t.Shape.Aggregate(1L, (a, d) => a * d));
        if (c.Values() > stored)
            throw Bad(source.Path, $"the configuration ({c.Stacks} stack(s) of {c.Blocks} block(s), width {c.Width}) needs {c.Values():N0} values; the file stores {stored:N0}");
        try { return Expected(c); }
        catch (ArgumentException e) { throw Bad(source.Path, e.Message); }
    }

    MappedWeights Result(MiniResNetConfig c, List<MappedTensor> tensors, IReadOnlyList<string> ignored) =>
        new(Arch, JsonSerializer.Serialize(c, Json), "st-aed", tensors, ignored);

    WeightFormatException Bad(string path, string problem) => new(path, $"does not match {Arch}: {problem}");

    // ---- Keras -----------------------------------------------------------------------------------------------------

    MappedWeights FromKeras(KerasH5Source source, bool allowExtra)
    {
        var c = KerasConfig(source);
        KerasGraph.Check(source, Arch, Graph(source, c));
        var byName = source.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var used = new HashSet<string>(StringComparer.Ordinal);
        var tensors = new List<MappedTensor>();
        foreach (var e in ExpectedIn(source, c))
        {
            if (e.Name.EndsWith(".num_batches_tracked", StringComparison.Ordinal))
            {
                tensors.Add(new(e.Name, e.Shape, WeightDType.I64, () => [0f]));
                continue;
            }
            string keras = KerasName(e.Name);
            if (!byName.TryGetValue(keras, out var t)) throw Bad(source.Path, $"missing tensor {keras} (for {e.Name} [{string.Join(",", e.Shape)}])");
            int[] shape = e.Shape.Length == 4 ? [e.Shape[3], e.Shape[2], e.Shape[1], e.Shape[0]] : e.Shape;   // [out,in,time,mel] ← [mel,time,in,out]
            if (!t.Shape.SequenceEqual(shape))
                throw Bad(source.Path, $"{keras} is [{string.Join(",", t.Shape)}], expected [{string.Join(",", shape)}] (for {e.Name})");
            used.Add(keras);
            tensors.Add(new(e.Name, e.Shape, WeightDType.F32, e.Shape.Length == 4 ? () => KerasGraph.Permute(t.ReadFloat32(), shape, [3, 2, 1, 0]) : t.ReadFloat32));
        }
        var extra = source.Tensors.Select(t => t.Name).Where(n => !used.Contains(n)).ToList();
        if (extra.Count > 0 && !allowExtra) throw Bad(source.Path, $"{extra.Count} unexpected tensor(s): {string.Join(", ", extra.Take(8))} (pass --allow-extra to ignore them)");
        return Result(c, tensors, extra);
    }

    /// <summary>Stacks, blocks, width and ε from the layer names and configs (the graph check then confirms them).</summary>
    MiniResNetConfig KerasConfig(KerasH5Source source)
    {
        bool Has(string name) => KerasGraph.Find(source, name) is not null;
        int stacks = 0, blocks = 0;
        while (Has(MiniResNetConfig.BlockName(stacks, 1) + "_1_conv")) stacks++;
        while (Has(MiniResNetConfig.BlockName(0, blocks + 1) + "_1_conv")) blocks++;
        var conv1 = KerasGraph.Find(source, "conv1_conv");
        int width = KerasGraph.Value(conv1, "filters") is { ValueKind: JsonValueKind.Number } f ? f.GetInt32() : 0;
        var firstBn = source.Layers.FirstOrDefault(l => l.ClassName == "BatchNormalization");
        double eps = KerasGraph.Value(firstBn, "epsilon") is { ValueKind: JsonValueKind.Number } e ? e.GetDouble() : 0;
        if (stacks == 0 || blocks < (version == 2 ? 2 : 1) || width < 1 || !(eps > 0))
            throw Bad(source.Path, $"model_config has {stacks} stack(s) of {blocks} block(s) (conv2_block1_1_conv …), conv1_conv width {width} and BatchNorm epsilon {eps}");
        return new MiniResNetConfig(version, stacks, blocks, width, eps);
    }

    /// <summary>The Keras layers <see cref="MiniResNet"/> computes, as the zoo's miniresnet.py / miniresnetv2.py build them.</summary>
    static List<KerasNode> Graph(KerasH5Source source, MiniResNetConfig c)
    {
        var g = new List<KerasNode>
        {
            KerasGraph.ZeroPad("conv1_pad", KerasGraph.Input, 3),
            KerasGraph.Conv("conv1_conv", "conv1_pad", c.Width, 7, 2, "valid", bias: true),
        };
        string x = "conv1_conv";
        if (c.Version == 1)
        {
            g.Add(KerasGraph.BatchNorm("conv1_bn", x, c.BnEps));
            g.Add(KerasGraph.Relu("conv1_relu", "conv1_bn"));
            x = "conv1_relu";
        }
        g.Add(KerasGraph.ZeroPad("pool1_pad", x, 1));
        g.Add(KerasGraph.MaxPool("pool1_pool", "pool1_pad", 3, 2));
        x = "pool1_pool";
        for (int s = 0; s < c.Stacks; s++)
            for (int b = 1; b <= c.Blocks; b++)
            {
                string n = MiniResNetConfig.BlockName(s, b);
                int f = c.Channels(s), stride = c.Stride(b);
                if (c.Version == 1)
                {
                    string shortcut = x;
                    if (b == 1)
                    {
                        g.Add(KerasGraph.Conv($"{n}_0_conv", x, f, 1, stride, "valid", bias: true));
                        g.Add(KerasGraph.BatchNorm($"{n}_0_bn", $"{n}_0_conv", c.BnEps));
                        shortcut = $"{n}_0_bn";
                    }
                    g.Add(KerasGraph.Conv($"{n}_1_conv", x, f, 1, stride, "valid", bias: true));
                    g.Add(KerasGraph.BatchNorm($"{n}_1_bn", $"{n}_1_conv", c.BnEps));
                    g.Add(KerasGraph.Relu($"{n}_1_relu", $"{n}_1_bn"));
                    g.Add(KerasGraph.Conv($"{n}_2_conv", $"{n}_1_relu", f, 3, 1, "same", bias: true));
                    g.Add(KerasGraph.BatchNorm($"{n}_2_bn", $"{n}_2_conv", c.BnEps));
                    g.Add(KerasGraph.Relu($"{n}_2_relu", $"{n}_2_bn"));
                    g.Add(KerasGraph.Add($"{n}_add", shortcut, $"{n}_2_relu"));
                    g.Add(KerasGraph.Relu($"{n}_out", $"{n}_add"));
                }
                else
                {
                    g.Add(KerasGraph.BatchNorm($"{n}_preact_bn", x, c.BnEps));
                    g.Add(KerasGraph.Relu($"{n}_preact_relu", $"{n}_preact_bn"));
                    string shortcut = x;
                    if (b == 1)
                    {
                        g.Add(KerasGraph.Conv($"{n}_0_conv", $"{n}_preact_relu", f, 1, stride, "valid", bias: true));
                        shortcut = $"{n}_0_conv";
                    }
                    else if (b == c.Blocks)
                    {
                        // Keras names this pooling automatically (max_pooling2d_2): take the name the block's sum reads.
                        shortcut = KerasGraph.Find(source, $"{n}_out")?.Inbound.FirstOrDefault() ?? $"{n}_shortcut_pool";
                        g.Add(KerasGraph.MaxPool(shortcut, x, 1, stride));
                    }
                    g.Add(KerasGraph.Conv($"{n}_1_conv", $"{n}_preact_relu", f, 1, 1, "valid", bias: false));
                    g.Add(KerasGraph.BatchNorm($"{n}_1_bn", $"{n}_1_conv", c.BnEps));
                    g.Add(KerasGraph.Relu($"{n}_1_relu", $"{n}_1_bn"));
                    g.Add(KerasGraph.ZeroPad($"{n}_2_pad", $"{n}_1_relu", 1));
                    g.Add(KerasGraph.Conv($"{n}_2_conv", $"{n}_2_pad", f, 3, stride, "valid", bias: false));
                    g.Add(KerasGraph.Add($"{n}_out", shortcut, $"{n}_2_conv"));
                }
                x = $"{n}_out";
            }
        if (c.Version == 2)
        {
            g.Add(KerasGraph.BatchNorm("post_bn", x, c.BnEps));
            g.Add(KerasGraph.Relu("post_relu", "post_bn"));
        }
        return g;
    }

    /// <summary>
    /// Our state-dict name → the Keras weight: conv1.weight → conv1_conv/kernel:0, conv2_block1.conv0.bias →
    /// conv2_block1_0_conv/bias:0, conv2_block1.bn1.running_var → conv2_block1_1_bn/moving_variance:0,
    /// conv2_block1.preact_bn.weight → conv2_block1_preact_bn/gamma:0, conv1_bn / post_bn as they are.
    /// </summary>
    static string KerasName(string name)
    {
        int dot = name.LastIndexOf('.');
        string module = name[..dot], parameter = name[(dot + 1)..];
        string[] parts = module.Split('.');
        string leaf = parts[^1];
        bool conv = leaf.StartsWith("conv", StringComparison.Ordinal) && !leaf.Contains('_');
        string kerasLeaf = leaf switch
        {
            _ when parts.Length == 1 && conv => $"{leaf}_conv",                              // conv1 → conv1_conv
            _ when conv => $"{leaf[4..]}_conv",                                              // conv0 → 0_conv
            _ when leaf.StartsWith("bn", StringComparison.Ordinal) => $"{leaf[2..]}_bn",      // bn1 → 1_bn
            _ => leaf,                                                                        // preact_bn, conv1_bn, post_bn
        };
        string layer = string.Join("_", parts[..^1].Append(kerasLeaf));
        string variable = parameter switch
        {
            "weight" => conv ? "kernel" : "gamma",
            "bias" => conv ? "bias" : "beta",
            "running_mean" => "moving_mean",
            "running_var" => "moving_variance",
            _ => parameter,
        };
        return $"{layer}/{variable}:0";
    }

    // ---- our layout ------------------------------------------------------------------------------------------------

    MappedWeights FromOurs(IWeightSource source, bool allowExtra)
    {
        MiniResNetConfig c;
        if (source.Metadata.TryGetValue("arch_config", out var json))
        {
            try { c = JsonSerializer.Deserialize<MiniResNetConfig>(json, Json) ?? throw new JsonException("null"); }
            catch (JsonException e) { throw new WeightFormatException(source.Path, $"arch_config is not a {Arch} configuration: {e.Message}"); }
            if (c.Version != version) throw Bad(source.Path, $"arch_config has version {c.Version}");
        }
        else
        {
            int stacks = 0, blocks = 0;
            while (StrictMatch.Has(source, $"{MiniResNetConfig.BlockName(stacks, 1)}.conv1.weight")) stacks++;
            while (StrictMatch.Has(source, $"{MiniResNetConfig.BlockName(0, blocks + 1)}.conv1.weight")) blocks++;
            c = new MiniResNetConfig(version, stacks, blocks, StrictMatch.Dim(source, "conv1.weight", 0, 64));
        }
        return StrictMatch.AsIs(source, Arch, c, "st-aed", ExpectedIn(source, c), allowExtra);
    }
}
