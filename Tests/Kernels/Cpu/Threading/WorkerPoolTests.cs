using NativeASD.Kernels.Cpu;
using Xunit;

namespace NativeASD.Tests.Kernels.Cpu.Threading;

public class WorkerPoolTests
{
    sealed class CountingJob(int tasks) : ParallelJob
    {
        public readonly int[] Hits = new int[tasks];
        public override void Execute(int task) => Interlocked.Increment(ref Hits[task]);
    }

    sealed class ThrowingJob : ParallelJob
    {
        public override void Execute(int task)
        {
            if (task == 7) throw new InvalidOperationException("task 7 failed");
        }
    }

    sealed class NestedJob(WorkerPool pool) : ParallelJob
    {
        public int Inner;
        public override void Execute(int task)
        {
            var inner = new CountingJob(4);
            pool.Run(inner, 4); // runs inline: the pool is busy with the outer job
            Interlocked.Add(ref Inner, inner.Hits.Sum());
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(2, 1000)]
    [InlineData(4, 3)]
    public void EveryTaskRunsExactlyOnce(int threads, int tasks)
    {
        using var pool = new WorkerPool(threads);
        for (int round = 0; round < 50; round++)
        {
            var job = new CountingJob(tasks);
            pool.Run(job, tasks);
            Assert.All(job.Hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public void ExceptionInATaskReachesTheCaller()
    {
        using var pool = new WorkerPool(2);
        var e = Assert.Throws<InvalidOperationException>(() => pool.Run(new ThrowingJob(), 100));
        Assert.Contains("task 7", e.Message);
        var job = new CountingJob(10); // the pool still works afterwards
        pool.Run(job, 10);
        Assert.All(job.Hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void NestedRunExecutesInline()
    {
        using var pool = new WorkerPool(2);
        var job = new NestedJob(pool);
        pool.Run(job, 8);
        Assert.Equal(32, job.Inner);
    }

    [Fact]
    public void ConcurrentCallersAllComplete()
    {
        using var pool = new WorkerPool(2);
        var jobs = Enumerable.Range(0, 8).Select(_ => new CountingJob(64)).ToArray();
        Parallel.ForEach(jobs, j => { for (int r = 0; r < 20; r++) pool.Run(j, 64); });
        Assert.All(jobs, j => Assert.All(j.Hits, h => Assert.Equal(20, h)));
    }

    [Fact]
    public void ZeroThreadsIsRejected() =>
        Assert.Contains("threads must be >= 1", Assert.Throws<ArgumentOutOfRangeException>(() => new WorkerPool(0)).Message);
}
