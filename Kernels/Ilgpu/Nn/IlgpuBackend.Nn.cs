using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace NativeASD.Kernels.Ilgpu;

public sealed partial class IlgpuBackend
{
    IlgpuNnKernels? _nn;

    /// <summary>The layer kernels, compiled on first use (under the lock) so backends that never train pay nothing.</summary>
    IlgpuNnKernels Nn => _nn ??= new IlgpuNnKernels(_accelerator);

    public void UnaryGrad(UnaryOp op, in StridedView saved, in StridedView dy, in StridedView dx, float alpha = 0f)
    {
        NnGrad.CheckUnaryGrad(this, op, saved, dy, dx);
        var launches = ViewWalk.Plan(dx.Shape, saved.Offset, saved.Strides, dy.Offset, dy.Strides, dx.Offset, dx.Strides);
        lock (_gate)
        {
            Enter();
            var (sv, dv, xv) = (View(saved), View(dy), View(dx));
            foreach (var (walk, count) in launches) Nn.UnaryGrad(count, sv, dv, xv, walk, (int)op, alpha);
        }
    }

    public void AdamStep(in StridedView param, in StridedView grad, in StridedView m, in StridedView v, in AdamArgs args)
    {
        NnGrad.CheckAdam(this, param, grad, m, v);
        long count = param.Count;
        if (count == 0) return;
        if (count > int.MaxValue) throw new ArgumentException($"AdamStep: {count} elements exceed one launch");
        lock (_gate)
        {
            Enter();
            Nn.Adam((int)count, View(param), View(grad), View(m), View(v),
                new AdamOffsets { P = param.Offset, G = grad.Offset, M = m.Offset, V = v.Offset }, args);
        }
    }

    public void ScatterAlongAxis(in StridedView values, in StridedView index, int axis, in StridedView y)
    {
        NnGrad.CheckScatter(this, values, index, axis, y);
        Fill(y, 0f);
        // Walk the values; Y's offset is the element's position with the axis at 0, the kernel adds index · stride.
        var launches = ViewWalk.Plan(values.Shape, values.Offset, values.Strides, index.Offset, index.Strides, y.Offset, y.Strides);
        lock (_gate)
        {
            Enter();
            var (vv, iv, yv) = (View(values), View(index), View(y));
            foreach (var (walk, count) in launches) Nn.Scatter(count, vv, iv, yv, walk, y.Strides[axis], y.Shape[axis]);
        }
    }
}

/// <summary>Device kernels of the layers' backward passes (see <see cref="IBackend.UnaryGrad"/>, <see cref="IBackend.ScatterAlongAxis"/>).</summary>
internal sealed class IlgpuNnKernels
{
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ViewWalk, int, float> UnaryGrad;
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ViewWalk, long, int> Scatter;
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamOffsets, AdamArgs> Adam;

    public IlgpuNnKernels(Accelerator accelerator)
    {
        UnaryGrad = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ViewWalk, int, float>(UnaryGradKernel);
        Scatter = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ViewWalk, long, int>(ScatterKernel);
        Adam = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamOffsets, AdamArgs>(AdamKernel);
    }

    static void UnaryGradKernel(Index1D i, ArrayView<float> saved, ArrayView<float> dy, ArrayView<float> dx, ViewWalk walk, int op, float alpha)
    {
        ViewWalk.Offsets(walk, i, out long so, out long dyo, out long dxo);
        dx[dxo] = NnGrad.Of(op, saved[so], dy[dyo], alpha);
    }

    /// <summary>One thread per value; an index outside [0, n) (which the CPU backend rejects) writes nothing.</summary>
    static void ScatterKernel(Index1D i, ArrayView<float> values, ArrayView<float> index, ArrayView<float> y, ViewWalk walk, long axisStride, int n)
    {
        ViewWalk.Offsets(walk, i, out long vo, out long io, out long yo);
        int k = (int)index[io];
        if (k >= 0 && k < n) y[yo + k * axisStride] = values[vo];
    }

    /// <summary>One thread per element; the operation order of <see cref="NnGrad.Adam"/>.</summary>
    static void AdamKernel(Index1D i, ArrayView<float> param, ArrayView<float> grad, ArrayView<float> m, ArrayView<float> v, AdamOffsets o, AdamArgs a)
    {
        float p = param[o.P + i];
        float g = grad[o.G + i] + a.L2Decay * p;
        p *= a.DecoupledScale;
        float mv = m[o.M + i] * a.Beta1 + (1f - a.Beta1) * g;
        float vv = v[o.V + i] * a.Beta2 + (1f - a.Beta2) * (g * g);
        p -= a.StepSize * (mv / (XMath.Sqrt(vv) / a.Bias2Sqrt + a.Eps));
        m[o.M + i] = mv;
        v[o.V + i] = vv;
        param[o.P + i] = p;
    }
}

/// <summary>Start offsets of the four arrays of an Adam step.</summary>
internal struct AdamOffsets
{
    public long P, G, M, V;
}
