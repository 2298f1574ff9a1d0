using System.Runtime.CompilerServices;

namespace NativeASD.Kernels.Cpu;

/// <summary>
/// Copies blocks of op(A) and op(B) into the k-major panel layout the micro-kernels stream through, for both
/// storage orders of each operand. Panels past the matrix edge are zero-padded to full MR rows / NR columns, so
/// edge tiles run the same kernel (and the same arithmetic) as interior ones.
/// </summary>
internal static unsafe class GemmPacking
{
    /// <summary>
    /// Packs op(A)[0..rows, 0..kc] into ceil(rows/mr) panels of mr×kc, each stored k-major (mr floats per k).
    /// <paramref name="a"/> points at op(A)[0,0]: element (i,p) is a[i·lda + p], or a[p·lda + i] when transposed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA(float* dst, float* a, nint lda, bool trans, int rows, int kc, int mr)
    {
        for (int i0 = 0; i0 < rows; i0 += mr)
        {
            int h = Math.Min(mr, rows - i0);
            if (!trans)
            {
                // Rows of A are contiguous in k: walk each row once, scatter into the panel with stride mr.
                float* src = a + i0 * lda;
                for (int r = 0; r < h; r++)
                {
                    float* s = src + r * lda, d = dst + r;
                    int p = 0;
                    for (; p + 4 <= kc; p += 4)
                    {
                        d[0] = s[p]; d[mr] = s[p + 1]; d[2 * mr] = s[p + 2]; d[3 * mr] = s[p + 3];
                        d += 4 * mr;
                    }
                    for (; p < kc; p++, d += mr) *d = s[p];
                }
                for (int r = h; r < mr; r++)
                {
                    float* d = dst + r;
                    for (int p = 0; p < kc; p++, d += mr) *d = 0f;
                }
            }
            else
            {
                // Columns of op(A) are contiguous: each k copies h consecutive floats.
                float* src = a + i0;
                float* d = dst;
                for (int p = 0; p < kc; p++, d += mr)
                {
                    float* s = src + p * lda;
                    int r = 0;
                    for (; r < h; r++) d[r] = s[r];
                    for (; r < mr; r++) d[r] = 0f;
                }
            }
            dst += mr * kc;
        }
    }

    /// <summary>
    /// Packs op(B)[0..kc, 0..cols] into ceil(cols/nr) panels of kc×nr, each stored k-major (nr floats per k),
    /// where nr is two vectors of <typeparamref name="T"/>.
    /// <paramref name="b"/> points at op(B)[0,0]: element (p,j) is b[p·ldb + j], or b[j·ldb + p] when transposed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB<T, V>(float* dst, float* b, nint ldb, bool trans, int cols, int kc)
        where T : struct, IGemmVector<V> where V : struct
    {
        int w = T.Width, nr = 2 * w;
        for (int j0 = 0; j0 < cols; j0 += nr)
        {
            int wdt = Math.Min(nr, cols - j0);
            if (!trans)
            {
                float* s = b + j0, d = dst;
                if (wdt == nr)
                {
                    for (int p = 0; p < kc; p++, s += ldb, d += nr)
                    {
                        T.Store(d, T.Load(s));
                        T.Store(d + w, T.Load(s + w));
                    }
                }
                else
                {
                    for (int p = 0; p < kc; p++, s += ldb, d += nr)
                    {
                        int c = 0;
                        for (; c < wdt; c++) d[c] = s[c];
                        for (; c < nr; c++) d[c] = 0f;
                    }
                }
            }
            else
            {
                // Rows of op(B)ᵀ are contiguous in k: walk each once, scatter with stride nr.
                float* src = b + j0 * ldb;
                for (int c = 0; c < wdt; c++)
                {
                    float* s = src + c * ldb, d = dst + c;
                    int p = 0;
                    for (; p + 4 <= kc; p += 4)
                    {
                        d[0] = s[p]; d[nr] = s[p + 1]; d[2 * nr] = s[p + 2]; d[3 * nr] = s[p + 3];
                        d += 4 * nr;
                    }
                    for (; p < kc; p++, d += nr) *d = s[p];
                }
                for (int c = wdt; c < nr; c++)
                {
                    float* d = dst + c;
                    for (int p = 0; p < kc; p++, d += nr) *d = 0f;
                }
            }
            dst += nr * kc;
        }
    }
}
