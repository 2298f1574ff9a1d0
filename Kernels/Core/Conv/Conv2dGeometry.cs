namespace NativeASD.Kernels;

/// <summary>
/// Shapes and hyper-parameters of one 2-D convolution over NCHW tensors, shared by every backend.
/// Padding is given per side (TF "SAME" pads asymmetrically: bottom/right get the extra row/column).
/// </summary>
public readonly record struct Conv2dGeometry(
    int Batch, int InChannels, int Height, int Width,
    int OutChannels, int KernelH, int KernelW,
    int StrideH = 1, int StrideW = 1,
    int PadTop = 0, int PadBottom = 0, int PadLeft = 0, int PadRight = 0,
    int DilationH = 1, int DilationW = 1, int Groups = 1)
{
    public int OutHeight => (Height + PadTop + PadBottom - DilationH * (KernelH - 1) - 1) / StrideH + 1;
    public int OutWidth => (Width + PadLeft + PadRight - DilationW * (KernelW - 1) - 1) / StrideW + 1;
    public int InPerGroup => InChannels / Groups;
    public int OutPerGroup => OutChannels / Groups;
    /// <summary>Reduction length of one output: C/groups · kh · kw.</summary>
    public int PatchSize => InPerGroup * KernelH * KernelW;

    public int[] InputShape => [Batch, InChannels, Height, Width];
    public int[] OutputShape => [Batch, OutChannels, OutHeight, OutWidth];
    public int[] WeightShape => [OutChannels, InPerGroup, KernelH, KernelW];

    /// <summary>Multiply-adds × 2 of one forward pass.</summary>
    public double Flops => 2.0 * Batch * OutChannels * PatchSize * OutHeight * (double)OutWidth;

    /// <summary>Throws naming <paramref name="op"/> and the shapes when the configuration is impossible.</summary>
    public void Validate(string op)
    {
        if (Batch < 0 || InChannels < 1 || OutChannels < 1 || Height < 1 || Width < 1 || KernelH < 1 || KernelW < 1)
            throw new ArgumentException($"{op}: invalid sizes ({this})");
        if (StrideH < 1 || StrideW < 1 || DilationH < 1 || DilationW < 1 || Groups < 1)
            throw new ArgumentException($"{op}: stride, dilation and groups must be >= 1 ({this})");
        if (PadTop < 0 || PadBottom < 0 || PadLeft < 0 || PadRight < 0)
            throw new ArgumentException($"{op}: negative padding ({this})");
        if (InChannels % Groups != 0 || OutChannels % Groups != 0)
            throw new ArgumentException($"{op}: {InChannels} input and {OutChannels} output channels must both be divisible by groups={Groups}");
        int spanH = DilationH * (KernelH - 1) + 1, spanW = DilationW * (KernelW - 1) + 1;
        if (Height + PadTop + PadBottom < spanH || Width + PadLeft + PadRight < spanW)
            throw new ArgumentException(
                $"{op}: input {Height}x{Width} (padded {Height + PadTop + PadBottom}x{Width + PadLeft + PadRight}) is smaller than the kernel's reach {spanH}x{spanW}");
    }

    public override string ToString() =>
        $"x [{Batch},{InChannels},{Height},{Width}], w [{OutChannels},{InPerGroup},{KernelH},{KernelW}], stride {StrideH}x{StrideW}, " +
        $"pad t{PadTop} b{PadBottom} l{PadLeft} r{PadRight}, dilation {DilationH}x{DilationW}, groups {Groups}";
}

public enum PoolKind { Max, Average }

/// <summary>
/// One 2-D max or average pooling over NCHW tensors, torch semantics: symmetric zero/−∞ padding of at most half the
/// kernel, floor output size, and for averages count_include_pad (the divisor counts padded positions inside the
/// padded input) unless <see cref="CountIncludePad"/> is false.
/// </summary>
public readonly record struct Pool2dGeometry(
    PoolKind Kind, int Batch, int Channels, int Height, int Width,
    int KernelH, int KernelW, int StrideH, int StrideW, int PadH = 0, int PadW = 0, bool CountIncludePad = true)
{
    public int OutHeight => (Height + 2 * PadH - KernelH) / StrideH + 1;
    public int OutWidth => (Width + 2 * PadW - KernelW) / StrideW + 1;
    public int[] InputShape => [Batch, Channels, Height, Width];
    public int[] OutputShape => [Batch, Channels, OutHeight, OutWidth];

    public void Validate(string op)
    {
        if (Batch < 0 || Channels < 1 || Height < 1 || Width < 1 || KernelH < 1 || KernelW < 1 || StrideH < 1 || StrideW < 1)
            throw new ArgumentException($"{op}: invalid sizes ({this})");
        if (PadH < 0 || PadW < 0 || 2 * PadH > KernelH || 2 * PadW > KernelW)
            throw new ArgumentException($"{op}: padding {PadH}x{PadW} must be between 0 and half the kernel {KernelH}x{KernelW}");
        if (Height + 2 * PadH < KernelH || Width + 2 * PadW < KernelW)
            throw new ArgumentException($"{op}: input {Height}x{Width} (padded {Height + 2 * PadH}x{Width + 2 * PadW}) is smaller than the kernel {KernelH}x{KernelW}");
    }

    public override string ToString() =>
        $"{Kind} pool of x [{Batch},{Channels},{Height},{Width}], kernel {KernelH}x{KernelW}, stride {StrideH}x{StrideW}, pad {PadH}x{PadW}";
}
