using NativeASD.Engine.Layers;
using NativeASD.Kernels;

namespace NativeASD.Engine.Architectures;

/// <summary>One tensor of a state dict as a file provides it: name, shape, and a reader that decodes it to float32 on demand.</summary>
/// <param name="ReadRange">When set, decodes elements [start, start + destination.Length) into destination; loading then
/// goes through one small buffer instead of a float32 copy of every tensor (a 150 MB conv weight would otherwise exist
/// twice while it loads).</param>
public sealed record NamedTensor(string Name, int[] Shape, Func<float[]> Read, Action<long, Span<float>>? ReadRange = null)
{
    public static NamedTensor Of(string name, float[] data, params int[] shape) => new(name, shape, () => data);
}

/// <summary>
/// Copies named tensors into a module's parameters and buffers by their dotted state-dict names (torch's
/// load_state_dict, strict): every parameter and buffer must be supplied with its exact shape, and every supplied
/// name must be one of them or accepted by <paramref name="extra"/>. Errors name the source and list the problems.
/// </summary>
public static class StateDict
{
    /// <summary>Decoded tensors from this many floats (16 MB) up are collected right after they are uploaded.</summary>
    const int LargeCopy = 1 << 22;

    /// <summary>Every parameter value and buffer of <paramref name="model"/> by state-dict name, parameters first.</summary>
    public static IEnumerable<(string Name, Tensor Tensor)> Entries(Module model) =>
        model.NamedParameters().Select(p => (p.Name, p.Parameter.Value)).Concat(model.NamedBuffers());

    /// <summary>
    /// Loads <paramref name="tensors"/> into <paramref name="model"/>. Names are matched after removing
    /// <paramref name="stripPrefix"/> when present (e.g. "model." for a checkpoint dict). Tensors whose names the model
    /// does not have are offered to <paramref name="extra"/> (return true to accept, e.g. a frontend stored alongside);
    /// anything left is an error, as is a missing or mis-shaped entry.
    /// </summary>
    public static void Load(Module model, IEnumerable<NamedTensor> tensors, string source, string? stripPrefix = null,
        Func<NamedTensor, bool>? extra = null)
    {
        var targets = Entries(model).ToDictionary(e => e.Name, e => e.Tensor, StringComparer.Ordinal);
        var loaded = new HashSet<string>(StringComparer.Ordinal);
        var problems = new List<string>();
        float[]? chunk = null;
        foreach (var raw in tensors)
        {
            var t = stripPrefix is not null && raw.Name.StartsWith(stripPrefix, StringComparison.Ordinal) ? raw with { Name = raw.Name[stripPrefix.Length..] } : raw;
            if (!targets.TryGetValue(t.Name, out var target))
            {
                if (extra is null || !extra(t)) problems.Add($"unexpected tensor '{t.Name}' {Layout.Format(t.Shape)}");
                continue;
            }
            if (!ShapesMatch(target.Shape, t.Shape))
            {
                problems.Add($"'{t.Name}' is {Layout.Format(t.Shape)} in the file but {Layout.Format(target.Shape)} in the model");
                continue;
            }
            if (!loaded.Add(t.Name)) { problems.Add($"'{t.Name}' appears twice"); continue; }
            if (t.ReadRange is { } readRange)
            {
                chunk ??= new float[1 << 20];
                for (long at = 0; at < target.Count; at += chunk.Length)
                {
                    var part = chunk.AsSpan(0, (int)Math.Min(chunk.Length, target.Count - at));
                    readRange(at, part);
                    target.Backend.Upload(part, target.Storage, target.Offset + at);
                }
                continue;
            }
            // A decoded copy this large (and the reader's raw bytes behind it) stays in the large-object heap until a
            // full collection, and its pages stay committed after it; collect and decommit once it is out of scope, so
            // the next one does not pile on top of it (a 300 MB .pth would otherwise peak at 2.7× the weights while it
            // loads, and the forward after it on top of that).
            if (UploadDecoded(t, target, problems) >= LargeCopy) GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }
        var missing = targets.Keys.Where(k => !loaded.Contains(k)).ToList();
        if (missing.Count > 0)
            problems.Add($"missing {missing.Count} tensor(s): {string.Join(", ", missing.Take(12))}{(missing.Count > 12 ? ", …" : "")}");
        if (problems.Count > 0)
            throw new InvalidDataException($"{source}: does not fit {Describe(model)}: {string.Join("; ", problems.Take(20))}{(problems.Count > 20 ? $"; … ({problems.Count} problems)" : "")}");
    }

    /// <summary>Decodes t whole and uploads it into target; returns how many floats were decoded. Not inlined, so the
    /// decoded array is unreachable once it returns.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    static long UploadDecoded(NamedTensor t, Tensor target, List<string> problems)
    {
        var data = t.Read();
        if (data.Length != target.Count) problems.Add($"'{t.Name}' decoded to {data.Length} values, expected {target.Count}");
        else target.Backend.Upload(data, target.Storage, target.Offset);
        return data.Length;
    }

    /// <summary>Exact shape match; a scalar stored as [] or [1] (torch's num_batches_tracked) matches either.</summary>
    static bool ShapesMatch(ReadOnlySpan<int> model, int[] file)
    {
        if (Layout.SameShape(model, file)) return true;
        bool modelScalar = model.Length <= 1 && Layout.Count(model) == 1;
        bool fileScalar = file.Length <= 1 && Layout.Count(file) == 1;
        return modelScalar && fileScalar;
    }

    static string Describe(Module model) => model is Layer l ? l.Describe() : model.GetType().Name;
}
