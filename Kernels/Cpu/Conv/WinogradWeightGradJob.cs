using System.Runtime.Intrinsics;

namespace NativeASD.Kernels.Cpu;

/// <summary>
/// dW of a 3×3 stride-1 convolution (groups 1) through the same Winograd F(2×2, 3×3) as <see cref="WinogradConvJob"/>:
/// the forward computes each 2×2 output tile as Aᵀ[U_ξ ⊙ V_ξ]A with U = G g Gᵀ and V = Bᵀ d B, so by the chain rule
/// dU_ξ[o, c] = Σ_tiles (A dy Aᵀ)_ξ[o] · V_ξ[c] (16 GEMMs with K = tiles) and dg = Gᵀ dU G. Exact in exact arithmetic
/// (the tiles partition the output; dy is zero past its edge, x past the padding), with 2.25× fewer multiply-adds than
/// the im2col GEMM. Tiles are taken a chunk of tile rows of one image at a time: phase 1 transforms every input channel
/// (V) and every dy channel (M = A dy Aᵀ) of the chunk, one task per channel; phase 2 runs one task per ξ, adding
/// M_ξ · V_ξᵀ into dU_ξ. The chunks and the GEMM's K blocks are summed in a fixed order, so results do not depend on
/// the thread count.
/// </summary>
internal sealed unsafe class WinogradWeightGradJob : ParallelJob
{
    /// <summary>Tiles per chunk (rounded to whole tile rows): V and M (16·(C + O)·chunk floats) stay a few MB.</summary>
    const int ChunkTiles = 1024;

    [ThreadStatic] static WinogradWeightGradJob? _cached;
    public static WinogradWeightGradJob Rent() => _cached ??= new WinogradWeightGradJob();

    readonly NativeBuffer _work = new();
    Conv2dGeometry _g;
    float* _x, _dy, _dw, _v, _m, _du;
    SimdLevel _level;
    int _tilesH, _tilesW, _rowsPerChunk, _stride, _n, _ty0, _rows;
    bool _gemmPhase;

    /// <summary>Sizes the work buffers and clears dU. Then for each (image, chunk): <see cref="SetChunk"/>, run
    /// <see cref="TransformTasks"/> tasks, <see cref="BeginGemms"/>, run 16 tasks; finally <see cref="Finish"/>.</summary>
    public void Prepare(in Conv2dGeometry g, float* x, float* dy, float* dw, SimdLevel level)
    {
        _g = g; _x = x; _dy = dy; _dw = dw; _level = level;
        _tilesH = (g.OutHeight + 1) / 2;
        _tilesW = (g.OutWidth + 1) / 2;
        _rowsPerChunk = Math.Clamp(ChunkTiles / _tilesW, 1, _tilesH);
        _stride = _rowsPerChunk * _tilesW;
        int c = g.InChannels, o = g.OutChannels;
        _v = _work.Get(16L * (c + o) * _stride + 16L * o * c);
        _m = _v + 16L * c * _stride;
        _du = _m + 16L * o * _stride;
        new Span<float>(_du, 16 * o * c).Clear();
    }

    public int ChunksPerImage => (_tilesH + _rowsPerChunk - 1) / _rowsPerChunk;

    public int TransformTasks => _g.InChannels + _g.OutChannels;

    public void SetChunk(int n, int chunk)
    {
        _n = n; _ty0 = chunk * _rowsPerChunk;
        _rows = Math.Min(_rowsPerChunk, _tilesH - _ty0);
        _gemmPhase = false;
    }

    public void BeginGemms() => _gemmPhase = true;

    public void Clear() { _x = _dy = _dw = null; }

    public override void Execute(int task)
    {
        if (_gemmPhase) Gemm(task);
        else if (task < _g.InChannels) TransformInput(task);
        else TransformGradient(task - _g.InChannels);
    }

    /// <summary>dU_ξ[O, C] += M_ξ[O, tiles] · V_ξ[C, tiles]ᵀ for this chunk's tiles.</summary>
    void Gemm(int xi)
    {
        int c = _g.InChannels, o = _g.OutChannels, tiles = _rows * _tilesW;
        var shape = new GemmArgs(o, c, tiles, 1f, null!, 0, _stride, false, null!, 0, _stride, true, 1f, null!, 0, c);
        CpuGemm.RunOnThisThread(shape, _m + (long)xi * o * _stride, _v + (long)xi * c * _stride, _du + (long)xi * o * c, _level);
    }

    /// <summary>V_ξ[ci, t] = (Bᵀ d B)[ξ] of every tile of the chunk, 8 tiles per vector as in the forward
    /// (input rows split into even and odd columns; zeros outside the image).</summary>
    void TransformInput(int ci)
    {
        ref readonly var g = ref _g;
        int tw = _tilesW, span = tw + 9; // even/odd row halves, padded so an 8-lane load past the last tile stays inside
        float* split = ConvScratch.Columns.Get(8L * span + 32);
        float* plane = _x + ((long)_n * g.InChannels + ci) * g.Height * g.Width;
        long xiStride = (long)g.InChannels * _stride;
        float* v = _v + (long)ci * _stride;
        float* tmp = split + 8L * span;
        for (int r = 0; r < _rows; r++)
        {
            int ty = _ty0 + r;
            for (int q = 0; q < 4; q++)
            {
                float* ev = split + q * 2L * span, od = ev + span;
                new Span<float>(ev, 2 * span).Clear();
                int iy = 2 * ty - g.PadTop + q;
                if ((uint)iy >= (uint)g.Height) continue;
                float* row = plane + (long)iy * g.Width;
                for (int i = 0; i <= tw; i++)
                {
                    int col = 2 * i - g.PadLeft;
                    if ((uint)col < (uint)g.Width) ev[i] = row[col];
                    if ((uint)(col + 1) < (uint)g.Width) od[i] = row[col + 1];
                }
            }
            float* dst = v + (long)r * tw;
            for (int i0 = 0; i0 < tw; i0 += 8)
            {
                var (e00, e01, e02, e03) = WinogradConvJob.RowTransform(split, span, i0);
                var (e10, e11, e12, e13) = WinogradConvJob.RowTransform(split + 2L * span, span, i0);
                var (e20, e21, e22, e23) = WinogradConvJob.RowTransform(split + 4L * span, span, i0);
                var (e30, e31, e32, e33) = WinogradConvJob.RowTransform(split + 6L * span, span, i0);
                int count = Math.Min(8, tw - i0);
                float* d = dst + i0;
                Put(d, xiStride, 0, e00 - e20, e01 - e21, e02 - e22, e03 - e23, count, tmp);
                Put(d, xiStride, 4, e10 + e20, e11 + e21, e12 + e22, e13 + e23, count, tmp);
                Put(d, xiStride, 8, e20 - e10, e21 - e11, e22 - e12, e23 - e13, count, tmp);
                Put(d, xiStride, 12, e10 - e30, e11 - e31, e12 - e32, e13 - e33, count, tmp);
            }
        }
    }

    /// <summary>M_ξ[oc, t] = (A dy Aᵀ)[ξ] of every tile, A = [1 0; 1 1; 1 −1; 0 −1]: for the 2×2 dy tile [a b; c d],
    /// A·dy has rows (a, b), (a + c, b + d), (a − c, b − d), (−c, −d), and each row (p, q) becomes (p, p + q, p − q, −q).
    /// dy past the output's last row or column is zero.</summary>
    void TransformGradient(int oc)
    {
        ref readonly var g = ref _g;
        int tw = _tilesW, ho = g.OutHeight, wo = g.OutWidth, span = tw + 8;
        float* split = ConvScratch.Columns.Get(4L * span + 32);
        float* plane = _dy + ((long)_n * g.OutChannels + oc) * ho * wo;
        long xiStride = (long)g.OutChannels * _stride;
        float* m = _m + (long)oc * _stride;
        float* tmp = split + 4L * span;
        for (int r = 0; r < _rows; r++)
        {
            int ty = _ty0 + r;
            for (int q = 0; q < 2; q++)
            {
                float* ev = split + q * 2L * span, od = ev + span;
                new Span<float>(ev, 2 * span).Clear();
                int oy = 2 * ty + q;
                if (oy >= ho) continue;
                float* row = plane + (long)oy * wo;
                for (int i = 0; i < tw; i++)
                {
                    ev[i] = row[2 * i];
                    if (2 * i + 1 < wo) od[i] = row[2 * i + 1];
                }
            }
            float* dst = m + (long)r * tw;
            for (int i0 = 0; i0 < tw; i0 += 8)
            {
                var a = Vector256.Load(split + i0); var b = Vector256.Load(split + span + i0);
                var c = Vector256.Load(split + 2 * span + i0); var d = Vector256.Load(split + 3 * span + i0);
                int count = Math.Min(8, tw - i0);
                float* p = dst + i0;
                Put(p, xiStride, 0, a, a + b, a - b, -b, count, tmp);
                var p1 = a + c; var q1 = b + d;
                Put(p, xiStride, 4, p1, p1 + q1, p1 - q1, -q1, count, tmp);
                var p2 = a - c; var q2 = b - d;
                Put(p, xiStride, 8, p2, p2 + q2, p2 - q2, -q2, count, tmp);
                var p3 = -c; var q3 = -d;
                Put(p, xiStride, 12, p3, p3 + q3, p3 - q3, -q3, count, tmp);
            }
        }
    }

    /// <summary>Stores 8 tiles' values of ξ = first..first+3 (planes <paramref name="plane"/> floats apart); the first
    /// <paramref name="count"/> lanes only at the end of a tile row.</summary>
    static void Put(float* dst, long plane, int first, Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d, int count, float* tmp)
    {
        if (count == 8)
        {
            a.Store(dst + first * plane); b.Store(dst + (first + 1) * plane); c.Store(dst + (first + 2) * plane); d.Store(dst + (first + 3) * plane);
            return;
        }
        a.Store(tmp); b.Store(tmp + 8); c.Store(tmp + 16); d.Store(tmp + 24);
        for (int k = 0; k < 4; k++)
            for (int lane = 0; lane < count; lane++) dst[(first + k) * plane + lane] = tmp[k * 8 + lane];
    }

    /// <summary>dW[o, c] += Gᵀ dU[o, c] G, G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].</summary>
    public void Finish()
    {
        int o = _g.OutChannels, c = _g.InChannels;
        long plane = (long)o * c;
        float* t = stackalloc float[12]; // Gᵀ·dU: 3×4
        for (long oc = 0; oc < plane; oc++)
        {
            float* u = _du + oc;
            for (int col = 0; col < 4; col++)
            {
                float u0 = u[col * plane], u1 = u[(4 + col) * plane], u2 = u[(8 + col) * plane], u3 = u[(12 + col) * plane];
                t[col] = u0 + 0.5f * (u1 + u2);
                t[4 + col] = 0.5f * (u1 - u2);
                t[8 + col] = 0.5f * (u1 + u2) + u3;
            }
            float* w = _dw + oc * 9;
            for (int row = 0; row < 3; row++)
            {
                float a = t[row * 4], b = t[row * 4 + 1], d = t[row * 4 + 2], e = t[row * 4 + 3];
                w[row * 3] += a + 0.5f * (b + d);
                w[row * 3 + 1] += 0.5f * (b - d);
                w[row * 3 + 2] += 0.5f * (b + d) + e;
            }
        }
    }
}
