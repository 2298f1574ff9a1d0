namespace NativeASD.Kernels.Cpu;

/// <summary>
/// The default backend: SIMD kernels (Vector512 → Vector256 → Vector128 → scalar, chosen at start-up)
/// on all cores through a <see cref="WorkerPool"/>. Deterministic: every kernel splits work into
/// fixed-size tasks whose results do not depend on which thread, or how many, ran them.
/// </summary>
public sealed unsafe partial class CpuBackend : IBackend
{
    internal StoragePool<CpuStorage> Pool { get; } = new();
    readonly WorkerPool _pool;
    long _liveBytes, _peakLiveBytes;

    /// <summary>Bytes of the storages handed out and not yet released (capacities, so pool size classes included).</summary>
    internal long LiveBytes => Interlocked.Read(ref _liveBytes);

    /// <summary>Most <see cref="LiveBytes"/> since the backend was made or <see cref="ResetPeakLiveBytes"/> was called.</summary>
    internal long PeakLiveBytes => Interlocked.Read(ref _peakLiveBytes);

    internal void ResetPeakLiveBytes() => Interlocked.Exchange(ref _peakLiveBytes, LiveBytes);

    internal void Released(CpuStorage s) => Interlocked.Add(ref _liveBytes, -s.Length * sizeof(float));

    public CpuBackend(int threads = 0, SimdLevel? simd = null) : this(threads, simd ?? SimdSupport.Detect(), hardwareOnly: true) { }

    CpuBackend(int threads, SimdLevel simd, bool hardwareOnly)
    {
        Threads = threads > 0 ? threads : Environment.ProcessorCount;
        Simd = simd;
        if (hardwareOnly && !SimdSupport.IsSupported(Simd))
            throw new PlatformNotSupportedException($"cpu backend: {Simd} is not accelerated on this machine");
        _pool = new WorkerPool(Threads);
    }

    /// <summary>
    /// A backend whose kernels run at <paramref name="simd"/> even where this machine does not accelerate it (.NET's
    /// software vectors: slow). Tests use it so the Vector512 conv and Winograd kernels run on AVX2-only hosts too.
    /// </summary>
    internal static CpuBackend InSoftware(int threads, SimdLevel simd) => new(threads, simd, hardwareOnly: false);

    public DeviceKind Kind => DeviceKind.Cpu;
    public int Threads { get; }
    public SimdLevel Simd { get; }
    public string Description => $"CPU {Simd}, {Threads} thread{(Threads == 1 ? "" : "s")}";
    internal WorkerPool Workers => _pool;

    public Storage Allocate(long length, bool zero = false)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), $"allocate: negative length {length}");
        long capacity = SizeClasses.Round(length);
        var s = Pool.Take(capacity) ?? new CpuStorage(this, capacity);
        long live = Interlocked.Add(ref _liveBytes, capacity * sizeof(float));
        for (long peak = PeakLiveBytes; live > peak; peak = PeakLiveBytes)
            if (Interlocked.CompareExchange(ref _peakLiveBytes, live, peak) == peak) break;
        if (zero) new Span<float>(s.Pointer, checked((int)length)).Clear();
        return s;
    }

    static float* Ptr(Storage s) => ((CpuStorage)s).Pointer;

    public void Upload(ReadOnlySpan<float> source, Storage destination, long offset) =>
        source.CopyTo(Cpu(destination, "upload").AsSpan(offset, source.Length));

    public void Download(Storage source, long offset, Span<float> destination) =>
        Cpu(source, "download").AsSpan(offset, destination.Length).CopyTo(destination);

    CpuStorage Cpu(Storage s, string op) =>
        s is CpuStorage c && ReferenceEquals(c.Backend, this) ? c
        : throw new ArgumentException($"{op}: storage belongs to {s.Backend.Kind}, not to this CPU backend");

    public void Fill(in StridedView y, float value)
    {
        Check.SameBackend("fill", this, y, "y");
        var rows = new StridedRows(y.Shape, y);
        for (long r = 0; r < rows.Rows; r++)
        {
            float* p = Ptr(y.Storage) + rows.RowStart(r, 0);
            long s = rows.InnerStride(0);
            if (s == 1) new Span<float>(p, rows.RowLength).Fill(value);
            else for (int i = 0; i < rows.RowLength; i++) p[i * s] = value;
        }
    }

    public void Unary(UnaryOp op, in StridedView x, in StridedView y, float alpha = 0f, float beta = 0f)
    {
        Check.Unary(this, op, x, y);
        var rows = new StridedRows(y.Shape, x, y);
        if (op == UnaryOp.Copy && TryTranspose(rows, x, y)) return;
        var job = ElementwiseJob.Rent();
        _pool.Run(job, job.PrepareUnary(op, rows, Ptr(x.Storage), Ptr(y.Storage), alpha, beta));
    }

    /// <summary>A copy whose source walks columns of a row-major matrix: run it tiled instead of row by row.</summary>
    bool TryTranspose(StridedRows rows, in StridedView x, in StridedView y)
    {
        if (!rows.IsSingleOuterAxis(out int outer, out long xOuter, out long yOuter)) return false;
        if (rows.InnerStride(1) != 1 || xOuter != 1 || rows.InnerStride(0) <= 1 || outer < 8 || rows.RowLength < 8) return false;
        var job = TransposeJob.Rent();
        float* xp = Ptr(x.Storage) + rows.RowStart(0, 0), yp = Ptr(y.Storage) + rows.RowStart(0, 1);
        _pool.Run(job, job.Prepare(xp, rows.InnerStride(0), yp, yOuter, outer, rows.RowLength));
        return true;
    }

    public void Binary(BinaryOp op, in StridedView a, in StridedView b, in StridedView y)
    {
        Check.Binary(this, op, a, b, y);
        var rows = new StridedRows(y.Shape, a, b, y);
        var job = ElementwiseJob.Rent();
        _pool.Run(job, job.PrepareBinary(op, rows, Ptr(a.Storage), Ptr(b.Storage), Ptr(y.Storage)));
    }

    public void Reduce(ReduceOp op, in StridedView x, int axis, in StridedView y, int correction = 0)
    {
        Check.Reduce(this, op, x, axis, y);
        long outer = Layout.Count(x.Shape.AsSpan(0, axis));
        int n = x.Shape[axis];
        int inner = checked((int)Layout.Count(x.Shape.AsSpan(axis + 1)));
        if (outer == 0 || inner == 0) return;

        // Kernels read a contiguous [outer, n, inner] block and write contiguous [outer, inner]: copy around them otherwise.
        Storage? xTemp = null, yTemp = null;
        try
        {
            StridedView xc = x, yc = y;
            if (!x.IsContiguous)
            {
                xTemp = Allocate(x.Count);
                xc = StridedView.Contiguous(xTemp, x.Shape);
                Unary(UnaryOp.Copy, x, xc);
            }
            if (!y.IsContiguous)
            {
                yTemp = Allocate(y.Count);
                yc = StridedView.Contiguous(yTemp, y.Shape);
            }
            var job = ReduceJob.Rent();
            _pool.Run(job, job.Prepare(op, Ptr(xc.Storage) + xc.Offset, Ptr(yc.Storage) + yc.Offset, outer, n, inner, correction));
            if (yTemp is not null) Unary(UnaryOp.Copy, yc, y);
        }
        finally
        {
            xTemp?.Release();
            yTemp?.Release();
        }
    }

    public void Gemm(in GemmArgs args)
    {
        Check.Gemm(this, args);
        CpuGemm.Run(args, _pool, Simd);
    }

    public void Synchronize() { }

    public void Dispose()
    {
        _pool.Dispose();
        Pool.Clear();
    }
}
