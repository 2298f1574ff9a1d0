namespace NativeASD.Kernels;

/// <summary>
/// What an inference convolution applies to each output before it is written (<see cref="IBackend.Conv2dForwardFused"/>):
/// y = conv·Scale[o] + Shift[o] (+ Residual) (then ReLU). An eval-mode BatchNorm folds into Scale = γ/√(var + eps) and
/// Shift = β − mean·Scale (a conv bias folds into Shift); Residual is a tensor of y's shape (a ResNet shortcut).
/// Scale and Shift are [O] and contiguous, Residual contiguous.
/// </summary>
public readonly record struct ConvEpilogue(StridedView Scale, StridedView Shift, StridedView? Residual, bool Relu);
