using ILGPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using NativeASD.Kernels;
using NativeASD.Kernels.Ilgpu;

namespace NativeASD.Tests.Kernels.Ilgpu;

/// <summary>Opening ILGPU devices, storage and pooling, and the errors the ILGPU backend raises.</summary>
public class IlgpuBackendTests
{
    static IBackend Ilgpu => TestBackends.Get("ilgpu-cpu");
    static IBackend Cpu => TestBackends.Reference;

    [Fact]
    public void OpensTheCpuSimulator()
    {
        Assert.IsType<IlgpuBackend>(Ilgpu);
        Assert.Equal(DeviceKind.IlgpuCpu, Ilgpu.Kind);
        Assert.Equal(1, Ilgpu.Threads);
        Assert.StartsWith("ILGPU CPU", Ilgpu.Description);
    }

    [Fact]
    public void CudaMissingThrowsDeviceNotFound()
    {
        using (var probe = Context.Create(b => b.Cuda()))
            if (probe.GetCudaDevices().Count > 0)
            {
                // A machine with a GPU: the device opens instead.
                using var gpu = Backends.Open("cuda");
                Assert.StartsWith("ILGPU CUDA", gpu.Description);
                return;
            }
        var e = Assert.Throws<DeviceNotFoundException>(() => Backends.Open("cuda"));
        Assert.Contains("'cuda'", e.Message);
        Assert.Contains("no CUDA device", e.Message);
        Assert.Contains("ILGPU saw", e.Message);
    }

    [Fact]
    public void OpenCLWithoutGenericAddressSpaceThrowsDeviceNotFound()
    {
        using (var probe = Context.Create(b => b.OpenCL(_ => true)))
            foreach (var device in probe.GetCLDevices())
                if (device.Capabilities.GenericAddressSpace) return; // a usable OpenCL 2.0 device exists here
        var e = Assert.Throws<DeviceNotFoundException>(() => Backends.Open("opencl"));
        Assert.Contains("'opencl'", e.Message);
        Assert.Contains("no OpenCL 2.0 device with generic address space", e.Message);
    }

    [Fact]
    public void UploadDownloadRoundTripsAtOffsets()
    {
        using var s = Ilgpu.Allocate(50);
        float[] data = Enumerable.Range(0, 20).Select(i => i * 1.5f).ToArray();
        Ilgpu.Upload(data, s, 7);
        var back = new float[20];
        Ilgpu.Download(s, 7, back);
        Assert.Equal(data, back);
        Assert.Throws<ArgumentOutOfRangeException>(() => Ilgpu.Upload(data, s, s.Length - 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ilgpu.Download(s, -1, back));
    }

    [Fact]
    public void PoolReusesBySizeClassAndZeroesOnRequest()
    {
        var backend = new IlgpuBackend(DeviceKind.IlgpuCpu);
        try
        {
            var first = backend.Allocate(100);        // size class 128
            Assert.Equal(SizeClasses.Round(100), first.Length);
            backend.Fill(StridedView.Contiguous(first, 100), 7f);
            first.Release();
            var second = backend.Allocate(110, zero: true);
            Assert.Same(first, second);
            var back = new float[110];
            backend.Download(second, 0, back);
            Assert.All(back, v => Assert.Equal(0f, v));
            second.Release();
            Assert.Throws<ObjectDisposedException>(() => backend.Fill(StridedView.Contiguous(second, 4), 1f));
        }
        finally { backend.Dispose(); }
    }

    [Fact]
    public void MixingStoragesOfTwoBackendsThrows()
    {
        using var onCpu = Cpu.Allocate(12);
        using var onGpu = Ilgpu.Allocate(12);
        var c = StridedView.Contiguous(onCpu, 3, 4);
        var g = StridedView.Contiguous(onGpu, 3, 4);

        var e = Assert.Throws<ArgumentException>(() => Ilgpu.Binary(BinaryOp.Add, g, c, g));
        Assert.Contains("Add", e.Message);
        Assert.Throws<ArgumentException>(() => Cpu.Binary(BinaryOp.Add, c, g, c));
        Assert.Throws<ArgumentException>(() => Ilgpu.Unary(UnaryOp.Copy, c, g));
        Assert.Throws<ArgumentException>(() => Ilgpu.Reduce(ReduceOp.Sum, c, 1, StridedView.Contiguous(onGpu, 3, 1)));
        Assert.Throws<ArgumentException>(() => Ilgpu.Fill(c, 1f));
        Assert.Throws<ArgumentException>(() => Ilgpu.Upload(new float[3], onCpu, 0));
        Assert.Throws<ArgumentException>(() => Ilgpu.Download(onCpu, 0, new float[3]));
        Assert.Throws<ArgumentException>(() => Ilgpu.Gemm(new GemmArgs(3, 4, 4, 1f, onGpu, 0, 4, false, onCpu, 0, 4, false, 0f, onGpu, 0, 4)));

        // Two ILGPU backends do not share storage either.
        using var other = new IlgpuBackend(DeviceKind.IlgpuCpu);
        Assert.Throws<ArgumentException>(() => other.Unary(UnaryOp.Copy, g, g));
    }

    [Fact]
    public void ErrorsNameTheOpAndShapes()
    {
        using var s = Ilgpu.Allocate(64);
        var e = Assert.Throws<ArgumentException>(() =>
            Ilgpu.Binary(BinaryOp.Mul, StridedView.Contiguous(s, 2, 3), StridedView.Contiguous(s, 3, 2), StridedView.Contiguous(s, 2, 3)));
        Assert.Contains("Mul", e.Message);
        Assert.Contains("[3,2]", e.Message);
        var r = Assert.Throws<ArgumentException>(() => Ilgpu.Reduce(ReduceOp.Mean, StridedView.Contiguous(s, 2, 3), 1, StridedView.Contiguous(s, 2, 3)));
        Assert.Contains("Mean", r.Message);
        var g = Assert.Throws<ArgumentOutOfRangeException>(() =>
            Ilgpu.Gemm(new GemmArgs(9, 9, 9, 1f, s, 0, 9, false, s, 0, 9, false, 0f, s, 0, 9)));
        Assert.Contains("gemm", g.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Ilgpu.Fill(new StridedView(s, 60, [2, 3], [3, 1]), 0f));
    }
}
