using NativeASD.Kernels.Cpu;

namespace NativeASD.Tests.Kernels.Cpu.Elementwise;

/// <summary>
/// The span kernels written per SIMD width, at every width whether or not this machine accelerates it (.NET runs a
/// missing width on software vectors), so an AVX-512 host still proves the Vector256 path and an AVX2 host the
/// Vector512 one. Lengths cover whole vectors of each width and every tail.
/// </summary>
public class SpanKernelsTests
{
    public static TheoryData<SimdLevel> Levels => [SimdLevel.Scalar, SimdLevel.Vector128, SimdLevel.Vector256, SimdLevel.Vector512];

    [Theory]
    [MemberData(nameof(Levels))]
    public void LeakyReluEqualsTheScalarRuleAtEveryWidth(SimdLevel level)
    {
        var rng = new Random(7);
        foreach (int n in new[] { 0, 1, 7, 8, 9, 15, 16, 17, 33, 100 })
        {
            var x = new float[n];
            for (int i = 0; i < n; i++) x[i] = i % 5 == 0 ? 0f : (float)(rng.NextDouble() * 4 - 2);
            var y = new float[n];
            SpanKernels.LeakyRelu(x, y, 0.01f, level);
            for (int i = 0; i < n; i++)
                Assert.True(BitConverter.SingleToInt32Bits(x[i] >= 0f ? x[i] : 0.01f * x[i]) == BitConverter.SingleToInt32Bits(y[i]),
                    $"{level}, length {n}, element {i}: x {x[i]:R}, y {y[i]:R}");
        }
    }
}
