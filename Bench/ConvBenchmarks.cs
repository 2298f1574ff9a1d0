using BenchmarkDotNet.Attributes;
using NativeASD.Kernels;
using NativeASD.Kernels.Cpu;

namespace NativeASD.Bench;

/// <summary>
/// conv2d forward, backward data (dx) and backward weight (dW + db) on the CPU backend, 1 and 2 threads, as backend
/// calls. GFLOP/s = 2·N·O·C/g·kh·kw·Ho·Wo / mean time (the forward's flops, also shown for the backward passes so their
/// columns compare directly). Shapes: the 3×3 64→64 on [1,64,64,1000] (PANNs conv_block1's second conv),
/// PANNs stage shapes, a 1×1 and a depthwise 3×3 (YAMNet).
/// Run: <c>dotnet run -c Release --project Bench -- --filter '*ConvBenchmarks*'</c>.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(GemmConfig))]
public class ConvBenchmarks
{
    public static IEnumerable<ConvShape> Shapes =>
    [
        new("k3 64->64 64x1000", new Conv2dGeometry(1, 64, 64, 1000, 64, 3, 3, 1, 1, 1, 1, 1, 1)),
        new("k3 128->128 32x250", new Conv2dGeometry(1, 128, 32, 250, 128, 3, 3, 1, 1, 1, 1, 1, 1)),
        new("k3 512->512 4x62", new Conv2dGeometry(1, 512, 4, 62, 512, 3, 3, 1, 1, 1, 1, 1, 1)),
        new("k1 256->512 12x8", new Conv2dGeometry(1, 256, 12, 8, 512, 1, 1)),
        new("dw3 256 s1 24x16", new Conv2dGeometry(1, 256, 24, 16, 256, 3, 3, 1, 1, 1, 1, 1, 1, Groups: 256)),
    ];

    [ParamsSource(nameof(Shapes))] public ConvShape Shape { get; set; } = null!;
    [Params(1, 2)] public int Threads { get; set; }

    CpuBackend _backend = null!;
    Storage _x = null!, _w = null!, _b = null!, _y = null!, _dy = null!, _dx = null!, _dw = null!, _db = null!;
    StridedView _xv, _wv, _bv, _yv, _dyv, _dxv, _dwv, _dbv;

    [GlobalSetup]
    public void Setup()
    {
        var g = Shape.Geometry;
        _backend = new CpuBackend(Threads);
        StridedView Make(ref Storage s, int[] shape, int seed)
        {
            s = GemmShape.Random(_backend, Layout.Count(shape), seed);
            return StridedView.Contiguous(s, shape);
        }
        _xv = Make(ref _x, g.InputShape, 1);
        _wv = Make(ref _w, g.WeightShape, 2);
        _bv = Make(ref _b, [g.OutChannels], 3);
        _yv = Make(ref _y, g.OutputShape, 4);
        _dyv = Make(ref _dy, g.OutputShape, 5);
        _dxv = Make(ref _dx, g.InputShape, 6);
        _dwv = Make(ref _dw, g.WeightShape, 7);
        _dbv = Make(ref _db, [g.OutChannels], 8);
    }

    [Benchmark(Baseline = true)]
    public void Forward() => _backend.Conv2dForward(Shape.Geometry, _xv, _wv, _bv, _yv);

    [Benchmark]
    public void BackwardData() => _backend.Conv2dBackwardData(Shape.Geometry, _dyv, _wv, _dxv);

    [Benchmark]
    public void BackwardWeight() => _backend.Conv2dBackwardWeight(Shape.Geometry, _xv, _dyv, _dwv, _dbv);

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var s in new[] { _x, _w, _b, _y, _dy, _dx, _dw, _db }) s.Release();
        _backend.Dispose();
    }
}

/// <summary>A labelled conv geometry; flops are the forward's.</summary>
public sealed class ConvShape(string label, Conv2dGeometry geometry) : IFlopsShape
{
    public string Label { get; } = label;
    public Conv2dGeometry Geometry { get; } = geometry;
    public double Flops => Geometry.Flops;
    public override string ToString() => Label;
}
