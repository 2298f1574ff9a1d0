using System.Runtime.ExceptionServices;

namespace NativeASD.Kernels.Cpu;

/// <summary>
/// One unit of parallel work: <see cref="Execute"/> runs once for each task index in [0, taskCount).
/// Jobs are reusable objects so that a dispatch allocates nothing.
/// Results must not depend on which thread runs a task: that keeps kernels deterministic.
/// </summary>
public abstract class ParallelJob
{
    public abstract void Execute(int task);
}

/// <summary>
/// A fixed set of worker threads that run a <see cref="ParallelJob"/>'s tasks together with the calling thread.
/// Dispatch allocates nothing (unlike Parallel.For). One job runs at a time: a nested call, or a call while another
/// thread's job runs, executes its tasks inline on the calling thread.
/// </summary>
public sealed class WorkerPool : IDisposable
{
    readonly Thread[] _workers;
    readonly SemaphoreSlim[] _wake;
    int _busy; // 1 while a job runs; not a Monitor, which would let the owning thread re-enter
    ParallelJob? _job;
    int _taskCount;
    int _nextTask;
    int _running;
    Exception? _error;
    volatile bool _disposed;

    public int Threads { get; }

    public WorkerPool(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), $"worker pool: threads must be >= 1, got {threads}");
        Threads = threads;
        _workers = new Thread[threads - 1];
        _wake = new SemaphoreSlim[threads - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            _wake[i] = new SemaphoreSlim(0);
            int index = i;
            _workers[i] = new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"nasd-worker-{i + 1}" };
            _workers[i].Start();
        }
    }

    /// <summary>Runs tasks [0, taskCount) of <paramref name="job"/> across the pool and waits for all of them.</summary>
    public void Run(ParallelJob job, int taskCount)
    {
        if (taskCount <= 0) return;
        if (_workers.Length == 0 || taskCount == 1 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            for (int t = 0; t < taskCount; t++) job.Execute(t);
            return;
        }
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _job = job;
            _taskCount = taskCount;
            _error = null;
            int helpers = Math.Min(_workers.Length, taskCount - 1);
            Volatile.Write(ref _nextTask, 0);
            Volatile.Write(ref _running, helpers);
            for (int i = 0; i < helpers; i++) _wake[i].Release();
            Drain();
            var spin = new SpinWait();
            while (Volatile.Read(ref _running) != 0) spin.SpinOnce(sleep1Threshold: -1);
            _job = null;
            if (_error is { } e) ExceptionDispatchInfo.Capture(e).Throw();
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    void Drain()
    {
        var job = _job!;
        int count = _taskCount;
        try
        {
            for (int t = Interlocked.Increment(ref _nextTask) - 1; t < count; t = Interlocked.Increment(ref _nextTask) - 1)
                job.Execute(t);
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _error, e, null);
            Volatile.Write(ref _nextTask, count); // stop handing out tasks
        }
    }

    void WorkerLoop(int index)
    {
        while (true)
        {
            _wake[index].Wait();
            if (_disposed) return;
            Drain();
            Interlocked.Decrement(ref _running);
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var w in _wake) w.Release();
    }
}
