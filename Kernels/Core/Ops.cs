namespace NativeASD.Kernels;

/// <summary>Elementwise maps y = f(x); <c>alpha</c>/<c>beta</c> are the op's scalars where it has any.</summary>
public enum UnaryOp
{
    /// <summary>y = x (a strided copy: permute, transpose, make contiguous).</summary>
    Copy,
    Neg,
    /// <summary>y = alpha·x + beta.</summary>
    Affine,
    Relu,
    /// <summary>y = min(max(x, 0), 6).</summary>
    Relu6,
    /// <summary>y = x if x ≥ 0 else alpha·x.</summary>
    LeakyRelu,
    Sigmoid,
    Tanh,
    Exp,
    /// <summary>Natural logarithm.</summary>
    Log,
    Sqrt,
    Abs,
    Square,
    /// <summary>y = x·min(max(x + 3, 0), 6)/6 (MobileNetV3; torch.nn.Hardswish).</summary>
    Hardswish,
}

/// <summary>Elementwise y = a ∘ b, with both inputs already broadcast to y's shape (stride 0 on repeated axes).</summary>
public enum BinaryOp { Add, Sub, Mul, Div, Max, Min }

/// <summary>Reductions along one axis.</summary>
public enum ReduceOp
{
    Sum,
    Mean,
    Max,
    Min,
    /// <summary>Variance with a correction (0 = population, 1 = unbiased), two-pass for accuracy.</summary>
    Variance,
    /// <summary>Index of the first maximum, written as float32 (exact up to 2^24).</summary>
    ArgMax,
}

/// <summary>
/// Row-major batched GEMM: C[b] = alpha · op(A[b]) · op(B[b]) + beta · C[b], where op(A) is m×k and op(B) is k×n.
/// A untransposed holds A[i,p] at A.Offset + b·StrideA + i·Lda + p; transposed it holds A[i,p] at … + p·Lda + i.
/// beta = 0 overwrites C without reading it (NaNs already in C do not leak through).
/// </summary>
public readonly record struct GemmArgs(
    int M, int N, int K,
    float Alpha,
    Storage A, long OffsetA, int Lda, bool TransA,
    Storage B, long OffsetB, int Ldb, bool TransB,
    float Beta,
    Storage C, long OffsetC, int Ldc,
    int Batch = 1, long StrideA = 0, long StrideB = 0, long StrideC = 0);
