using System.Runtime.Intrinsics;

namespace NativeASD.Kernels.Cpu;

/// <summary>Widest SIMD the CPU kernels use. Chosen at start-up from the hardware; tests force the narrower ones.</summary>
public enum SimdLevel { Scalar, Vector128, Vector256, Vector512 }

public static class SimdSupport
{
    /// <summary>The widest level this machine accelerates. NASD_SIMD=scalar|128|256|512 caps it (for testing fallbacks).</summary>
    public static SimdLevel Detect()
    {
        SimdLevel hw = Vector512.IsHardwareAccelerated ? SimdLevel.Vector512
            : Vector256.IsHardwareAccelerated ? SimdLevel.Vector256
            : Vector128.IsHardwareAccelerated ? SimdLevel.Vector128
            : SimdLevel.Scalar;
        string? cap = Environment.GetEnvironmentVariable("NASD_SIMD");
        if (string.IsNullOrEmpty(cap)) return hw;
        SimdLevel wanted = cap.ToLowerInvariant() switch
        {
            "scalar" => SimdLevel.Scalar,
            "128" or "vector128" => SimdLevel.Vector128,
            "256" or "vector256" or "avx2" => SimdLevel.Vector256,
            "512" or "vector512" or "avx512" => SimdLevel.Vector512,
            _ => throw new ArgumentException($"NASD_SIMD='{cap}' is not one of scalar, 128, 256, 512"),
        };
        return wanted < hw ? wanted : hw;
    }

    public static bool IsSupported(SimdLevel level) => level switch
    {
        SimdLevel.Vector512 => Vector512.IsHardwareAccelerated,
        SimdLevel.Vector256 => Vector256.IsHardwareAccelerated,
        SimdLevel.Vector128 => Vector128.IsHardwareAccelerated,
        _ => true,
    };
}
