using System.Text.Json;
using NativeASD.Engine;
using NativeASD.Engine.Layers;
using NativeASD.Kernels;
using Xunit.Abstractions;

namespace NativeASD.Tests.Engine.Layers;

/// <summary>
/// Conv2d in one class, over three files: here Conv2d, Conv1d, MaxPool2d and AvgPool2d against PyTorch
/// (Tests/Fixtures/conv, written by Tests/Reference/make_conv_references.py): forward output, input gradient and parameter
/// gradients, on every backend; in Conv2dTests.Kernels.cs the backend ops against float64 loops, the CPU fast paths,
/// thread-count determinism, finite differences and errors; in Conv2dTests.Fused.cs the fused conv → BN → residual → ReLU.
/// </summary>
public partial class Conv2dTests(ITestOutputHelper output)
{
    sealed record Case(string Id, JsonElement Json)
    {
        public (float[] Data, int[] Shape) File(string name) => Fixtures.Npy("conv", Json.GetProperty("files").GetProperty(name).GetString()!);
        public bool Has(string name) => Json.GetProperty("files").TryGetProperty(name, out _);
        public int[] Pair(string name) => Json.GetProperty(name).EnumerateArray().Select(e => e.GetInt32()).ToArray();
        public Tolerance Tolerance => new(Json.GetProperty("tolerance").GetProperty("max_abs").GetDouble(),
            Json.GetProperty("tolerance").GetProperty("max_rel").GetDouble(),
            Json.GetProperty("tolerance").GetProperty("nmse").GetDouble(), "see make_conv_references.py");
    }

    static readonly Lazy<Dictionary<string, Case>> All = new(() =>
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.PathOf("conv", "manifest.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray()
            .Select(c => new Case(c.GetProperty("id").GetString()!, c.Clone())).ToDictionary(c => c.Id);
    });

    public static TheoryData<string, string> TorchCases
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var id in All.Value.Keys)
                foreach (var backend in TestBackends.AllNames()) data.Add(id, backend);
            return data;
        }
    }

    [Fact]
    public void ManifestCoversTheVariants()
    {
        var ids = All.Value.Keys.ToList();
        foreach (var part in new[] { "stride2", "dilation", "groups", "depthwise", "pointwise", "same", "conv1d", "max", "avg", "ties", "exclude_pad" })
            Assert.Contains(ids, id => id.Contains(part));
    }

    static void Set(Parameter p, float[] data) => p.Value.Backend.Upload(data, p.Value.Storage, p.Value.Offset);

    [Theory]
    [MemberData(nameof(TorchCases))]
    public void MatchesTorch(string id, string backendName)
    {
        var c = All.Value[id];
        var backend = TestBackends.Get(backendName);
        string label = $"{id} on {backendName}";
        var j = c.Json;
        string op = j.GetProperty("op").GetString()!;
        var (x, xShape) = c.File("x");
        var (dy, dyShape) = c.File("dy");
        using var xt = Tensor.FromSpan(x, xShape, backend);
        using var dyt = Tensor.FromSpan(dy, dyShape, backend);
        using Layer layer = op switch
        {
            "conv2d" or "conv1d" => MakeConv(c, op, backend),
            "max_pool2d" => new MaxPool2d((c.Pair("kernel")[0], c.Pair("kernel")[1]), (c.Pair("stride")[0], c.Pair("stride")[1]),
                (c.Pair("padding")[0], c.Pair("padding")[1]), backend),
            _ => new AvgPool2d((c.Pair("kernel")[0], c.Pair("kernel")[1]), (c.Pair("stride")[0], c.Pair("stride")[1]),
                (c.Pair("padding")[0], c.Pair("padding")[1]), j.GetProperty("count_include_pad").GetBoolean(), backend),
        };
        using var y = layer.Forward(xt);
        var (ey, eyShape) = c.File("y");
        TensorAssert.Close(ey, eyShape, y, c.Tolerance, label + " y");
        using var dx = layer.Backward(dyt);
        var (edx, edxShape) = c.File("dx");
        TensorAssert.Close(edx, edxShape, dx, c.Tolerance, label + " dx");
        if (!op.StartsWith("conv")) return;
        var weight = layer.NamedParameters().Single(p => p.Name == "weight").Parameter;
        var (edw, edwShape) = c.File("dw");
        TensorAssert.Close(edw, edwShape, weight.Grad, c.Tolerance, label + " dweight");
        if (c.Has("db"))
        {
            var (edb, edbShape) = c.File("db");
            TensorAssert.Close(edb, edbShape, layer.NamedParameters().Single(p => p.Name == "bias").Parameter.Grad, c.Tolerance, label + " dbias");
        }
    }

    static Layer MakeConv(Case c, string op, IBackend backend)
    {
        var j = c.Json;
        int cin = j.GetProperty("in").GetInt32(), cout = j.GetProperty("out").GetInt32(), groups = j.GetProperty("groups").GetInt32();
        bool bias = j.GetProperty("bias").GetBoolean(), same = j.GetProperty("padding").ValueKind == JsonValueKind.String;
        int[] k = c.Pair("kernel"), s = c.Pair("stride"), d = c.Pair("dilation"), p = same ? [0, 0] : c.Pair("padding");
        var padding = same ? ConvPadding.Same : ConvPadding.Symmetric(p[0], p[1]);
        Layer layer = op == "conv1d"
            ? new Conv1d(cin, cout, k[1], s[1], same ? ConvPadding.Same : new ConvPadding(0, 0, p[1], p[1]), d[1], groups, bias, backend: backend)
            : new Conv2d(cin, cout, (k[0], k[1]), (s[0], s[1]), padding, (d[0], d[1]), groups, bias, backend: backend);
        var named = layer.NamedParameters().ToDictionary(q => q.Name, q => q.Parameter);
        Set(named["weight"], c.File("w").Data);
        if (bias) Set(named["bias"], c.File("b").Data);
        return layer;
    }
}
