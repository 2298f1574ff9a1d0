using NativeASD.Engine.Architectures;
using NativeASD.Engine.Layers;

namespace NativeASD.Engine.Diagnostics;

/// <summary>He-normal weights and plausible BatchNorm statistics from a seed, written in chunks (no large garbage), for timing runs.</summary>
public static class RandomWeights
{
    /// <returns>The number of parameters (buffers such as num_batches_tracked excluded).</returns>
    public static long Fill(Module model, ulong seed)
    {
        var rng = new SeededRandom(seed);
        long parameters = 0;
        var chunk = new float[1 << 20];
        foreach (var (name, t) in StateDict.Entries(model))
        {
            string leaf = name[(name.LastIndexOf('.') + 1)..];
            float std = t.Rank > 1 ? MathF.Sqrt(2f / (t.Count / t.Dim(0))) : 0f;
            for (long at = 0; at < t.Count; at += chunk.Length)
            {
                int n = (int)Math.Min(chunk.Length, t.Count - at);
                for (int i = 0; i < n; i++)
                    chunk[i] = leaf switch
                    {
                        "running_var" => rng.Uniform(0.5f, 2f),
                        "running_mean" or "bias" => rng.Normal(0f, 0.1f),
                        "num_batches_tracked" => 1f,
                        _ when t.Rank == 1 => rng.Uniform(0.5f, 1.5f),
                        _ => rng.Normal(0f, std),
                    };
                t.Backend.Upload(chunk.AsSpan(0, n), t.Storage, t.Offset + at);
            }
            if (!name.EndsWith("num_batches_tracked")) parameters += t.Count;
        }
        return parameters;
    }
}
