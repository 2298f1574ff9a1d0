using NativeASD.Kernels.Ilgpu;

namespace NativeASD.Tests.Kernels.Ilgpu;

/// <summary>The multiply-and-shift division of the implicit-GEMM index arithmetic equals integer division on 0 ≤ n &lt; 2³¹.</summary>
public class FastDivisorTests
{
    [Fact]
    public void EqualsIntegerDivision()
    {
        var rng = new Random(5);
        var divisors = Enumerable.Range(1, 2100).Concat([4096, 62_500, 64_064, 1_000_000, 46_341, int.MaxValue / 3, int.MaxValue]);
        foreach (int d in divisors)
        {
            var f = FastDivisor.Of(d);
            foreach (int n in new[] { 0, 1, d - 1, d, d + 1, 2 * d - 1, int.MaxValue, int.MaxValue - 1, int.MaxValue / d * d, int.MaxValue / d * d - 1 }
                         .Where(v => v >= 0).Concat(Enumerable.Range(0, 200).Select(_ => rng.Next())))
            {
                Assert.True(n / d == f.Div(n), $"{n} / {d}: {f.Div(n)}");
                Assert.Equal(n % d, f.Rem(n));
            }
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => FastDivisor.Of(0));
    }
}
