namespace NativeASD.Kernels;

// ---- convolution and pooling ops (kept in their own file: other op families extend IBackend elsewhere) ----
public partial interface IBackend
{
    /// <summary>
    /// y[N, O, Ho, Wo] = conv2d(x[N, C, H, W], w[O, C/groups, kh, kw]) + bias[O] (bias optional).
    /// All views contiguous; y is overwritten.
    /// </summary>
    void Conv2dForward(in Conv2dGeometry g, in StridedView x, in StridedView w, StridedView? bias, in StridedView y);

    /// <summary>
    /// Inference conv and what follows it in one pass: y = conv2d(x, w)·scale[o] + shift[o] (+ residual) (then ReLU), see
    /// <see cref="ConvEpilogue"/>, so an eval-mode conv → BatchNorm → (+ shortcut) → ReLU writes its output once. Has no
    /// backward; a backend may use a different algorithm than <see cref="Conv2dForward"/> (the rounding differs, not the maths).
    /// </summary>
    void Conv2dForwardFused(in Conv2dGeometry g, in StridedView x, in StridedView w, in ConvEpilogue epilogue, in StridedView y);

    /// <summary>dx[N, C, H, W] = the gradient of the conv with respect to its input (a transposed conv of dy); dx is overwritten.</summary>
    void Conv2dBackwardData(in Conv2dGeometry g, in StridedView dy, in StridedView w, in StridedView dx);

    /// <summary>dw[O, C/groups, kh, kw] += Σ dy ⊗ im2col(x); db[O] += Σ dy over batch and positions (db optional). Accumulates.</summary>
    void Conv2dBackwardWeight(in Conv2dGeometry g, in StridedView x, in StridedView dy, in StridedView dw, StridedView? db);

    /// <summary>
    /// y[N, C, Ho, Wo] = max or average pool of x[N, C, H, W]. Max pooling also writes, when given, the flat index
    /// (iy·W + ix, as float32) of each window's first maximum into <paramref name="indices"/> (shape of y).
    /// </summary>
    void Pool2dForward(in Pool2dGeometry g, in StridedView x, in StridedView y, StridedView? indices);

    /// <summary>dx[N, C, H, W] (overwritten) from dy[N, C, Ho, Wo]; max pooling routes dy through <paramref name="indices"/> from the forward.</summary>
    void Pool2dBackward(in Pool2dGeometry g, in StridedView dy, StridedView? indices, in StridedView dx);
}
