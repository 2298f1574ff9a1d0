namespace NativeASD.Engine.Frontend;

/// <summary>How models group frontend frames.</summary>
public static class FrameStacking
{
    /// <summary>
    /// DCASE 2020 baseline vectors (common.py file_to_vector_array): row t is frames t … t + k − 1 concatenated in
    /// time order, for every t (stride 1), so [frames, bins] → [frames − k + 1, k·bins]; a clip with fewer than k
    /// frames gives no rows.
    /// </summary>
    public static float[,] Stack(float[,] features, int k)
    {
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), $"frame stacking: k must be >= 1, got {k}");
        int frames = features.GetLength(0), bins = features.GetLength(1);
        int rows = Math.Max(0, frames - k + 1);
        var stacked = new float[rows, k * bins];
        for (int t = 0; t < rows; t++)
            for (int j = 0; j < k; j++)
                for (int b = 0; b < bins; b++) stacked[t, j * bins + b] = features[t + j, b];
        return stacked;
    }

    /// <summary>
    /// YAMNet patches: windows of <paramref name="length"/> frames every <paramref name="hop"/> frames
    /// ([frames, bins] → [patches, length, bins]); only whole patches are kept.
    /// </summary>
    public static float[,,] Patches(float[,] features, int length, int hop)
    {
        if (length < 1 || hop < 1) throw new ArgumentOutOfRangeException(nameof(length), $"patches: length and hop must be >= 1, got {length} and {hop}");
        int frames = features.GetLength(0), bins = features.GetLength(1);
        int count = frames < length ? 0 : 1 + (frames - length) / hop;
        var patches = new float[count, length, bins];
        for (int p = 0; p < count; p++)
            for (int t = 0; t < length; t++)
                for (int b = 0; b < bins; b++) patches[p, t, b] = features[p * hop + t, b];
        return patches;
    }
}
