using BenchmarkDotNet.Attributes;
using NativeASD.Kernels;
using NativeASD.Kernels.Cpu;

namespace NativeASD.Bench;

/// <summary>
/// Elementwise and reduction kernels on the CPU backend: 1M floats (a PANNs stage-1 activation is 64×500×32 ≈ 1M),
/// contiguous, broadcast bias add, permuted copy, and a sum along the middle axis.
/// Run: <c>dotnet run -c Release --project Bench -- --filter '*ElementwiseBenchmarks*'</c>.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(GemmConfig))]
public class ElementwiseBenchmarks
{
    const int C = 64, H = 500, W = 32;
    [Params(1, 2)] public int Threads { get; set; }

    CpuBackend _backend = null!;
    StridedView _x, _y, _bias, _xPermuted, _yPermuted, _sum;

    [GlobalSetup]
    public void Setup()
    {
        _backend = new CpuBackend(Threads);
        var x = GemmShape.Random(_backend, C * H * W, 1);
        _x = StridedView.Contiguous(x, C, H, W);
        _y = StridedView.Contiguous(_backend.Allocate(C * H * W), C, H, W);
        _bias = new StridedView(GemmShape.Random(_backend, C, 2), 0, [C, H, W], [1, 0, 0]);
        _xPermuted = new StridedView(x, 0, [W, H, C], [1, W, H * W]);
        _yPermuted = StridedView.Contiguous(_backend.Allocate(C * H * W), W, H, C);
        _sum = StridedView.Contiguous(_backend.Allocate(C * W), C, 1, W);
    }

    [Benchmark] public void Relu() => _backend.Unary(UnaryOp.Relu, _x, _y);
    [Benchmark] public void Sigmoid() => _backend.Unary(UnaryOp.Sigmoid, _x, _y);
    [Benchmark] public void Exp() => _backend.Unary(UnaryOp.Exp, _x, _y);
    [Benchmark] public void AddBroadcastBias() => _backend.Binary(BinaryOp.Add, _x, _bias, _y);
    [Benchmark] public void Mul() => _backend.Binary(BinaryOp.Mul, _x, _x, _y);
    [Benchmark] public void PermuteCopy() => _backend.Unary(UnaryOp.Copy, _xPermuted, _yPermuted);
    [Benchmark] public void SumMiddleAxis() => _backend.Reduce(ReduceOp.Sum, _x, 1, _sum);
    [Benchmark] public void VarianceMiddleAxis() => _backend.Reduce(ReduceOp.Variance, _x, 1, _sum);
}
