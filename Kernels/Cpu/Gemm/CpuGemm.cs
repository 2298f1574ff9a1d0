namespace NativeASD.Kernels.Cpu;

/// <summary>CPU GEMM entry point. (Placeholder loop until the packed SIMD kernel lands.)</summary>
internal static unsafe class CpuGemm
{
    public static void Run(in GemmArgs g, WorkerPool pool, SimdLevel level)
    {
        float* a0 = ((CpuStorage)g.A).Pointer, b0 = ((CpuStorage)g.B).Pointer, c0 = ((CpuStorage)g.C).Pointer;
        for (int batch = 0; batch < g.Batch; batch++)
        {
            float* a = a0 + g.OffsetA + batch * g.StrideA, b = b0 + g.OffsetB + batch * g.StrideB, c = c0 + g.OffsetC + batch * g.StrideC;
            for (int i = 0; i < g.M; i++)
                for (int j = 0; j < g.N; j++)
                {
                    float sum = 0;
                    for (int p = 0; p < g.K; p++)
                        sum += (g.TransA ? a[p * (long)g.Lda + i] : a[i * (long)g.Lda + p]) * (g.TransB ? b[j * (long)g.Ldb + p] : b[p * (long)g.Ldb + j]);
                    float* cij = c + i * (long)g.Ldc + j;
                    *cij = g.Beta == 0 ? g.Alpha * sum : g.Alpha * sum + g.Beta * *cij;
                }
        }
    }
}
