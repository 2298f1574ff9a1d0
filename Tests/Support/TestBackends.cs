using NativeASD.Kernels;
using NativeASD.Kernels.Cpu;

namespace NativeASD.Tests.Support;

/// <summary>
/// The backends every op test runs on, by name: the CPU backend at each SIMD level this machine supports
/// (so the fallbacks are proven too) and ILGPU's CPU accelerator. Backends are created once and shared.
/// </summary>
public static class TestBackends
{
    static readonly Dictionary<string, IBackend> Opened = new();
    static readonly object Gate = new();

    public static IEnumerable<string> CpuNames()
    {
        yield return "cpu";
        if (SimdSupport.IsSupported(SimdLevel.Vector256)) yield return "cpu-v256";
        if (SimdSupport.IsSupported(SimdLevel.Vector128)) yield return "cpu-v128";
        yield return "cpu-scalar";
        yield return "cpu-1thread";
    }

    public static IEnumerable<string> AllNames() => CpuNames().Append("ilgpu-cpu");

    /// <summary>
    /// The SIMD levels this machine does not accelerate, run on .NET's software vectors ("cpu-v512-software" on AVX2
    /// hosts): slow, so only the kernels written per level (conv, Winograd) add them to their cases.
    /// </summary>
    public static IEnumerable<string> SoftwareNames()
    {
        if (!SimdSupport.IsSupported(SimdLevel.Vector512)) yield return "cpu-v512-software";
    }

    /// <summary>xunit MemberData: every backend.</summary>
    public static TheoryData<string> All => new(AllNames());

    /// <summary>xunit MemberData: CPU variants only.</summary>
    public static TheoryData<string> Cpu => new(CpuNames());

    public static IBackend Get(string name)
    {
        lock (Gate)
        {
            if (Opened.TryGetValue(name, out var b)) return b;
            b = name switch
            {
                "cpu" => new CpuBackend(2),
                "cpu-v256" => new CpuBackend(2, SimdLevel.Vector256),
                "cpu-v128" => new CpuBackend(2, SimdLevel.Vector128),
                "cpu-scalar" => new CpuBackend(2, SimdLevel.Scalar),
                "cpu-1thread" => new CpuBackend(1),
                "cpu-v512-software" => CpuBackend.InSoftware(2, SimdLevel.Vector512),
                _ => Backends.Open(name),
            };
            Opened[name] = b;
            return b;
        }
    }

    /// <summary>The CPU backend every other backend is compared with.</summary>
    public static IBackend Reference => Get("cpu");
}
