using System.Diagnostics;
using NativeASD.Engine.Layers;
using NativeASD.Engine.Architectures.Panns;
using NativeASD.Kernels;
using NativeASD.Kernels.Ilgpu;

namespace NativeASD.Engine.Diagnostics;

/// <summary>One compared result: NMSE of the device's output against the CPU backend's.</summary>
public sealed record ParityResult(string Name, double Nmse, double Bound, int Count)
{
    public bool Ok => Nmse <= Bound;
}

/// <summary>
/// Runs ops, layers (forward and backward), every GEMM/conv kernel variant of an ILGPU device, and optionally a narrow
/// PANNs ResNet on a device backend (cuda, opencl, ilgpu-cpu) and on the CPU backend with the same inputs and weights, and reports the normalised mean squared error
/// of each result, as ggml's test-backend-ops does. <see cref="Time"/> then measures a GEMM and a 3×3 conv on the device.
/// </summary>
public static class BackendParity
{
    /// <summary>
    /// Compares every case (or, with <paramref name="include"/>, the cases whose name it accepts: "unary Relu",
    /// "gemm 65x33x129 tA=False tB=True", "conv1x1 48→16", …) and returns one result per compared tensor.
    /// </summary>
    public static List<ParityResult> Run(IBackend device, bool includeNetwork = true, Action<ParityResult>? report = null,
        Func<string, bool>? include = null)
    {
        var cpu = Backends.DefaultCpu;
        bool Wanted(string name) => include?.Invoke(name) ?? true;
        var results = new List<ParityResult>();
        var rng = new SeededRandom(1);

        void Compare(string name, Tensor onCpu, Tensor onDevice, double bound)
        {
            var a = onCpu.ToArray();
            var b = onDevice.ToArray();
            if (a.Length != b.Length) throw new InvalidOperationException($"{name}: {a.Length} values on the CPU, {b.Length} on {device.Kind}");
            double err = 0, norm = 0;
            for (int i = 0; i < a.Length; i++) { err += (a[i] - b[i]) * (double)(a[i] - b[i]); norm += a[i] * (double)a[i]; }
            var result = new ParityResult(name, norm == 0 ? err : err / norm, bound, a.Length);
            results.Add(result);
            report?.Invoke(result);
        }

        Tensor Random(int[] shape, IBackend backend)
        {
            var data = new float[shape.Aggregate(1, (x, y) => x * y)];
            rng.FillNormal(data, 0f, 1f);
            return Tensor.FromSpan(data, shape, backend);
        }

        // Ops: unary, broadcasting binary, reductions, GEMM.
        using (var x = Random([37, 129], cpu))
        using (var y = Random([1, 129], cpu))
        using (var xd = x.To(device))
        using (var yd = y.To(device))
        {
            foreach (var op in Enum.GetValues<UnaryOp>())
            {
                if (!Wanted($"unary {op}")) continue;
                using var input = op is UnaryOp.Log or UnaryOp.Sqrt ? Ops.Abs(x) : x.Share();
                using var inputD = input.To(device);
                using var a = Ops.Unary(op, input, null, 1.5f, 0.25f);
                using var b = Ops.Unary(op, inputD, null, 1.5f, 0.25f);
                Compare($"unary {op}", a, b, 1e-10);
            }
            foreach (var op in Enum.GetValues<BinaryOp>())
            {
                if (!Wanted($"binary {op} [37,129]x[1,129]")) continue;
                using var a = Ops.Binary(op, x, y);
                using var b = Ops.Binary(op, xd, yd);
                Compare($"binary {op} [37,129]x[1,129]", a, b, 1e-12);
            }
            foreach (var op in Enum.GetValues<ReduceOp>())
                for (int axis = 0; axis < 2; axis++)
                {
                    if (!Wanted($"reduce {op} axis {axis}")) continue;
                    using var a = Ops.Reduce(op, x, axis);
                    using var b = Ops.Reduce(op, xd, axis);
                    Compare($"reduce {op} axis {axis}", a, b, 1e-10);
                }
        }
        foreach (var (m, n, k) in new[] { (1, 1, 1), (65, 33, 129), (256, 300, 200) })
            foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true), (true, true) })
            {
                if (!Wanted($"gemm {m}x{n}x{k} tA={ta} tB={tb}")) continue;
                using var a = Random(ta ? [k, m] : [m, k], cpu);
                using var b = Random(tb ? [n, k] : [k, n], cpu);
                using var c = Tensor.Zeros([m, n], cpu);
                using var ad = a.To(device);
                using var bd = b.To(device);
                using var cd = Tensor.Zeros([m, n], device);
                Ops.Gemm(a, b, c, ta, tb);
                Ops.Gemm(ad, bd, cd, ta, tb);
                Compare($"gemm {m}x{n}x{k} tA={ta} tB={tb}", c, cd, 1e-10);
            }

        // Layers: forward, input gradient and weight gradient on both backends from the same weights.
        void LayerCase(string name, Func<IBackend, Layer> make, int[] inputShape)
        {
            if (!Wanted(name)) return;
            using var onCpu = make(cpu);
            using var onDevice = make(device);
            foreach (var ((_, p), (_, q)) in onCpu.NamedParameters().Zip(onDevice.NamedParameters()))
            {
                var w = new float[p.Value.Count];
                rng.FillNormal(w, 0f, 0.3f);
                cpu.Upload(w, p.Value.Storage, p.Value.Offset);
                device.Upload(w, q.Value.Storage, q.Value.Offset);
            }
            using var x = Random(inputShape, cpu);
            using var xd = x.To(device);
            using var y = onCpu.Forward(x);
            using var yd = onDevice.Forward(xd);
            Compare($"{name} forward", y, yd, 1e-10);
            using var dy = Random(y.ShapeArray(), cpu);
            using var dyd = dy.To(device);
            using var dx = onCpu.Backward(dy);
            using var dxd = onDevice.Backward(dyd);
            Compare($"{name} dx", dx, dxd, 1e-10);
            foreach (var ((pn, p), (_, q)) in onCpu.NamedParameters().Zip(onDevice.NamedParameters()))
                Compare($"{name} d{pn}", p.Grad, q.Grad, 1e-10);
        }
        LayerCase("conv3x3 16→24 pad1", b => new Conv2d(16, 24, 3, padding: 1, backend: b), [2, 16, 33, 20]);
        LayerCase("conv3x3 64→64 pad1 (winograd size)", b => new Conv2d(64, 64, 3, padding: 1, backend: b), [1, 64, 32, 64]);
        LayerCase("conv5x5 s2 d1 8→12", b => new Conv2d(8, 12, 5, stride: 2, padding: 2, backend: b), [2, 8, 21, 17]);
        LayerCase("conv3x3 dilation 2", b => new Conv2d(6, 6, 3, padding: 2, dilation: 2, backend: b), [1, 6, 19, 23]);
        LayerCase("depthwise 3x3 s2 32", b => new Conv2d(32, 32, 3, stride: 2, padding: 1, groups: 32, backend: b), [2, 32, 24, 24]);
        LayerCase("conv1x1 48→16", b => new Conv2d(48, 16, 1, backend: b), [2, 48, 9, 11]);
        LayerCase("maxpool 3 s2", b => new MaxPool2d(3, 2, 1, b), [2, 5, 17, 13]);
        LayerCase("avgpool 2", b => new AvgPool2d(2, backend: b), [2, 5, 16, 14]);
        LayerCase("batchnorm2d train", b => new BatchNorm2d(7, backend: b), [3, 7, 9, 5]);
        LayerCase("batchnorm1d train", b => new BatchNorm1d(33, backend: b), [40, 33]);
        LayerCase("linear 129→65", b => new Linear(129, 65, backend: b), [17, 129]);
        LayerCase("leaky relu", b => new LeakyReLU(0.1f, b), [17, 40]);

        if (device is IlgpuBackend ilgpu) KernelVariants(ilgpu, Wanted, Random, Compare);

        if (!includeNetwork || !Wanted("panns resnet22/8")) return results;
        // A narrow PANNs ResNet22 on a 3 s log-mel: every tap.
        var config = PannsConfig.ResNet22 with { Width = 0.125 };
        using (var netCpu = new PannsResNet(config, cpu))
        using (var netDevice = new PannsResNet(config, device))
        {
            foreach (var ((_, p), (_, q)) in netCpu.NamedParameters().Zip(netDevice.NamedParameters()))
            {
                var w = new float[p.Value.Count];
                rng.FillNormal(w, 0f, 0.1f);
                cpu.Upload(w, p.Value.Storage, p.Value.Offset);
                device.Upload(w, q.Value.Storage, q.Value.Offset);
            }
            netCpu.Eval();
            netDevice.Eval();
            using var x = Random([1, 1, 301, 64], cpu);
            using var xd = x.To(device);
            var taps = netCpu.TapNames.ToArray();
            using var a = netCpu.Forward(x, taps);
            using var b = netDevice.Forward(xd, taps);
            foreach (var tap in taps) Compare($"panns resnet22/8 tap {tap}", a[tap], b[tap], 1e-9);
        }

        return results;
    }

    /// <summary>
    /// Every GEMM kernel variant of an ILGPU device, forced by name ("simple" included): a GEMM with edge blocks on both
    /// axes, a partial last slab, alpha/beta and a strided batch in all four transposes; and the convolutions on that
    /// variant (the implicit GEMM; "simple" runs the direct kernels): the fused evaluation epilogue with residual and
    /// ReLU, backward data at stride 2 with padding per side, backward weight over 2048 positions (split-K) with bias.
    /// </summary>
    static void KernelVariants(IlgpuBackend device, Func<string, bool> wanted, Func<int[], IBackend, Tensor> random,
        Action<string, Tensor, Tensor, double> compare)
    {
        var cpu = Backends.DefaultCpu;
        string? chosen = device.GemmVariant;
        try
        {
            foreach (var variant in new[] { "simple" }.Concat(device.GemmVariants))
            {
                device.GemmVariant = variant;
                const int m = 131, n = 70, k = 21, batch = 2;
                foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true), (true, true) })
                {
                    string name = $"gemm {variant} {m}x{n}x{k} batch {batch} a=0.75 b=0.5 tA={ta} tB={tb}";
                    if (!wanted(name)) continue;
                    using var a = random([batch, m * k], cpu);
                    using var b = random([batch, k * n], cpu);
                    using var c = random([batch, m * n], cpu);
                    using var ad = a.To(device);
                    using var bd = b.To(device);
                    using var cd = c.To(device);
                    GemmArgs Args(Tensor x, Tensor y, Tensor z) => new(m, n, k, 0.75f, x.Storage, 0, ta ? m : k, ta, y.Storage, 0, tb ? k : n, tb,
                        0.5f, z.Storage, 0, n, batch, m * k, k * n, m * n);
                    cpu.Gemm(Args(a, b, c));
                    device.Gemm(Args(ad, bd, cd));
                    compare(name, c, cd, 1e-10);
                }
                ConvVariant(device, variant, wanted, random, compare);
            }
        }
        finally { device.GemmVariant = chosen; }
    }

    static void ConvVariant(IlgpuBackend device, string variant, Func<string, bool> wanted, Func<int[], IBackend, Tensor> random,
        Action<string, Tensor, Tensor, double> compare)
    {
        var cpu = Backends.DefaultCpu;
        var fused = new Conv2dGeometry(2, 9, 7, 11, 10, 3, 3, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1);
        if (wanted($"conv {variant} fused residual relu"))
        {
            using var x = random(fused.InputShape, cpu);
            using var w = random(fused.WeightShape, cpu);
            using var scale = random([fused.OutChannels], cpu);
            using var shift = random([fused.OutChannels], cpu);
            using var residual = random(fused.OutputShape, cpu);
            using var y = Tensor.Zeros(fused.OutputShape, cpu);
            using var xd = x.To(device);
            using var wd = w.To(device);
            using var scaled = scale.To(device);
            using var shiftd = shift.To(device);
            using var residuald = residual.To(device);
            using var yd = Tensor.Zeros(fused.OutputShape, device);
            cpu.Conv2dForwardFused(fused, x.View, w.View, new ConvEpilogue(scale.View, shift.View, residual.View, true), y.View);
            device.Conv2dForwardFused(fused, xd.View, wd.View, new ConvEpilogue(scaled.View, shiftd.View, residuald.View, true), yd.View);
            compare($"conv {variant} fused residual relu", y, yd, 1e-10);
        }
        var strided = new Conv2dGeometry(2, 9, 13, 12, 12, 5, 5, 2, 2, 2, 1, 1, 2);
        if (wanted($"conv {variant} dx 5x5 s2 pads 2,1,1,2"))
        {
            using var dy = random(strided.OutputShape, cpu);
            using var w = random(strided.WeightShape, cpu);
            using var dx = Tensor.Zeros(strided.InputShape, cpu);
            using var dyd = dy.To(device);
            using var wd = w.To(device);
            using var dxd = Tensor.Zeros(strided.InputShape, device);
            cpu.Conv2dBackwardData(strided, dy.View, w.View, dx.View);
            device.Conv2dBackwardData(strided, dyd.View, wd.View, dxd.View);
            compare($"conv {variant} dx 5x5 s2 pads 2,1,1,2", dx, dxd, 1e-10);
        }
        var wide = new Conv2dGeometry(2, 8, 32, 32, 9, 3, 3, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1);
        if (wanted($"conv {variant} dweight 2048 positions"))
        {
            using var x = random(wide.InputShape, cpu);
            using var dy = random(wide.OutputShape, cpu);
            using var dw = Tensor.Zeros(wide.WeightShape, cpu);
            using var db = Tensor.Zeros([wide.OutChannels], cpu);
            using var xd = x.To(device);
            using var dyd = dy.To(device);
            using var dwd = Tensor.Zeros(wide.WeightShape, device);
            using var dbd = Tensor.Zeros([wide.OutChannels], device);
            cpu.Conv2dBackwardWeight(wide, x.View, dy.View, dw.View, db.View);
            device.Conv2dBackwardWeight(wide, xd.View, dyd.View, dwd.View, dbd.View);
            compare($"conv {variant} dweight 2048 positions", dw, dwd, 1e-10);
            compare($"conv {variant} dbias 2048 positions", db, dbd, 1e-10);
        }
    }

    /// <summary>Device timings after a warm-up call that compiles the kernels: GEMM at two sizes and the PANNs-size 3×3 conv.</summary>
    public static IEnumerable<string> Time(IBackend device)
    {
        var rng = new SeededRandom(2);
        Tensor Random(int[] shape)
        {
            var data = new float[shape.Aggregate(1, (x, y) => x * y)];
            rng.FillNormal(data, 0f, 1f);
            return Tensor.FromSpan(data, shape, device);
        }
        foreach (int size in new[] { 1024, 4096 })
        {
            using var a = Random([size, size]);
            using var b = Random([size, size]);
            using var c = Tensor.Zeros([size, size], device);
            Ops.Gemm(a, b, c);
            device.Synchronize();
            var sw = Stopwatch.StartNew();
            int reps = size == 1024 ? 20 : 3;
            for (int i = 0; i < reps; i++) Ops.Gemm(a, b, c);
            device.Synchronize();
            double s = sw.Elapsed.TotalSeconds / reps;
            yield return $"gemm {size}^3: {s * 1e3:F2} ms, {2.0 * size * size * size / s / 1e9:F1} GFLOP/s";
        }
        using (var conv = new Conv2d(64, 64, 3, padding: 1, backend: device))
        using (var x = Random([1, 64, 64, 1000]))
        {
            conv.Eval();
            using (conv.Forward(x)) device.Synchronize();
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < 5; i++) using (conv.Forward(x)) { }
            device.Synchronize();
            double s = sw.Elapsed.TotalSeconds / 5;
            yield return $"conv3x3 [1,64,64,1000] 64→64 forward: {s * 1e3:F2} ms, {2.0 * 64 * 64 * 9 * 64 * 1000 / s / 1e9:F1} GFLOP/s";
        }
    }
}
