using NativeASD.Kernels;

namespace NativeASD.Engine.Layers;

/// <summary>
/// Padding of a convolution: explicit pixels per side, or TensorFlow's "SAME", which pads so that the output has
/// ceil(input / stride) positions, splitting the total with the extra pixel at the bottom/right (resolved per input size).
/// </summary>
public readonly record struct ConvPadding(int Top, int Bottom, int Left, int Right, bool IsSame = false)
{
    public static ConvPadding Same => new(0, 0, 0, 0, true);
    public static ConvPadding Symmetric(int pad) => new(pad, pad, pad, pad);
    public static ConvPadding Symmetric(int padH, int padW) => new(padH, padH, padW, padW);

    public static implicit operator ConvPadding(int pad) => Symmetric(pad);

    /// <summary>(before, after) along one axis of <paramref name="size"/> inputs.</summary>
    public static (int Before, int After) SameAlong(int size, int kernel, int stride, int dilation)
    {
        int outSize = (size + stride - 1) / stride;
        int total = Math.Max((outSize - 1) * stride + dilation * (kernel - 1) + 1 - size, 0);
        return (total / 2, total - total / 2);
    }

    public override string ToString() => IsSame ? "SAME" : Top == Bottom && Left == Right && Top == Left ? $"{Top}" : $"t{Top} b{Bottom} l{Left} r{Right}";
}
