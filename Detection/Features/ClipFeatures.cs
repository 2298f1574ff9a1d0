namespace NativeASD.Detection.Features;

/// <summary>
/// The features of one clip: <see cref="Rows"/> vectors of <see cref="Dimension"/> floats (segments of a backbone's
/// output, or stacked log-mel frames), row-major. <see cref="Levels"/> splits the columns into consecutive blocks, one
/// per tap point (e.g. [64, 128] for taps layer1,layer2), for detectors that treat levels separately.
/// </summary>
public sealed record ClipFeatures(string Source, float[] Values, int Rows, int Dimension, int[] Levels)
{
    public static ClipFeatures Single(string source, float[] vector) => new(source, vector, 1, vector.Length, [vector.Length]);

    public ReadOnlySpan<float> Row(int r) => Values.AsSpan(r * Dimension, Dimension);

    /// <summary>Throws naming the file when the shape is inconsistent or a value is not finite.</summary>
    public void Validate()
    {
        if (Rows < 1 || Dimension < 1 || Values.Length != (long)Rows * Dimension)
            throw new InvalidDataException($"{Source}: features of {Values.Length} values do not form [{Rows}, {Dimension}]");
        if (Levels.Sum() != Dimension)
            throw new InvalidDataException($"{Source}: tap levels [{string.Join(",", Levels)}] do not add up to {Dimension} features");
        for (int i = 0; i < Values.Length; i++)
            if (!float.IsFinite(Values[i]))
                throw new InvalidDataException($"{Source}: feature {i % Dimension} of row {i / Dimension} is {Values[i]}");
    }

    /// <summary>Mean over rows: the clip-level vector (global average pooling over segments).</summary>
    public float[] Pooled()
    {
        var mean = new double[Dimension];
        for (int r = 0; r < Rows; r++)
        {
            var row = Row(r);
            for (int j = 0; j < Dimension; j++) mean[j] += row[j];
        }
        return mean.Select(v => (float)(v / Rows)).ToArray();
    }
}
