using System.Runtime.InteropServices;
using ILGPU.Runtime.Cuda;

namespace NativeASD.Kernels.Ilgpu;

// ---- cuBLAS as the peer of the GEMM benchmark (ILGPU.Algorithms' bindings); never used for computing ----
public sealed partial class IlgpuBackend
{
    /// <summary>The cuBLAS libraries ILGPU.Algorithms binds on Linux, newest first.</summary>
    static readonly string[] CuBlasLibraries = ["libcublas.so.12", "libcublas.so.11", "libcublas.so.10", "libcublas.so"];

    /// <summary>Whether NVIDIA's cuBLAS library loads in this process; <paramref name="status"/> says which, or "not found".</summary>
    public static bool CuBlasLoads(out string status)
    {
        foreach (var name in CuBlasLibraries)
            if (NativeLibrary.TryLoad(name, out var handle))
            {
                NativeLibrary.Free(handle);
                status = name;
                return true;
            }
        status = "not found";
        return false;
    }

    /// <summary>
    /// One cuBLAS SGEMM C = A·B of row-major [m, k]·[k, n] storages of this backend, as an action to time (queued on the
    /// accelerator's stream; <see cref="Synchronize"/> waits for it), or null with the reason in <paramref name="status"/>:
    /// "not found" (no library), "not a CUDA device", or the error cuBLAS raised. The handle lives until the backend is disposed.
    /// </summary>
    public Action? CuBlasGemm(Storage a, Storage b, Storage c, int m, int n, int k, out string status)
    {
        if (!CuBlasLoads(out status)) return null;
        if (_accelerator is not CudaAccelerator cuda)
        {
            status = "not a CUDA device";
            return null;
        }
        var (av, bv, cv) = (Own(a, "cublas").View, Own(b, "cublas").View, Own(c, "cublas").View);
        lock (_gate)
        {
            Enter();
            try { _cuBlas ??= new CuBlas(cuda); }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or CuBlasException or TypeInitializationException)
            {
                status = $"failed: {e.Message}";
                return null;
            }
        }
        status = $"ok ({status}, version {_cuBlas.Version})";
        var blas = _cuBlas;
        // Row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ: cuBLAS multiplies B (n×k, ld n) by A (k×m, ld k).
        return () =>
        {
            lock (_gate)
            {
                Enter();
                blas.Gemm(CuBlasOperation.NonTranspose, CuBlasOperation.NonTranspose, n, m, k, 1f, bv, n, av, k, 0f, cv, n);
            }
        };
    }

    CuBlas? _cuBlas;
}
