using NativeASD.Engine.Frontend;
using NativeASD.Kernels;

namespace NativeASD.Engine.Architectures;

/// <summary>
/// From a clip's frontend features to a model's input, and from tap outputs to feature vectors: the glue of
/// <c>nasd embed</c> / <c>nasd tag</c> and of detectors that take features from a pretrained backbone.
/// </summary>
public static class TapFeatures
{
    /// <summary>
    /// The model input for one clip's features [frames, bins]: [1, 1, frames, bins] (PANNs, honk), or for presets with
    /// patches (YAMNet) the whole patches [P, 1, patch frames, bins]. Throws naming the source when the clip is too short.
    /// </summary>
    public static Tensor Input(FrontendPreset preset, float[,] features, string source, IBackend? backend = null)
    {
        int frames = features.GetLength(0), bins = features.GetLength(1);
        if (preset.PatchFrames > 0)
        {
            var patches = FrameStacking.Patches(features, preset.PatchFrames, preset.PatchHop);
            int p = patches.GetLength(0);
            if (p == 0) throw new ArgumentException($"{source}: {frames} frames are fewer than one {preset.PatchFrames}-frame {preset.Name} patch");
            return Tensor.FromSpan(Flatten(patches), [p, 1, preset.PatchFrames, bins], backend);
        }
        if (frames == 0) throw new ArgumentException($"{source}: no frames");
        return Tensor.FromSpan(Flatten(features), [1, 1, frames, bins], backend);
    }

    /// <summary>
    /// The model input for a batch of spectrograms already on the network's backend, [N, 1, frames, bins]: the same
    /// tensor, or for presets with patches the clips' whole patches [N·P, 1, patch frames, bins] (clip by clip), gathered on
    /// that backend in one strided copy (patches overlap: a view of the frames with a patch stride of hop·bins).
    /// </summary>
    public static Tensor Input(FrontendPreset preset, Tensor spectrograms, string source)
    {
        int n = spectrograms.Dim(0), frames = spectrograms.Dim(2), bins = spectrograms.Dim(3);
        if (preset.PatchFrames == 0) return spectrograms.Share();
        int p = PatchCount(frames, preset);
        if (p == 0) throw new ArgumentException($"{source}: {frames} frames are fewer than one {preset.PatchFrames}-frame {preset.Name} patch");
        var input = Tensor.Empty([n * p, 1, preset.PatchFrames, bins], spectrograms.Backend);
        using var contiguous = spectrograms.Contiguous();
        var patches = new StridedView(contiguous.Storage, contiguous.Offset, [n, p, preset.PatchFrames, bins],
            [(long)frames * bins, (long)preset.PatchHop * bins, bins, 1]);
        var into = new StridedView(input.Storage, 0, [n, p, preset.PatchFrames, bins], Layout.ContiguousStrides([n, p, preset.PatchFrames, bins]));
        input.Backend.Unary(UnaryOp.Copy, patches, into);
        return input;
    }

    /// <summary>Whole patches in <paramref name="frames"/> frames of a preset with patches (as <see cref="FrameStacking.Patches"/> cuts them).</summary>
    public static int PatchCount(int frames, FrontendPreset preset) =>
        frames < preset.PatchFrames ? 0 : 1 + (frames - preset.PatchFrames) / preset.PatchHop;

    /// <summary>Mean over every axis but the channel axis 1 (batch/patches included): [N, C, …] → [C].</summary>
    public static float[] GlobalMean(Tensor tap)
    {
        if (tap.Rank < 2) throw new ArgumentException($"global mean: tap {Layout.Format(tap.Shape)} has no channel axis");
        int c = tap.Dim(1);
        using var channelsFirst = tap.Transpose(0, 1);              // [C, N, …]
        using var rows = channelsFirst.Reshape(c, -1);
        using var mean = Ops.Mean(rows, 1);
        return mean.ToArray();
    }

    /// <summary>
    /// Per-frame rows: [N, C, T, F] → mean over F → [N·T, C]; [N, C] → [N, C] (one row per clip or patch).
    /// </summary>
    public static (float[] Data, int Rows, int Channels) PerFrame(Tensor tap)
    {
        int c = tap.Dim(1);
        if (tap.Rank == 2) return (tap.ToArray(), tap.Dim(0), c);
        if (tap.Rank != 4) throw new ArgumentException($"per-frame: tap {Layout.Format(tap.Shape)} is neither [N, C] nor [N, C, T, F]");
        using var overF = Ops.Mean(tap, 3);                         // [N, C, T]
        using var rows = overF.Transpose(1, 2);                     // [N, T, C]
        using var flat = rows.Reshape(-1, c);
        return (flat.ToArray(), flat.Dim(0), c);
    }

    static float[] Flatten(Array a)
    {
        var data = new float[a.Length];
        Buffer.BlockCopy(a, 0, data, 0, data.Length * sizeof(float));
        return data;
    }
}
