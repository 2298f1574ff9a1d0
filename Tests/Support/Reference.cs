using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using NativeASD.Engine;
using NativeASD.Engine.IO;
using Xunit.Sdk;

namespace NativeASD.Tests.Support;

/// <summary>Test fixture files, found next to the test assembly (Tests.csproj copies Fixtures/** to the output).</summary>
public static class Fixtures
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "Fixtures");

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    static readonly ConcurrentDictionary<string, (float[] Data, int[] Shape)> Loaded = new();

    /// <summary>A .npy fixture as float32 values and shape, read once and cached (callers must not modify the array).</summary>
    public static (float[] Data, int[] Shape) Npy(params string[] parts)
    {
        string path = PathOf(parts);
        return Loaded.GetOrAdd(path, p =>
        {
            if (!File.Exists(p))
                throw new FileNotFoundException($"fixture {p} is missing: run /usr/bin/python3 Tests/Reference/make_references.py", p);
            return NpyFile.Read(p);
        });
    }
}

/// <summary>Tolerance of one reference case: see the rules in Tests/Reference/make_references.py.</summary>
public sealed record Tolerance(double MaxAbs, double MaxRel, double Nmse, string Why = "")
{
    public static readonly Tolerance Exact = new(0, 0, 0, "exact");
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"max_abs {MaxAbs:G3}, max_rel {MaxRel:G3}, nmse {Nmse:G3}");
}

/// <summary>One case of Tests/Fixtures/ops/manifest.json.</summary>
public sealed class ReferenceCase
{
    public required string Id { get; init; }
    public required string Op { get; init; }
    public required JsonElement Params { get; init; }
    public required IReadOnlyDictionary<string, string> Inputs { get; init; }
    public required string Output { get; init; }
    public string? Scale { get; init; }
    public required Tolerance Tolerance { get; init; }
    public required string Oracle { get; init; }

    public (float[] Data, int[] Shape) Input(string name) =>
        Inputs.TryGetValue(name, out var file) ? Fixtures.Npy("ops", file) : throw new KeyNotFoundException($"{Id}: no input '{name}'");

    public bool HasInput(string name) => Inputs.ContainsKey(name);
    public (float[] Data, int[] Shape) Expected => Fixtures.Npy("ops", Output);
    public float[]? ScaleData => Scale is null ? null : Fixtures.Npy("ops", Scale).Data;

    public bool Has(string key) => Params.ValueKind == JsonValueKind.Object && Params.TryGetProperty(key, out _);
    JsonElement Param(string key) =>
        Params.TryGetProperty(key, out var v) ? v : throw new KeyNotFoundException($"{Id}: no parameter '{key}'");
    public int Int(string key) => Param(key).GetInt32();
    public float Float(string key) => (float)Param(key).GetDouble();
    public bool Bool(string key) => Param(key).GetBoolean();
    public string Str(string key) => Param(key).GetString()!;
    public int[] Ints(string key) => Param(key).EnumerateArray().Select(e => e.GetInt32()).ToArray();

    public override string ToString() => Id;
}

/// <summary>Tests/Fixtures/ops/manifest.json, written by Tests/Reference/make_references.py.</summary>
public static class ReferenceManifest
{
    static readonly Lazy<IReadOnlyList<ReferenceCase>> All = new(Load);

    public static IReadOnlyList<ReferenceCase> Cases => All.Value;

    public static ReferenceCase Get(string id) =>
        Cases.FirstOrDefault(c => c.Id == id) ?? throw new KeyNotFoundException($"no reference case '{id}' in the manifest");

    static IReadOnlyList<ReferenceCase> Load()
    {
        string path = Fixtures.PathOf("ops", "manifest.json");
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path} is missing: run /usr/bin/python3 Tests/Reference/make_references.py", path);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var list = new List<ReferenceCase>();
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            var t = c.GetProperty("tolerance");
            list.Add(new ReferenceCase
            {
                Id = c.GetProperty("id").GetString()!,
                Op = c.GetProperty("op").GetString()!,
                Params = c.GetProperty("params").Clone(),
                Inputs = c.GetProperty("inputs").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!),
                Output = c.GetProperty("output").GetString()!,
                Scale = c.TryGetProperty("scale", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null,
                Tolerance = new Tolerance(t.GetProperty("max_abs").GetDouble(), t.GetProperty("max_rel").GetDouble(),
                    t.GetProperty("nmse").GetDouble(), t.TryGetProperty("why", out var w) ? w.GetString() ?? "" : ""),
                Oracle = c.GetProperty("oracle").GetString()!,
            });
        }
        return list;
    }
}

/// <summary>Summary of a comparison: the worst errors and where they are.</summary>
public sealed record CloseStats(double MaxAbsError, double MaxRelError, double Nmse, long Failures, long WorstIndex, long Count);

/// <summary>Float tensor comparison with absolute, relative and NMSE tolerances and a useful failure message.</summary>
public static class TensorAssert
{
    /// <summary>Relative errors divide by max(reference, this): keeps exact zeros from dividing by zero.</summary>
    public const double DefaultRelFloor = 1e-38;

    /// <summary>
    /// Compares element by element. Element i passes when both are NaN, both are the same infinity, or
    /// err = |actual - expected| satisfies err &lt;= maxAbs or err &lt;= maxRel · ref, where ref = scale[i] when a
    /// scale is given (e.g. Σ|a||b| for a GEMM) and |expected[i]| otherwise (floored at <paramref name="relFloor"/>).
    /// +0 and −0 are equal. Over the finite elements NMSE = Σerr² / Σexpected² must also be &lt;= <paramref name="nmse"/>.
    /// On failure throws naming the worst element (flat index and multi-index), the failure count and the stats.
    /// </summary>
    public static CloseStats Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, ReadOnlySpan<int> shape,
        double maxAbs, double maxRel, double nmse = double.PositiveInfinity, string label = "",
        ReadOnlySpan<float> scale = default, double relFloor = DefaultRelFloor)
    {
        if (expected.Length != actual.Length)
            throw new XunitException($"{label}: expected {expected.Length} elements, got {actual.Length} (shape {Format(shape)})");
        if (!scale.IsEmpty && scale.Length != expected.Length)
            throw new XunitException($"{label}: scale has {scale.Length} elements for {expected.Length}");

        double maxAbsErr = 0, maxRelErr = 0, sumErr2 = 0, sumRef2 = 0;
        long failures = 0, worst = -1, worstRel = -1;
        double worstScore = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected[i], a = actual[i];
            if (!float.IsFinite(e) || !float.IsFinite(a))
            {
                bool same = float.IsNaN(e) ? float.IsNaN(a) : e == a;
                if (!same)
                {
                    failures++;
                    maxAbsErr = double.PositiveInfinity;
                    maxRelErr = double.PositiveInfinity;
                    if (worstScore < double.PositiveInfinity) { worstScore = double.PositiveInfinity; worst = i; }
                }
                continue;
            }
            double err = Math.Abs((double)a - e);
            double reference = scale.IsEmpty ? Math.Abs((double)e) : Math.Abs((double)scale[i]);
            double rel = err / Math.Max(reference, relFloor);
            sumErr2 += err * err;
            sumRef2 += (double)e * e;
            if (err > maxAbsErr) maxAbsErr = err;
            if (rel > maxRelErr) { maxRelErr = rel; worstRel = i; }
            bool ok = err <= maxAbs || rel <= maxRel;
            if (!ok)
            {
                failures++;
                // how far outside the tolerance: the smaller of the two excess ratios
                double score = Math.Min(maxAbs > 0 ? err / maxAbs : double.MaxValue, maxRel > 0 ? rel / maxRel : double.MaxValue);
                if (score == double.MaxValue) score = err;
                if (score > worstScore) { worstScore = score; worst = i; }
            }
        }
        double n = sumRef2 > 0 ? sumErr2 / sumRef2 : sumErr2 > 0 ? double.PositiveInfinity : 0;
        var stats = new CloseStats(maxAbsErr, maxRelErr, n, failures, worst >= 0 ? worst : worstRel, expected.Length);
        bool nmseOk = n <= nmse;
        StatsLog.Write(label, stats, maxAbs, maxRel, nmse);
        if (failures == 0 && nmseOk) return stats;

        var sb = new StringBuilder();
        sb.Append(label).Append(": ");
        if (failures > 0) sb.Append(failures).Append(" of ").Append(expected.Length).Append(" elements outside tolerance");
        else sb.Append("NMSE outside tolerance");
        sb.AppendLine();
        sb.Append(CultureInfo.InvariantCulture, $"  tolerance: max_abs {maxAbs:G4}, max_rel {maxRel:G4}{(scale.IsEmpty ? "" : " (of the scale)")}, nmse {nmse:G4}").AppendLine();
        sb.Append(CultureInfo.InvariantCulture, $"  measured:  max_abs {maxAbsErr:G4}, max_rel {maxRelErr:G4}, nmse {n:G4}{(nmseOk ? "" : "  <-- NMSE too large")}").AppendLine();
        long at = stats.WorstIndex;
        if (at >= 0)
        {
            AppendElement(sb, "worst", at, expected, actual, shape, scale);
            int shown = 0;
            for (int i = 0; i < expected.Length && shown < 5 && failures > 1; i++)
            {
                if (i == at || Passes(expected[i], actual[i], scale.IsEmpty ? Math.Abs(expected[i]) : Math.Abs(scale[i]), maxAbs, maxRel, relFloor)) continue;
                AppendElement(sb, "also", i, expected, actual, shape, scale);
                shown++;
            }
        }
        sb.Append("  shape ").Append(Format(shape));
        throw new XunitException(sb.ToString());
    }

    /// <summary>Compares a tensor with expected values and shape.</summary>
    public static CloseStats Close(float[] expected, int[] expectedShape, Tensor actual, Tolerance tolerance, string label, float[]? scale = null)
    {
        if (!expectedShape.AsSpan().SequenceEqual(actual.Shape))
            throw new XunitException($"{label}: shape {Format(actual.Shape)}, expected {Format(expectedShape)}");
        return Close(expected, actual.ToArray(), expectedShape, tolerance.MaxAbs, tolerance.MaxRel, tolerance.Nmse, label, scale);
    }

    /// <summary>Compares two tensors (shapes must match).</summary>
    public static CloseStats Close(Tensor expected, Tensor actual, double maxAbs, double maxRel, string label, double nmse = double.PositiveInfinity)
    {
        if (!expected.Shape.SequenceEqual(actual.Shape))
            throw new XunitException($"{label}: shape {Format(actual.Shape)}, expected {Format(expected.Shape)}");
        return Close(expected.ToArray(), actual.ToArray(), expected.ShapeArray(), maxAbs, maxRel, nmse, label);
    }

    /// <summary>Bit-for-bit equal values (NaN matches NaN, +0 matches -0).</summary>
    public static void Equal(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, ReadOnlySpan<int> shape, string label) =>
        Close(expected, actual, shape, 0, 0, 0, label);

    static bool Passes(float e, float a, double reference, double maxAbs, double maxRel, double relFloor)
    {
        if (!float.IsFinite(e) || !float.IsFinite(a)) return float.IsNaN(e) ? float.IsNaN(a) : e == a;
        double err = Math.Abs((double)a - e);
        return err <= maxAbs || err / Math.Max(reference, relFloor) <= maxRel;
    }

    static void AppendElement(StringBuilder sb, string what, long flat, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual,
        ReadOnlySpan<int> shape, ReadOnlySpan<float> scale)
    {
        float e = expected[(int)flat], a = actual[(int)flat];
        double err = Math.Abs((double)a - e);
        sb.Append(CultureInfo.InvariantCulture,
            $"  {what} element {flat} {Format(Unravel(flat, shape))}: expected {e:R}, actual {a:R}, abs err {err:G4}");
        double reference = scale.IsEmpty ? Math.Abs((double)e) : Math.Abs((double)scale[(int)flat]);
        if (reference > 0) sb.Append(CultureInfo.InvariantCulture, $", rel err {err / reference:G4}");
        if (!scale.IsEmpty) sb.Append(CultureInfo.InvariantCulture, $" (scale {scale[(int)flat]:G6})");
        if (float.IsFinite(e) && float.IsFinite(a)) sb.Append(CultureInfo.InvariantCulture, $", {UlpDistance(e, a)} ulp");
        sb.AppendLine();
    }

    /// <summary>Multi-index of a row-major flat index.</summary>
    public static int[] Unravel(long flat, ReadOnlySpan<int> shape)
    {
        var index = new int[shape.Length];
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            if (shape[i] == 0) return index;
            index[i] = (int)(flat % shape[i]);
            flat /= shape[i];
        }
        return index;
    }

    /// <summary>Number of float32 values between a and b (0 for equal values, +0 and -0 included).</summary>
    public static long UlpDistance(float a, float b)
    {
        static long Ordered(float f)
        {
            int bits = BitConverter.SingleToInt32Bits(f);
            return bits < 0 ? int.MinValue - (long)bits : bits;
        }
        return Math.Abs(Ordered(a) - Ordered(b));
    }

    static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(",", shape.ToArray()) + "]";
}

/// <summary>
/// When NASD_REFERENCE_STATS names a file, every comparison appends one tab-separated line to it (label, measured
/// max_abs / max_rel / nmse, then the tolerances): to see how much margin each tolerance has.
/// </summary>
static class StatsLog
{
    static readonly string? FilePath = Environment.GetEnvironmentVariable("NASD_REFERENCE_STATS");
    static readonly object Gate = new();

    public static void Write(string label, CloseStats s, double maxAbs, double maxRel, double nmse)
    {
        if (string.IsNullOrEmpty(FilePath)) return;
        string line = string.Create(CultureInfo.InvariantCulture,
            $"{label}\t{s.MaxAbsError:G4}\t{s.MaxRelError:G4}\t{s.Nmse:G4}\t{s.Failures}\t{maxAbs:G4}\t{maxRel:G4}\t{nmse:G4}\n");
        lock (Gate) File.AppendAllText(FilePath, line);
    }
}
