using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeASD.Kernels.Cpu;

/// <summary>
/// 3×3 stride-1 convolutions (groups 1) by Winograd F(2×2, 3×3) (Lavin &amp; Gray 2016): each 2×2 output tile is
/// Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d Bᵀ)]A over its 4×4 input patch d, so the multiply-adds become 16 GEMMs M_ξ[O, tiles] =
/// U_ξ[O, C] · V_ξ[C, tiles] with 2.25× fewer multiply-adds than the direct 3×3 conv. A task takes one image, one row
/// of tiles and a chunk of up to <see cref="MaxChunk"/> tiles along it: it transforms the input straight into the GEMM's packed
/// B-panel layout (vectorised across tiles after splitting each input row into even and odd columns), runs the GEMM
/// micro-kernel against the weight transforms packed once per call, and transforms the products back into y.
/// The arithmetic order per element is fixed, so results do not depend on the thread count.
/// <para>The fused inference conv (<see cref="SuitsFused"/>) may run it with the axes swapped: rows of tiles along W and
/// chunks along H (the kernel transposed likewise), for maps that are long in H but narrow in W, and applies its
/// <see cref="FusedEpilogue"/> as each tile is written.</para>
/// </summary>
internal sealed unsafe class WinogradConvJob : ParallelJob
{
    /// <summary>Most tiles per task: small enough that V and M (16·C·chunk floats each) stay in L2. Narrow rows of tiles
    /// take a smaller chunk (the row's tiles rounded up to whole B panels) so little of the GEMM runs on padding.</summary>
    const int MaxChunk = 64;

    [ThreadStatic] static WinogradConvJob? _cached;
    public static WinogradConvJob Rent() => _cached ??= new WinogradConvJob();

    readonly NativeBuffer _transformed = new(), _packed = new();
    Conv2dGeometry _g;
    float* _x, _y, _bias, _u;
    SimdLevel _level;
    GemmBlocking _blk;
    int _kc, _mPad, _tilesA, _tilesB, _chunk, _chunks;
    FusedEpilogue _epilogue;
    float* _w, _transformedU;
    int _kA, _kB;
    bool _weightPhase;

    /// <summary>Weight-transform tasks per call.</summary>
    const int WeightParts = 8;

    // The tile-row axis A and the chunk axis B: (H, W) normally, (W, H) transposed. Extents, padding and element strides.
    bool _transposed;
    int _inA, _inB, _padA, _padB, _outA, _outB;
    long _inStrideA, _inStrideB, _outStrideA, _outStrideB;

    /// <summary>When this path applies (and pays: with few channels the transforms outweigh the saved multiply-adds).</summary>
    public static bool Suits(in Conv2dGeometry g) => Applies(g) && Pays(g, (g.OutWidth + 1) / 2);

    /// <summary>The fused inference conv's choice: as <see cref="Suits"/>, else with the axes swapped when the rows of tiles
    /// are too short but the columns are long enough (PANNs' later stages: many frames, few mel bins).</summary>
    public static bool SuitsFused(in Conv2dGeometry g, out bool transposed)
    {
        transposed = false;
        if (Suits(g)) return true;
        transposed = Applies(g) && Pays(g, (g.OutHeight + 1) / 2);
        return transposed;
    }

    static bool Applies(in Conv2dGeometry g) =>
        g.KernelH == 3 && g.KernelW == 3 && g.StrideH == 1 && g.StrideW == 1 && g.DilationH == 1 && g.DilationW == 1
        && g.Groups == 1 && g.InChannels >= 16 && g.OutChannels >= 16;

    static bool Pays(in Conv2dGeometry g, int tilesPerRow) =>
        tilesPerRow >= 12 && (long)g.Batch * ((g.OutHeight + 1) / 2) * ((g.OutWidth + 1) / 2) >= 128;

    /// <summary>Transforms and packs the weights (on the pool) and returns the tile tasks.</summary>
    public int Prepare(WorkerPool pool, in Conv2dGeometry g, float* x, float* w, float* bias, float* y, SimdLevel level,
        FusedEpilogue epilogue = default, bool transposed = false)
    {
        _g = g; _x = x; _y = y; _bias = bias; _level = level; _epilogue = epilogue; _transposed = transposed;
        (_inA, _inB, _padA, _padB, _outA, _outB) = transposed
            ? (g.Width, g.Height, g.PadLeft, g.PadTop, g.OutWidth, g.OutHeight)
            : (g.Height, g.Width, g.PadTop, g.PadLeft, g.OutHeight, g.OutWidth);
        (_inStrideA, _inStrideB, _outStrideA, _outStrideB) = transposed ? (1, g.Width, 1, g.OutWidth) : (g.Width, 1, g.OutWidth, 1);
        int kA = transposed ? 1 : 3, kB = transposed ? 3 : 1; // kernel tap (r along A, c along B) = k[r·kA + c·kB]
        _blk = GemmBlocking.For(level);
        int c = g.InChannels, o = g.OutChannels;
        int kBlocks = (c + _blk.KC - 1) / _blk.KC;
        _kc = (c + kBlocks - 1) / kBlocks;
        _mPad = (o + _blk.MR - 1) / _blk.MR * _blk.MR;

        _w = w; _kA = kA; _kB = kB;
        _transformedU = _transformed.Get(16L * o * c);
        _u = _packed.Get(16L * c * _mPad);
        _weightPhase = true;
        pool.Run(this, WeightParts);
        _weightPhase = false;

        _tilesA = (_outA + 1) / 2;
        _tilesB = (_outB + 1) / 2;
        int unit = Math.Max(8, _blk.NR); // whole B panels and whole 8-tile vectors
        _chunk = Math.Min(MaxChunk, (_tilesB + unit - 1) / unit * unit);
        _chunks = (_tilesB + _chunk - 1) / _chunk;
        return checked(g.Batch * _tilesA * _chunks);
    }

    public void Clear() { _x = _y = _bias = _w = null; _epilogue = default; }

    /// <summary>
    /// Weight task: U_ξ[o, c] = (G g Gᵀ)[ξ], G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1], for one range of output channels (whole MR
    /// panels), then each ξ's rows packed into MR-row panels per K block. The same arithmetic per element on any thread.
    /// </summary>
    void TransformWeights(int part)
    {
        int c = _g.InChannels, o = _g.OutChannels, mr = _blk.MR, panels = _mPad / mr;
        int r0 = panels * part / WeightParts * mr, r1 = Math.Min(o, panels * (part + 1) / WeightParts * mr);
        if (r1 <= r0) return;
        float* u = _transformedU;
        float* gg = stackalloc float[12]; // G·g: 4×3
        int kA = _kA, kB = _kB;
        for (int oc = r0 * c; oc < r1 * c; oc++)
        {
            float* k = _w + oc * 9L;
            for (int col = 0; col < 3; col++)
            {
                float a = k[col * kB], b = k[kA + col * kB], d = k[2 * kA + col * kB];
                gg[col] = a; gg[3 + col] = 0.5f * (a + b + d); gg[6 + col] = 0.5f * (a - b + d); gg[9 + col] = d;
            }
            for (int row = 0; row < 4; row++)
            {
                float a = gg[row * 3], b = gg[row * 3 + 1], d = gg[row * 3 + 2];
                u[(row * 4 + 0) * (long)o * c + oc] = a;
                u[(row * 4 + 1) * (long)o * c + oc] = 0.5f * (a + b + d);
                u[(row * 4 + 2) * (long)o * c + oc] = 0.5f * (a - b + d);
                u[(row * 4 + 3) * (long)o * c + oc] = d;
            }
        }
        for (int xi = 0; xi < 16; xi++)
            for (int p0 = 0; p0 < c; p0 += _kc)
            {
                int kc = Math.Min(_kc, c - p0);
                GemmPacking.PackA(_u + ((long)xi * c + p0) * _mPad + (long)r0 * kc, u + (long)xi * o * c + (long)r0 * c + p0, c, false, r1 - r0, kc, mr);
            }
    }

    public override void Execute(int task)
    {
        if (_weightPhase)
        {
            TransformWeights(task);
            return;
        }
        SimdWidth.Run(_level, new Task(this, task));
    }

    readonly struct Task(WinogradConvJob job, int task) : IWidthGeneric
    {
        public void Run<T, V>() where T : struct, IGemmVector<V> where V : struct => job.Run<T, V>(task);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Run<T, V>(int task) where T : struct, IGemmVector<V> where V : struct
    {
        ref readonly var g = ref _g;
        int chunk = task % _chunks, rest = task / _chunks, ty = rest % _tilesA, n = rest / _tilesA;
        int c = g.InChannels, o = g.OutChannels, nr = _blk.NR, mr = _blk.MR, Chunk = _chunk;
        int t0 = chunk * Chunk;
        // Scratch: V [16][Chunk/nr panels][C][nr], M [16][O][Chunk], row splits and transform temporaries.
        long vSize = 16L * c * Chunk, mSize = 16L * o * Chunk;
        float* v = ConvScratch.Columns.Get(vSize + mSize + 8 * (Chunk + 1) + 32);
        float* m = v + vSize;
        float* even = m + mSize, s = even + 8 * (Chunk + 1); // 4 rows × (even, odd) split columns; 32 floats of scratch

        // ---- input transform: V_ξ[c, t] = (Bᵀ d B)[ξ] of the 4×4 patch at rows 2·ty − pt .., columns 2·t − pl .. (A, B axes)
        // Each input row is split into even and odd columns, so patch column j of 8 consecutive tiles is one vector:
        // d0 = even[t], d1 = odd[t], d2 = even[t+1], d3 = odd[t+1]. Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1].
        int col0 = 2 * t0 - _padB, inB = _inB;
        long sb = _inStrideB;
        for (int ci = 0; ci < c; ci++)
        {
            float* plane = _x + ((long)n * c + ci) * g.Height * g.Width;
            for (int r = 0; r < 4; r++)
            {
                float* ev = even + r * 2 * (Chunk + 1), od = ev + Chunk + 1;
                int iy = 2 * ty - _padA + r;
                if ((uint)iy >= (uint)_inA)
                {
                    new Span<float>(ev, 2 * (Chunk + 1)).Clear();
                    continue;
                }
                float* row = plane + iy * _inStrideA;
                if (sb == 1 && col0 >= 0 && col0 + 2 * Chunk + 1 < inB)
                    for (int i = 0; i <= Chunk; i++) { ev[i] = row[col0 + 2 * i]; od[i] = row[col0 + 2 * i + 1]; }
                else
                    for (int i = 0; i <= Chunk; i++)
                    {
                        int col = col0 + 2 * i;
                        ev[i] = (uint)col < (uint)inB ? row[col * sb] : 0f;
                        od[i] = (uint)(col + 1) < (uint)inB ? row[(col + 1) * sb] : 0f;
                    }
            }
            float* vc = v + (long)ci * nr;
            for (int i0 = 0; i0 < Chunk; i0 += 8)
            {
                // e[r][j] = (d·B)[r][j] for the 8 tiles i0..i0+7
                var (e00, e01, e02, e03) = RowTransform(even, Chunk + 1, i0);
                var (e10, e11, e12, e13) = RowTransform(even + 2 * (Chunk + 1), Chunk + 1, i0);
                var (e20, e21, e22, e23) = RowTransform(even + 4 * (Chunk + 1), Chunk + 1, i0);
                var (e30, e31, e32, e33) = RowTransform(even + 6 * (Chunk + 1), Chunk + 1, i0);
                // Bᵀ·e down the rows; V_ξ (ξ = 4i + j) for these tiles sits at panel i0 / nr, lane i0 % nr.
                float* dst = vc + (long)(i0 / nr) * c * nr + i0 % nr;
                long plane16 = (long)c * Chunk;
                Store(dst, plane16, 0, e00 - e20, e01 - e21, e02 - e22, e03 - e23, nr, (long)c * nr);
                Store(dst, plane16, 4, e10 + e20, e11 + e21, e12 + e22, e13 + e23, nr, (long)c * nr);
                Store(dst, plane16, 8, e20 - e10, e21 - e11, e22 - e12, e23 - e13, nr, (long)c * nr);
                Store(dst, plane16, 12, e10 - e30, e11 - e31, e12 - e32, e13 - e33, nr, (long)c * nr);
            }
        }

        // ---- 16 GEMMs: M_ξ[o, t] = Σ_c U_ξ[o, c] · V_ξ[c, t]
        float* edge = stackalloc float[12 * 32];
        for (int xi = 0; xi < 16; xi++)
            for (int p0 = 0; p0 < c; p0 += _kc)
            {
                int kc = Math.Min(_kc, c - p0);
                float beta = p0 == 0 ? 0f : 1f;
                float* a = _u + ((long)xi * c + p0) * _mPad;
                for (int p = 0; p < Chunk; p += nr)
                {
                    float* b = v + (long)xi * c * Chunk + (long)p * c + (long)p0 * nr;
                    float* cm = m + (long)xi * o * Chunk + p;
                    for (int ir = 0; ir < o; ir += mr)
                    {
                        int h = Math.Min(mr, o - ir);
                        float* aPanel = a + (nint)ir * kc, cTile = cm + (long)ir * Chunk;
                        if (h == mr) { Kernel<T, V>(mr, kc, aPanel, b, cTile, Chunk, beta); continue; }
                        if (beta != 0f)
                            for (int rr = 0; rr < h; rr++)
                                for (int q = 0; q < nr; q++) edge[rr * nr + q] = cTile[rr * Chunk + q];
                        Kernel<T, V>(mr, kc, aPanel, b, edge, nr, beta);
                        for (int rr = 0; rr < h; rr++)
                            for (int q = 0; q < nr; q++) cTile[rr * Chunk + q] = edge[rr * nr + q];
                    }
                }
            }

        // ---- output transform: y tile = Aᵀ M A, Aᵀ = [1 1 1 0; 0 1 −1 −1], 8 tiles per vector
        // With an epilogue, y = (Aᵀ M A)·scale + shift, then residual and ReLU; without, scale = 1 (exact) and shift = bias.
        int tiles = Math.Min(Chunk, _tilesB - t0), outB = _outB;
        float* pair = s;
        bool fused = _epilogue.Active;
        for (int oc = 0; oc < o; oc++)
        {
            var scale = Vector256.Create(fused ? _epilogue.Scale[oc] : 1f);
            var shift = Vector256.Create(fused ? _epilogue.Shift[oc] : _bias != null ? _bias[oc] : 0f);
            float* mo = m + (long)oc * Chunk;
            long stride = (long)o * Chunk; // between ξ
            long y0 = ((long)n * o + oc) * g.OutHeight * g.OutWidth + 2 * ty * _outStrideA + 2 * t0 * _outStrideB;
            bool secondRow = 2 * ty + 1 < _outA;
            for (int i0 = 0; i0 < tiles; i0 += 8)
            {
                Vector256<float> L(int xi) => Vector256.Load(mo + xi * stride + i0);
                // s0j = m0j + m1j + m2j, s1j = m1j − m2j − m3j
                Vector256<float> s00 = L(0) + L(4) + L(8), s01 = L(1) + L(5) + L(9), s02 = L(2) + L(6) + L(10), s03 = L(3) + L(7) + L(11);
                Vector256<float> s10 = L(4) - L(8) - L(12), s11 = L(5) - L(9) - L(13), s12 = L(6) - L(10) - L(14), s13 = L(7) - L(11) - L(15);
                var y00 = (s00 + s01 + s02) * scale + shift; var y01 = (s01 - s02 - s03) * scale + shift;
                var y10 = (s10 + s11 + s12) * scale + shift; var y11 = (s11 - s12 - s13) * scale + shift;
                int count = Math.Min(8, tiles - i0), columns = Math.Min(2 * count, outB - 2 * (t0 + i0));
                if (_transposed)
                {
                    Scatter(y00, y01, y0 + 2 * i0 * _outStrideB, columns, pair);
                    if (secondRow) Scatter(y10, y11, y0 + _outStrideA + 2 * i0 * _outStrideB, columns, pair);
                    continue;
                }
                Interleave(y00, y01, _y + y0 + 2 * i0, columns, pair);
                if (secondRow) Interleave(y10, y11, _y + y0 + _outStrideA + 2 * i0, columns, pair);
                if (!fused) continue;
                _epilogue.Finish(_y + y0 + 2 * i0, columns);
                if (secondRow) _epilogue.Finish(_y + y0 + _outStrideA + 2 * i0, columns);
            }
        }
    }

    /// <summary>The transposed layout's <see cref="Interleave"/>: outputs q = 0..columns−1 go to y[at + q·(stride along B)]
    /// (one element apart by a whole output row), through the epilogue.</summary>
    void Scatter(Vector256<float> left, Vector256<float> right, long at, int columns, float* scratch)
    {
        left.Store(scratch);
        right.Store(scratch + 8);
        for (int q = 0; q < columns; q++)
        {
            float v = scratch[(q & 1) * 8 + (q >> 1)];
            long i = at + q * _outStrideB;
            if (_epilogue.Active) _epilogue.Put(i, v);
            else _y[i] = v;
        }
    }

    /// <summary>The four patch columns of (d·B) for 8 tiles from a row split into even/odd columns: d0 − d2, d1 + d2, d2 − d1, d1 − d3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) RowTransform(float* even, int oddOffset, int i0)
    {
        float* odd = even + oddOffset;
        var d0 = Vector256.Load(even + i0); var d2 = Vector256.Load(even + i0 + 1);
        var d1 = Vector256.Load(odd + i0); var d3 = Vector256.Load(odd + i0 + 1);
        return (d0 - d2, d1 + d2, d2 - d1, d1 - d3);
    }

    /// <summary>Stores V_ξ for ξ = first..first+3 (8 tiles each) into the packed panels; panels narrower than 8 take two pieces.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* dst, long plane, int first, Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d, int nr, long panelStride)
    {
        if (nr >= 8)
        {
            a.Store(dst + first * plane); b.Store(dst + (first + 1) * plane); c.Store(dst + (first + 2) * plane); d.Store(dst + (first + 3) * plane);
            return;
        }
        // Narrow panels (scalar and Vector128 levels): lanes i0..i0+7 span several panels of nr lanes, c·nr apart.
        float* tmp = stackalloc float[32];
        a.Store(tmp); b.Store(tmp + 8); c.Store(tmp + 16); d.Store(tmp + 24);
        for (int k = 0; k < 4; k++)
            for (int lane = 0; lane < 8; lane++)
                dst[(first + k) * plane + lane / nr * panelStride + lane % nr] = tmp[k * 8 + lane];
    }

    /// <summary>y[2i] = left[i], y[2i+1] = right[i] for the first <paramref name="columns"/> outputs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Interleave(Vector256<float> left, Vector256<float> right, float* y, int columns, float* scratch)
    {
        if (columns == 16 && System.Runtime.Intrinsics.X86.Avx.IsSupported)
        {
            var lo = System.Runtime.Intrinsics.X86.Avx.UnpackLow(left, right);   // l0 r0 l1 r1 | l4 r4 l5 r5
            var hi = System.Runtime.Intrinsics.X86.Avx.UnpackHigh(left, right);  // l2 r2 l3 r3 | l6 r6 l7 r7
            System.Runtime.Intrinsics.X86.Avx.Permute2x128(lo, hi, 0x20).Store(y);
            System.Runtime.Intrinsics.X86.Avx.Permute2x128(lo, hi, 0x31).Store(y + 8);
            return;
        }
        left.Store(scratch);
        right.Store(scratch + 8);
        for (int q = 0; q < columns; q++) y[q] = scratch[(q & 1) * 8 + (q >> 1)];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Kernel<T, V>(int mr, int kc, float* a, float* b, float* c, nint ldc, float beta)
        where T : struct, IGemmVector<V> where V : struct
    {
        if (mr == 12) GemmMicroKernels.Kernel12x2<T, V>(kc, a, b, c, ldc, 1f, beta);
        else GemmMicroKernels.Kernel6x2<T, V>(kc, a, b, c, ldc, 1f, beta);
    }
}
