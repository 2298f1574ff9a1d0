using System.Runtime.CompilerServices;

namespace NativeASD.Kernels.Cpu;

/// <summary>
/// Register-blocked GEMM micro-kernels: C[MR×NR] (=|+=) alpha · Ap · Bp over one packed K block, where Ap is an
/// MR-row panel stored k-major (MR floats per k) and Bp an NR-column panel stored k-major (NR floats per k).
/// NR is two vectors; the accumulators live in registers for the whole K block, then are scaled and stored:
/// C = alpha·acc + beta·C, or C = alpha·acc when beta is 0 (C is not read, so NaNs in it do not leak).
/// Every element goes through the same instruction sequence, whichever tile or thread computes it.
/// </summary>
internal static unsafe class GemmMicroKernels
{
    /// <summary>6 rows × 2 vectors: 12 accumulators + 2 B vectors + 1 broadcast = 15 registers (fits 16-register ISAs: AVX2, SSE, scalar).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel6x2<T, V>(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
        where T : struct, IGemmVector<V> where V : struct
    {
        int w = T.Width;
        V c00 = T.Zero, c01 = T.Zero, c10 = T.Zero, c11 = T.Zero, c20 = T.Zero, c21 = T.Zero;
        V c30 = T.Zero, c31 = T.Zero, c40 = T.Zero, c41 = T.Zero, c50 = T.Zero, c51 = T.Zero;
        for (int p = 0; p < kc; p++)
        {
            V b0 = T.Load(b), b1 = T.Load(b + w);
            V ai = T.Broadcast(a[0]); c00 = T.MultiplyAdd(ai, b0, c00); c01 = T.MultiplyAdd(ai, b1, c01);
            ai = T.Broadcast(a[1]); c10 = T.MultiplyAdd(ai, b0, c10); c11 = T.MultiplyAdd(ai, b1, c11);
            ai = T.Broadcast(a[2]); c20 = T.MultiplyAdd(ai, b0, c20); c21 = T.MultiplyAdd(ai, b1, c21);
            ai = T.Broadcast(a[3]); c30 = T.MultiplyAdd(ai, b0, c30); c31 = T.MultiplyAdd(ai, b1, c31);
            ai = T.Broadcast(a[4]); c40 = T.MultiplyAdd(ai, b0, c40); c41 = T.MultiplyAdd(ai, b1, c41);
            ai = T.Broadcast(a[5]); c50 = T.MultiplyAdd(ai, b0, c50); c51 = T.MultiplyAdd(ai, b1, c51);
            a += 6;
            b += 2 * w;
        }
        V al = T.Broadcast(alpha);
        if (beta == 0f)
        {
            Set<T, V>(c, w, c00, c01, al); c += ldc;
            Set<T, V>(c, w, c10, c11, al); c += ldc;
            Set<T, V>(c, w, c20, c21, al); c += ldc;
            Set<T, V>(c, w, c30, c31, al); c += ldc;
            Set<T, V>(c, w, c40, c41, al); c += ldc;
            Set<T, V>(c, w, c50, c51, al);
        }
        else
        {
            V be = T.Broadcast(beta);
            Update<T, V>(c, w, c00, c01, al, be); c += ldc;
            Update<T, V>(c, w, c10, c11, al, be); c += ldc;
            Update<T, V>(c, w, c20, c21, al, be); c += ldc;
            Update<T, V>(c, w, c30, c31, al, be); c += ldc;
            Update<T, V>(c, w, c40, c41, al, be); c += ldc;
            Update<T, V>(c, w, c50, c51, al, be);
        }
    }

    /// <summary>
    /// <see cref="Kernel6x2{T, V}"/> (alpha 1) with A unpacked: row r of the block is a[r·lda + p], p &lt; kc (a weight
    /// matrix read in place). Rows from <paramref name="rows"/> on repeat the last real one, so nothing past the matrix is
    /// read; the caller keeps only the first <paramref name="rows"/> rows of C.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel6x2Rows<T, V>(int kc, float* a, nint lda, int rows, float* b, float* c, nint ldc, float beta)
        where T : struct, IGemmVector<V> where V : struct
    {
        int w = T.Width;
        float* a0 = a, a1 = a + Math.Min(1, rows - 1) * lda, a2 = a + Math.Min(2, rows - 1) * lda;
        float* a3 = a + Math.Min(3, rows - 1) * lda, a4 = a + Math.Min(4, rows - 1) * lda, a5 = a + Math.Min(5, rows - 1) * lda;
        V c00 = T.Zero, c01 = T.Zero, c10 = T.Zero, c11 = T.Zero, c20 = T.Zero, c21 = T.Zero;
        V c30 = T.Zero, c31 = T.Zero, c40 = T.Zero, c41 = T.Zero, c50 = T.Zero, c51 = T.Zero;
        for (nint p = 0; p < kc; p++)
        {
            V b0 = T.Load(b), b1 = T.Load(b + w);
            V ai = T.Broadcast(a0[p]); c00 = T.MultiplyAdd(ai, b0, c00); c01 = T.MultiplyAdd(ai, b1, c01);
            ai = T.Broadcast(a1[p]); c10 = T.MultiplyAdd(ai, b0, c10); c11 = T.MultiplyAdd(ai, b1, c11);
            ai = T.Broadcast(a2[p]); c20 = T.MultiplyAdd(ai, b0, c20); c21 = T.MultiplyAdd(ai, b1, c21);
            ai = T.Broadcast(a3[p]); c30 = T.MultiplyAdd(ai, b0, c30); c31 = T.MultiplyAdd(ai, b1, c31);
            ai = T.Broadcast(a4[p]); c40 = T.MultiplyAdd(ai, b0, c40); c41 = T.MultiplyAdd(ai, b1, c41);
            ai = T.Broadcast(a5[p]); c50 = T.MultiplyAdd(ai, b0, c50); c51 = T.MultiplyAdd(ai, b1, c51);
            b += 2 * w;
        }
        V al = T.Broadcast(1f);
        if (beta == 0f)
        {
            Set<T, V>(c, w, c00, c01, al); c += ldc;
            Set<T, V>(c, w, c10, c11, al); c += ldc;
            Set<T, V>(c, w, c20, c21, al); c += ldc;
            Set<T, V>(c, w, c30, c31, al); c += ldc;
            Set<T, V>(c, w, c40, c41, al); c += ldc;
            Set<T, V>(c, w, c50, c51, al);
        }
        else
        {
            V be = T.Broadcast(beta);
            Update<T, V>(c, w, c00, c01, al, be); c += ldc;
            Update<T, V>(c, w, c10, c11, al, be); c += ldc;
            Update<T, V>(c, w, c20, c21, al, be); c += ldc;
            Update<T, V>(c, w, c30, c31, al, be); c += ldc;
            Update<T, V>(c, w, c40, c41, al, be); c += ldc;
            Update<T, V>(c, w, c50, c51, al, be);
        }
    }

    /// <summary>12 rows × 2 vectors: 24 accumulators + 2 B vectors + 1 broadcast = 27 registers (for 32-register AVX-512).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel12x2<T, V>(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
        where T : struct, IGemmVector<V> where V : struct
    {
        int w = T.Width;
        V c00 = T.Zero, c01 = T.Zero, c10 = T.Zero, c11 = T.Zero, c20 = T.Zero, c21 = T.Zero;
        V c30 = T.Zero, c31 = T.Zero, c40 = T.Zero, c41 = T.Zero, c50 = T.Zero, c51 = T.Zero;
        V c60 = T.Zero, c61 = T.Zero, c70 = T.Zero, c71 = T.Zero, c80 = T.Zero, c81 = T.Zero;
        V c90 = T.Zero, c91 = T.Zero, ca0 = T.Zero, ca1 = T.Zero, cb0 = T.Zero, cb1 = T.Zero;
        for (int p = 0; p < kc; p++)
        {
            V b0 = T.Load(b), b1 = T.Load(b + w);
            V ai = T.Broadcast(a[0]); c00 = T.MultiplyAdd(ai, b0, c00); c01 = T.MultiplyAdd(ai, b1, c01);
            ai = T.Broadcast(a[1]); c10 = T.MultiplyAdd(ai, b0, c10); c11 = T.MultiplyAdd(ai, b1, c11);
            ai = T.Broadcast(a[2]); c20 = T.MultiplyAdd(ai, b0, c20); c21 = T.MultiplyAdd(ai, b1, c21);
            ai = T.Broadcast(a[3]); c30 = T.MultiplyAdd(ai, b0, c30); c31 = T.MultiplyAdd(ai, b1, c31);
            ai = T.Broadcast(a[4]); c40 = T.MultiplyAdd(ai, b0, c40); c41 = T.MultiplyAdd(ai, b1, c41);
            ai = T.Broadcast(a[5]); c50 = T.MultiplyAdd(ai, b0, c50); c51 = T.MultiplyAdd(ai, b1, c51);
            ai = T.Broadcast(a[6]); c60 = T.MultiplyAdd(ai, b0, c60); c61 = T.MultiplyAdd(ai, b1, c61);
            ai = T.Broadcast(a[7]); c70 = T.MultiplyAdd(ai, b0, c70); c71 = T.MultiplyAdd(ai, b1, c71);
            ai = T.Broadcast(a[8]); c80 = T.MultiplyAdd(ai, b0, c80); c81 = T.MultiplyAdd(ai, b1, c81);
            ai = T.Broadcast(a[9]); c90 = T.MultiplyAdd(ai, b0, c90); c91 = T.MultiplyAdd(ai, b1, c91);
            ai = T.Broadcast(a[10]); ca0 = T.MultiplyAdd(ai, b0, ca0); ca1 = T.MultiplyAdd(ai, b1, ca1);
            ai = T.Broadcast(a[11]); cb0 = T.MultiplyAdd(ai, b0, cb0); cb1 = T.MultiplyAdd(ai, b1, cb1);
            a += 12;
            b += 2 * w;
        }
        V al = T.Broadcast(alpha);
        if (beta == 0f)
        {
            Set<T, V>(c, w, c00, c01, al); c += ldc;
            Set<T, V>(c, w, c10, c11, al); c += ldc;
            Set<T, V>(c, w, c20, c21, al); c += ldc;
            Set<T, V>(c, w, c30, c31, al); c += ldc;
            Set<T, V>(c, w, c40, c41, al); c += ldc;
            Set<T, V>(c, w, c50, c51, al); c += ldc;
            Set<T, V>(c, w, c60, c61, al); c += ldc;
            Set<T, V>(c, w, c70, c71, al); c += ldc;
            Set<T, V>(c, w, c80, c81, al); c += ldc;
            Set<T, V>(c, w, c90, c91, al); c += ldc;
            Set<T, V>(c, w, ca0, ca1, al); c += ldc;
            Set<T, V>(c, w, cb0, cb1, al);
        }
        else
        {
            V be = T.Broadcast(beta);
            Update<T, V>(c, w, c00, c01, al, be); c += ldc;
            Update<T, V>(c, w, c10, c11, al, be); c += ldc;
            Update<T, V>(c, w, c20, c21, al, be); c += ldc;
            Update<T, V>(c, w, c30, c31, al, be); c += ldc;
            Update<T, V>(c, w, c40, c41, al, be); c += ldc;
            Update<T, V>(c, w, c50, c51, al, be); c += ldc;
            Update<T, V>(c, w, c60, c61, al, be); c += ldc;
            Update<T, V>(c, w, c70, c71, al, be); c += ldc;
            Update<T, V>(c, w, c80, c81, al, be); c += ldc;
            Update<T, V>(c, w, c90, c91, al, be); c += ldc;
            Update<T, V>(c, w, ca0, ca1, al, be); c += ldc;
            Update<T, V>(c, w, cb0, cb1, al, be);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Set<T, V>(float* c, int w, V x0, V x1, V alpha) where T : struct, IGemmVector<V> where V : struct
    {
        T.Store(c, T.Multiply(x0, alpha));
        T.Store(c + w, T.Multiply(x1, alpha));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Update<T, V>(float* c, int w, V x0, V x1, V alpha, V beta) where T : struct, IGemmVector<V> where V : struct
    {
        T.Store(c, T.MultiplyAdd(x0, alpha, T.Multiply(T.Load(c), beta)));
        T.Store(c + w, T.MultiplyAdd(x1, alpha, T.Multiply(T.Load(c + w), beta)));
    }
}
