using System.Text.Json;
using NativeASD.Engine;
using NativeASD.Engine.Layers;
using NativeASD.Kernels;

namespace NativeASD.Tests.Engine.Layers;

/// <summary>One case of Tests/Fixtures/layers/manifest.json (written by Tests/Reference/make_layer_references.py).</summary>
public sealed class LayerCase(string name, JsonElement entry)
{
    public string Name { get; } = name;
    public string Kind => entry.GetProperty("kind").GetString()!;
    JsonElement Params => entry.GetProperty("params");
    JsonElement Files => entry.GetProperty("files");

    public bool Has(string file) => Files.TryGetProperty(file, out _);
    public (float[] Data, int[] Shape) Npy(string file) =>
        Files.TryGetProperty(file, out var f) ? Fixtures.Npy("layers", f.GetString()!) : throw new KeyNotFoundException($"{Name}: no file '{file}'");
    public float[] Data(string file) => Npy(file).Data;

    public Tensor Tensor(string file, IBackend backend)
    {
        var (data, shape) = Npy(file);
        return NativeASD.Engine.Tensor.FromSpan(data, shape, backend);
    }

    /// <summary>Copies a fixture into an existing tensor (a parameter or buffer), checking the shape.</summary>
    public void Load(string file, Tensor into)
    {
        var (data, shape) = Npy(file);
        Assert.True(data.Length == into.Count, $"{Name}: {file} has {data.Length} values for {into}");
        using var t = NativeASD.Engine.Tensor.FromSpan(data, into.ShapeArray(), into.Backend);
        Ops.Copy(t, into);
        _ = shape;
    }

    public bool HasParam(string key) => Params.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null;
    public JsonElement Param(string key) => Params.GetProperty(key);
    public int Int(string key) => Param(key).GetInt32();
    public float Float(string key) => (float)Param(key).GetDouble();
    public bool Bool(string key) => Param(key).GetBoolean();
    public string Str(string key) => Param(key).GetString()!;
    public int[] Ints(string key) => Param(key).EnumerateArray().Select(e => e.GetInt32()).ToArray();

    public override string ToString() => Name;
}

public static class LayerManifest
{
    static readonly Lazy<Dictionary<string, LayerCase>> All = new(() =>
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.PathOf("layers", "manifest.json")));
        return doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => new LayerCase(p.Name, p.Value.Clone()));
    });

    public static LayerCase Get(string name) => All.Value.TryGetValue(name, out var c) ? c : throw new KeyNotFoundException($"no layer case '{name}'");

    public static IEnumerable<LayerCase> OfKind(params string[] kinds) => All.Value.Values.Where(c => kinds.Contains(c.Kind)).OrderBy(c => c.Name);

    /// <summary>Loads the case's parameters, and its buffers' values before the first forward, into the layer.</summary>
    public static void LoadInitialState(LayerCase c, Layer layer)
    {
        foreach (var (name, p) in layer.NamedParameters()) c.Load(name, p.Value);
        foreach (var (name, b) in layer.NamedBuffers()) c.Load(name + ".initial", b);
    }

    /// <summary>Backward of the case's dy after the layer's last forward: dx and every parameter gradient against torch.</summary>
    public static void CheckBackward(LayerCase c, Layer layer, IBackend backend, string label)
    {
        using var dy = c.Tensor("dy", backend);
        using var dx = layer.Backward(dy);
        Close(c, "dx", dx, $"{label} dx", rel: 1e-5);
        foreach (var (name, p) in layer.NamedParameters()) Close(c, name + ".grad", p.Grad, $"{label} {name}.grad", rel: 1e-5);
    }

    /// <summary>
    /// The comparison of a float32 result with the float64 oracle: every element within
    /// maxAbs = <paramref name="rel"/>·max(1, max|expected|) (absolute, scaled to the output's magnitude, so
    /// values produced by cancellation are held to the output's scale). No NMSE bound: some expected gradients are exactly zero (a bias before BatchNorm).
    /// </summary>
    public static void Close(LayerCase c, string file, Tensor actual, string label, double rel = 2e-6)
    {
        var (expected, shape) = c.Npy(file);
        // The .npy reader gives a scalar (torch's num_batches_tracked, shape []) as [1].
        bool scalar = actual.Rank == 0 && expected.Length == 1;
        Assert.True(scalar || Layout.SameShape(shape, actual.Shape), $"{label}: shape {Layout.Format(actual.Shape)}, expected {Layout.Format(shape)}");
        Close(expected, actual.ToArray(), shape, label, rel);
    }

    public static void Close(float[] expected, float[] actual, int[] shape, string label, double rel = 2e-6)
    {
        double scale = Math.Max(1.0, expected.Max(v => Math.Abs((double)v)));
        TensorAssert.Close(expected, actual, shape, maxAbs: rel * scale, maxRel: 0, label: label);
    }
}
