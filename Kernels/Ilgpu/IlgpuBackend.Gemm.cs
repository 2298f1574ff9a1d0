using ILGPU;
using ILGPU.Runtime;

namespace NativeASD.Kernels.Ilgpu;

// ---- GEMM: the register-blocked tiled kernels (TiledGemm.cs), the simple one (GemmKernel.cs) for GEMV-like shapes ----
public sealed partial class IlgpuBackend
{
    string? _gemmVariant;

    /// <summary>
    /// Forces one GEMM variant by name ("128x128k8", …, or "simple") for GEMMs and convolutions, for tuning runs;
    /// null chooses by problem size. A name this device lacks is refused here, with the names it has. Starts from the
    /// environment variable <c>NASD_GEMM_VARIANT</c> (see the constructor).
    /// </summary>
    public string? GemmVariant
    {
        get => _gemmVariant;
        set => _gemmVariant = value is null || value == Ilgpu.GemmVariants.Simple || GemmVariants.Contains(value) ? value
            : throw new ArgumentException($"gemm variant '{value}' is not one of {Ilgpu.GemmVariants.Simple}, {string.Join(", ", GemmVariants)} on this device");
    }

    /// <summary>Names of the tiled GEMM variants this device has (the simple kernel is "simple").</summary>
    public IReadOnlyList<string> GemmVariants => _kernels.TiledGemms.Select(v => v.Name).ToArray();

    /// <summary>The variant a dense M×N×batch GEMM runs ("simple" for the one-output-per-thread kernel).</summary>
    public string GemmVariantFor(int m, int n, int batch) =>
        Ilgpu.GemmVariants.Choose(_kernels.TiledGemms, m, n, batch, Multiprocessors, GemmVariant)?.Name ?? Ilgpu.GemmVariants.Simple;

    int Multiprocessors => Math.Max(1, _accelerator.NumMultiprocessors);

    public void Gemm(in GemmArgs args)
    {
        Check.Gemm(this, args);
        if (args.M == 0 || args.N == 0) return;
        var p = GemmParams.From(args);
        var (a, b, c) = (((IlgpuStorage)args.A).View, ((IlgpuStorage)args.B).View, ((IlgpuStorage)args.C).View);
        lock (_gate)
        {
            Enter();
            var tiled = Ilgpu.GemmVariants.Choose(_kernels.TiledGemms, args.M, args.N, args.Batch, Multiprocessors, GemmVariant);
            if (tiled is not null)
            {
                tiled.Launch(new DenseOperands { AData = a, BData = b, CData = c, P = p });
                return;
            }
            int t = _kernels.GemmTile;
            // Grid Y and Z are capped at 65535 on CUDA; the kernel loops over the rest.
            var grid = new Index3D((args.M + t - 1) / t, Math.Min((args.N + t - 1) / t, 65535), Math.Min(args.Batch, 65535));
            _kernels.Gemm(new KernelConfig(grid, new Index3D(t, t, 1)), a, b, c, p);
        }
    }
}
