using System.Text.Json;
using NativeASD.Engine.Frontend;
using NativeASD.Engine.IO;

namespace NativeASD.Tests.Engine.Frontend;

/// <summary>One case of Tests/Fixtures/frontend/manifest.json (written by Tests/Reference/make_frontend_references.py).</summary>
public sealed record FrontendCase(JsonElement Json)
{
    public string Id => Json.GetProperty("id").GetString()!;
    public string Kind => Json.GetProperty("kind").GetString()!;
    public int Rate => Json.GetProperty("rate").GetInt32();
    public string? Get(string name) => Json.TryGetProperty(name, out var v) ? v.ToString() : null;
    public double Tol(string name) => Json.GetProperty("tolerance").TryGetProperty(name, out var v) ? v.GetDouble() : double.NaN;

    public (float[] Data, int[] Shape) Expected => NpyFile.Read(Fixtures.PathOf("frontend", Get("expected")!));
    public float[] Signal => NpyFile.Read(Fixtures.PathOf("frontend", Get("signal")!)).Data;

    /// <summary>The preset named by the case, or for STFT cases a linear power-spectrum preset with the case's STFT settings.</summary>
    public FrontendPreset Preset => Kind == "stft"
        ? new FrontendPreset
        {
            Name = Id, Description = "stft reference case", SampleRate = Rate,
            NFft = int.Parse(Get("n_fft")!), WinLength = int.Parse(Get("win")!), Hop = int.Parse(Get("hop")!),
            Window = Get("window") == "hamming" ? WindowKind.Hamming : WindowKind.Hann,
            PeriodicWindow = Json.GetProperty("periodic").GetBoolean(), Center = Json.GetProperty("center").GetBoolean(),
            PadMode = Get("pad_mode") == "constant" ? PadMode.Constant : PadMode.Reflect,
            Log = LogKind.None,
        }
        : FrontendPreset.Get(Get("preset")!);
}

public static class FrontendManifest
{
    static readonly Lazy<IReadOnlyList<FrontendCase>> All = new(() =>
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.PathOf("frontend", "manifest.json")));
        return [.. doc.RootElement.GetProperty("cases").EnumerateArray().Select(e => new FrontendCase(e.Clone()))];
    });

    public static IReadOnlyList<FrontendCase> Cases => All.Value;
    public static FrontendCase Get(string id) => Cases.Single(c => c.Id == id);

    public static TheoryData<string> Ids(Func<FrontendCase, bool> where)
    {
        var data = new TheoryData<string>();
        foreach (var c in Cases.Where(where)) data.Add(c.Id);
        return data;
    }

    /// <summary>Compares an output with the case's expected values under its tolerance; returns the measured error.</summary>
    public static double Check(FrontendCase c, float[,] actual, string label, double? dynamicRangeDb = null, double? maxAbs = null)
    {
        var (expected, shape) = c.Expected;
        Assert.True(shape.Length == 2 && shape[0] == actual.GetLength(0) && shape[1] == actual.GetLength(1),
            $"{label}: shape [{actual.GetLength(0)}, {actual.GetLength(1)}], expected [{string.Join(", ", shape)}]");
        int cols = shape[1];
        double error;
        if (c.Kind == "stft")
        {
            double diff = 0, norm = 0;
            for (int i = 0; i < expected.Length; i++)
            {
                double e = expected[i], a = actual[i / cols, i % cols];
                diff += (a - e) * (a - e); norm += e * e;
            }
            error = norm == 0 ? Math.Sqrt(diff) : Math.Sqrt(diff / norm);
            Assert.True(error <= c.Tol("rel"), $"{label}: STFT power relative error {error:G3} > {c.Tol("rel"):G3}");
            return error;
        }
        double floor = c.Kind == "db" ? c.Tol("floor_db") : double.NegativeInfinity;
        if (dynamicRangeDb is { } range && c.Kind == "db") floor = Math.Max(floor, expected.Max() - range);
        double tol = maxAbs ?? c.Tol("max_abs");
        error = 0;
        int worst = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            if (!(expected[i] > floor)) continue;
            double d = Math.Abs(actual[i / cols, i % cols] - (double)expected[i]);
            if (!(d <= error)) { error = d; worst = i; }
        }
        if (error > tol)
            Assert.Fail($"{label}: max abs error {error:G3} > {tol:G3} at [{worst / cols}, {worst % cols}] (got {actual[worst / cols, worst % cols]}, expected {expected[worst]})");
        return error;
    }
}
