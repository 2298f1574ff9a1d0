using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeASD.Kernels.Cpu;

/// <summary>
/// Copies blocks of op(A) and op(B) into the k-major panel layout the micro-kernels stream through, for both
/// storage orders of each operand. Panels past the matrix edge are zero-padded to full MR rows / NR columns, so
/// edge tiles run the same kernel (and the same arithmetic) as interior ones.
/// </summary>
internal static unsafe class GemmPacking
{
    /// <summary>Rows of B ahead that <see cref="PackB{T,V}"/> prefetches while copying (its source usually streams from DRAM).</summary>
    const int PrefetchRows = 2;

    /// <summary>Up to this many rows of B, packing walks panel by panel; above it, row by row.</summary>
    const int FewRows = 16;

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
                if (h == mr && Avx.IsSupported && (mr == 6 || mr == 12))
                {
                    if (mr == 6) PackRows6Avx(dst, src, lda, kc);
                    else PackRows12Avx(dst, src, lda, kc);
                    dst += mr * kc;
                    continue;
                }
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

    /// <summary>A full 6-row panel from row-major A: 8 k at a time, six rows loaded and transposed in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PackRows6Avx(float* dst, float* s, nint lda, int kc)
    {
        float* s1 = s + lda, s2 = s1 + lda, s3 = s2 + lda, s4 = s3 + lda, s5 = s4 + lda;
        int p = 0;
        for (; p + 8 <= kc; p += 8)
        {
            Vector256<float> r0 = Avx.LoadVector256(s + p), r1 = Avx.LoadVector256(s1 + p), r2 = Avx.LoadVector256(s2 + p);
            Vector256<float> r3 = Avx.LoadVector256(s3 + p), r4 = Avx.LoadVector256(s4 + p), r5 = Avx.LoadVector256(s5 + p);
            Vector256<float> r6 = Vector256<float>.Zero, r7 = Vector256<float>.Zero;
            Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
            float* d = dst + p * 6;
            Store6(d, r0); Store6(d + 6, r1); Store6(d + 12, r2); Store6(d + 18, r3);
            Store6(d + 24, r4); Store6(d + 30, r5); Store6(d + 36, r6); Store6(d + 42, r7);
        }
        for (; p < kc; p++)
        {
            float* d = dst + p * 6;
            d[0] = s[p]; d[1] = s1[p]; d[2] = s2[p]; d[3] = s3[p]; d[4] = s4[p]; d[5] = s5[p];
        }
    }

    /// <summary>A full 12-row panel from row-major A: rows 0–7 and 8–11 transposed 8 k at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PackRows12Avx(float* dst, float* s, nint lda, int kc)
    {
        int p = 0;
        for (; p + 8 <= kc; p += 8)
        {
            float* q = s + p;
            Vector256<float> r0 = Avx.LoadVector256(q), r1 = Avx.LoadVector256(q + lda), r2 = Avx.LoadVector256(q + 2 * lda);
            Vector256<float> r3 = Avx.LoadVector256(q + 3 * lda), r4 = Avx.LoadVector256(q + 4 * lda), r5 = Avx.LoadVector256(q + 5 * lda);
            Vector256<float> r6 = Avx.LoadVector256(q + 6 * lda), r7 = Avx.LoadVector256(q + 7 * lda);
            Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
            float* d = dst + p * 12;
            r0.Store(d); r1.Store(d + 12); r2.Store(d + 24); r3.Store(d + 36);
            r4.Store(d + 48); r5.Store(d + 60); r6.Store(d + 72); r7.Store(d + 84);
            r0 = Avx.LoadVector256(q + 8 * lda); r1 = Avx.LoadVector256(q + 9 * lda);
            r2 = Avx.LoadVector256(q + 10 * lda); r3 = Avx.LoadVector256(q + 11 * lda);
            r4 = r5 = r6 = r7 = Vector256<float>.Zero;
            Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
            d += 8;
            r0.GetLower().Store(d); r1.GetLower().Store(d + 12); r2.GetLower().Store(d + 24); r3.GetLower().Store(d + 36);
            r4.GetLower().Store(d + 48); r5.GetLower().Store(d + 60); r6.GetLower().Store(d + 72); r7.GetLower().Store(d + 84);
        }
        for (; p < kc; p++)
        {
            float* d = dst + p * 12;
            for (int r = 0; r < 12; r++) d[r] = s[r * lda + p];
        }
    }

    /// <summary>
    /// A full panel of nr (a multiple of 8) columns of op(B) stored transposed (each column contiguous in k): groups
    /// of 8 columns are transposed in registers 8 k at a time.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PackColumnsAvx(float* dst, float* src, nint ldb, int kc, int nr)
    {
        for (int g = 0; g < nr; g += 8)
        {
            float* s = src + g * ldb;
            int p = 0;
            for (; p + 8 <= kc; p += 8)
            {
                float* q = s + p;
                Vector256<float> r0 = Avx.LoadVector256(q), r1 = Avx.LoadVector256(q + ldb), r2 = Avx.LoadVector256(q + 2 * ldb);
                Vector256<float> r3 = Avx.LoadVector256(q + 3 * ldb), r4 = Avx.LoadVector256(q + 4 * ldb), r5 = Avx.LoadVector256(q + 5 * ldb);
                Vector256<float> r6 = Avx.LoadVector256(q + 6 * ldb), r7 = Avx.LoadVector256(q + 7 * ldb);
                Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
                float* d = dst + p * nr + g;
                r0.Store(d); r1.Store(d + nr); r2.Store(d + 2 * nr); r3.Store(d + 3 * nr);
                r4.Store(d + 4 * nr); r5.Store(d + 5 * nr); r6.Store(d + 6 * nr); r7.Store(d + 7 * nr);
            }
            for (; p < kc; p++)
            {
                float* d = dst + p * nr + g;
                for (int c = 0; c < 8; c++) d[c] = s[c * ldb + p];
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store6(float* d, Vector256<float> v)
    {
        v.GetLower().Store(d);
        Sse2.StoreLow((double*)(d + 4), v.GetUpper().AsDouble());
    }

    /// <summary>In-register 8×8 transpose: on return rI holds column I of the rows passed in.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose8x8(ref Vector256<float> r0, ref Vector256<float> r1, ref Vector256<float> r2, ref Vector256<float> r3,
        ref Vector256<float> r4, ref Vector256<float> r5, ref Vector256<float> r6, ref Vector256<float> r7)
    {
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5), t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE), u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE), u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        r0 = Avx.Permute2x128(u0, u4, 0x20); r1 = Avx.Permute2x128(u1, u5, 0x20); r2 = Avx.Permute2x128(u2, u6, 0x20); r3 = Avx.Permute2x128(u3, u7, 0x20);
        r4 = Avx.Permute2x128(u0, u4, 0x31); r5 = Avx.Permute2x128(u1, u5, 0x31); r6 = Avx.Permute2x128(u2, u6, 0x31); r7 = Avx.Permute2x128(u3, u7, 0x31);
    }

    /// <summary>
    /// Packs one NR-wide panel of op(B) (kc × width, zero-padded to NR), prefetching the next panel's lines when
    /// <paramref name="prefetchNext"/>: used where each panel is packed right before the kernels that use it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackBPanel<T, V>(float* dst, float* b, nint ldb, bool trans, int width, int kc, bool prefetchNext)
        where T : struct, IGemmVector<V> where V : struct
    {
        int w = T.Width, nr = 2 * w;
        if (trans || width < nr)
        {
            PackB<T, V>(dst, b, ldb, trans, width, kc);
            return;
        }
        float* s = b;
        if (prefetchNext && Sse.IsSupported)
        {
            for (int p = 0; p < kc; p++, s += ldb, dst += nr)
            {
                Sse.Prefetch0(s + nr);
                if (nr > 16) Sse.Prefetch0(s + nr + 16);
                T.Store(dst, T.Load(s));
                T.Store(dst + w, T.Load(s + w));
            }
        }
        else
        {
            for (int p = 0; p < kc; p++, s += ldb, dst += nr)
            {
                T.Store(dst, T.Load(s));
                T.Store(dst + w, T.Load(s + w));
            }
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
        if (!trans && kc <= FewRows)
        {
            // Few rows: walk each panel down the rows (kc sequential streams, which the prefetcher tracks) and write
            // the panel contiguously.
            for (int j0 = 0; j0 < cols; j0 += nr, dst += nr * kc)
            {
                int wdt = Math.Min(nr, cols - j0);
                float* s = b + j0, d = dst;
                if (wdt == nr)
                    for (int p = 0; p < kc; p++, s += ldb, d += nr) { T.Store(d, T.Load(s)); T.Store(d + w, T.Load(s + w)); }
                else
                    for (int p = 0; p < kc; p++, s += ldb, d += nr) { int c = 0; for (; c < wdt; c++) d[c] = s[c]; for (; c < nr; c++) d[c] = 0f; }
            }
            return;
        }
        if (!trans)
        {
            // Many rows: sweep each row once (sequential reads the prefetcher follows; walking a panel down the rows
            // would touch a new page per k) and deal its NR-wide pieces out to the panels.
            int full = cols / nr, tail = cols - full * nr;
            nint panel = (nint)nr * kc;
            for (int p = 0; p < kc; p++)
            {
                float* s = b + p * ldb, d = dst + p * nr;
                nint ahead = p + PrefetchRows < kc ? PrefetchRows * ldb : 0;
                for (int jp = 0; jp < full; jp++, s += nr, d += panel)
                {
                    if (ahead != 0 && Sse.IsSupported) { Sse.Prefetch0(s + ahead); if (nr > 16) Sse.Prefetch0(s + ahead + 16); }
                    T.Store(d, T.Load(s));
                    T.Store(d + w, T.Load(s + w));
                }
                if (tail > 0)
                {
                    int c = 0;
                    for (; c < tail; c++) d[c] = s[c];
                    for (; c < nr; c++) d[c] = 0f;
                }
            }
            return;
        }
        for (int j0 = 0; j0 < cols; j0 += nr)
        {
            int wdt = Math.Min(nr, cols - j0);
            // Rows of op(B)ᵀ are contiguous in k: walk each once, scatter with stride nr.
            float* src = b + j0 * ldb;
            if (wdt == nr && nr % 8 == 0 && Avx.IsSupported)
            {
                PackColumnsAvx(dst, src, ldb, kc, nr);
                dst += nr * kc;
                continue;
            }
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
            dst += nr * kc;
        }
    }
}
