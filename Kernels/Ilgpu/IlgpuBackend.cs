using ILGPU;
using ILGPU.Runtime;

namespace NativeASD.Kernels.Ilgpu;

/// <summary>
/// The <see cref="IBackend"/> on an ILGPU accelerator: a CUDA GPU, an OpenCL 2.0 device, or ILGPU's CPU
/// simulator (ilgpu-cpu, slow, for testing the kernels without a GPU). Kernels are compiled once when the backend
/// opens (<see cref="IlgpuKernels"/>); every call validates with <see cref="Check"/> like the CPU backend, then
/// queues work on the accelerator's default stream, so device calls run in order; uploads and downloads
/// synchronise that stream (ILGPU's span copies do), as does <see cref="Synchronize"/>.
/// Calls are serialised by a lock and bind the accelerator to the calling thread (CUDA contexts are per thread),
/// so one backend can be shared by several threads.
/// </summary>
public sealed partial class IlgpuBackend : IBackend
{
    /// <summary>Below this many outputs a thread-per-output reduction leaves a GPU mostly idle: use a group per output.</summary>
    const long FewOutputs = 4096;

    readonly Context _context;
    readonly Accelerator _accelerator;
    readonly IlgpuKernels _kernels;
    readonly object _gate = new();
    bool _disposed;

    internal StoragePool<IlgpuStorage> Pool { get; } = new();

    /// <summary>Opens the first device of <paramref name="kind"/>; throws <see cref="DeviceNotFoundException"/> when there is none.</summary>
    public IlgpuBackend(DeviceKind kind)
    {
        var (context, accelerator, description) = IlgpuDevices.Open(kind);
        (Kind, _context, _accelerator, Description) = (kind, context, accelerator, description);
        _kernels = LoadKernels();
        ForceVariantFromEnvironment();
    }

    /// <summary>Wraps an accelerator opened elsewhere (tests use simulated devices with other group sizes). Takes ownership.</summary>
    internal IlgpuBackend(DeviceKind kind, Context context, Accelerator accelerator, string description)
    {
        (Kind, _context, _accelerator, Description) = (kind, context, accelerator, description);
        _kernels = LoadKernels();
        ForceVariantFromEnvironment();
    }

    /// <summary>NASD_GEMM_VARIANT through <see cref="GemmVariant"/>'s check: a mistyped name fails the open, not the first GEMM.</summary>
    void ForceVariantFromEnvironment()
    {
        if (Environment.GetEnvironmentVariable("NASD_GEMM_VARIANT") is not { Length: > 0 } forced) return;
        try { GemmVariant = forced; }
        catch (ArgumentException e)
        {
            Dispose();
            throw new ArgumentException($"NASD_GEMM_VARIANT: {e.Message}");
        }
    }

    IlgpuKernels LoadKernels()
    {
        try { return new IlgpuKernels(_accelerator); }
        catch
        {
            _accelerator.Dispose();
            _context.Dispose();
            throw;
        }
    }

    public DeviceKind Kind { get; }
    public string Description { get; }
    public int Threads => 1;

    internal Accelerator Accelerator => _accelerator;

    /// <summary>Edge of the simple GEMM kernel's tile on this device (16 on GPUs).</summary>
    internal int GemmTile => _kernels.GemmTile;

    // ---- memory -------------------------------------------------------------------------------------

    public Storage Allocate(long length, bool zero = false)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), $"allocate: negative length {length}");
        long capacity = SizeClasses.Round(length);
        lock (_gate)
        {
            Enter();
            var s = Pool.Take(capacity) ?? NewStorage(capacity);
            if (zero && length > 0) s.View.SubView(0, length).MemSetToZero();
            return s;
        }
    }

    IlgpuStorage NewStorage(long capacity)
    {
        try
        {
            return new IlgpuStorage(this, _accelerator.Allocate1D<float>(capacity));
        }
        catch (Exception) when (Pool.RetainedBytes > 0)
        {
            // Out of device memory, most likely: give the pooled buffers back and try once more.
            Pool.Clear();
            return new IlgpuStorage(this, _accelerator.Allocate1D<float>(capacity));
        }
    }

    /// <summary>Last reference of a storage released: keep it for reuse, or free it when the pool is full.</summary>
    internal void Recycle(IlgpuStorage s)
    {
        if (Pool.Return(s)) return;
        lock (_gate)
        {
            if (_disposed) return; // the accelerator already freed its buffers
            _accelerator.Bind();
            s.Free();
        }
    }

    public void Upload(ReadOnlySpan<float> source, Storage destination, long offset)
    {
        var s = Own(destination, "upload");
        CheckRange("upload", s, offset, source.Length);
        if (source.Length == 0) return;
        lock (_gate)
        {
            Enter();
            s.View.SubView(offset, source.Length).CopyFromCPU(source);
        }
    }

    public void Download(Storage source, long offset, Span<float> destination)
    {
        var s = Own(source, "download");
        CheckRange("download", s, offset, destination.Length);
        if (destination.Length == 0) return;
        lock (_gate)
        {
            Enter();
            // Waits for the queued work before it (default stream) and for the copy itself.
            s.View.SubView(offset, destination.Length).CopyToCPU(destination);
        }
    }

    IlgpuStorage Own(Storage s, string op)
    {
        if (s is IlgpuStorage g && ReferenceEquals(g.Backend, this))
        {
            if (g.IsReleased) throw new ObjectDisposedException($"{op}: storage was released");
            return g;
        }
        throw new ArgumentException($"{op}: storage belongs to {s.Backend.Kind}, not to this {Kind} backend");
    }

    static void CheckRange(string op, IlgpuStorage s, long offset, int length)
    {
        if (offset < 0 || offset + length > s.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"{op}: [{offset},{offset + length}) outside storage of {s.Length} elements");
    }

    // ---- elementwise --------------------------------------------------------------------------------

    public void Fill(in StridedView y, float value)
    {
        Check.SameBackend("fill", this, y, "y");
        var launches = ViewWalk.Plan(y.Shape, 0, null, 0, null, y.Offset, y.Strides);
        lock (_gate)
        {
            Enter();
            var yv = View(y);
            foreach (var (walk, count) in launches) _kernels.Fill(count, yv, walk, value);
        }
    }

    public void Unary(UnaryOp op, in StridedView x, in StridedView y, float alpha = 0f, float beta = 0f)
    {
        Check.Unary(this, op, x, y);
        if (!Enum.IsDefined(op)) throw new ArgumentOutOfRangeException(nameof(op), op, "unknown unary op");
        var launches = ViewWalk.Plan(y.Shape, x.Offset, x.Strides, 0, null, y.Offset, y.Strides);
        lock (_gate)
        {
            Enter();
            var (xv, yv) = (View(x), View(y));
            foreach (var (walk, count) in launches) _kernels.Unary(count, xv, yv, walk, (int)op, alpha, beta);
        }
    }

    public void Binary(BinaryOp op, in StridedView a, in StridedView b, in StridedView y)
    {
        Check.Binary(this, op, a, b, y);
        if (!Enum.IsDefined(op)) throw new ArgumentOutOfRangeException(nameof(op), op, "unknown binary op");
        var launches = ViewWalk.Plan(y.Shape, a.Offset, a.Strides, b.Offset, b.Strides, y.Offset, y.Strides);
        lock (_gate)
        {
            Enter();
            var (av, bv, yv) = (View(a), View(b), View(y));
            foreach (var (walk, count) in launches) _kernels.Binary(count, av, bv, yv, walk, (int)op);
        }
    }

    // ---- reduce -------------------------------------------------------------------------------------

    public void Reduce(ReduceOp op, in StridedView x, int axis, in StridedView y, int correction = 0)
    {
        Check.Reduce(this, op, x, axis, y);
        if (!Enum.IsDefined(op)) throw new ArgumentOutOfRangeException(nameof(op), op, "unknown reduction");
        // Walk the outputs: x's shape with the reduced axis collapsed to its first element.
        var outputShape = (int[])x.Shape.Clone();
        outputShape[axis] = 1;
        var launches = ViewWalk.Plan(outputShape, x.Offset, x.Strides, 0, null, y.Offset, y.Strides);
        long outputs = Layout.Count(outputShape);
        long axisStride = x.Strides[axis];
        int n = x.Shape[axis];
        bool groupPerOutput = n >= 2 * _kernels.RowGroup && (Math.Abs(axisStride) == 1 || outputs < FewOutputs);
        lock (_gate)
        {
            Enter();
            var (xv, yv) = (View(x), View(y));
            foreach (var (walk, count) in launches)
            {
                var args = new ReduceArgs { Outputs = walk, AxisStride = axisStride, N = n, Op = (int)op, Correction = correction };
                if (groupPerOutput)
                    _kernels.ReduceRows(new KernelConfig(new Index1D(count), new Index1D(_kernels.RowGroup)), xv, yv, args);
                else
                    _kernels.ReduceColumns(count, xv, yv, args);
            }
        }
    }

    // ---- lifetime -----------------------------------------------------------------------------------

    public void Synchronize()
    {
        lock (_gate)
        {
            Enter();
            _accelerator.Synchronize();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _accelerator.Bind();
            Pool.Clear();
            _cuBlas?.Dispose();
            _disposed = true;
            _accelerator.Dispose();
            _context.Dispose();
        }
    }

    /// <summary>Under the lock: refuse a disposed backend, make the accelerator current on this thread.</summary>
    void Enter()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _accelerator.Bind();
    }

    static ArrayView<float> View(in StridedView v) => ((IlgpuStorage)v.Storage).View;

    public override string ToString() => Description;
}
