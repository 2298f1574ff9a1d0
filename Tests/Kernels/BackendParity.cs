// xunit v2 brings no implicit usings; Tests/Support needs Xunit too. Repeating a global using elsewhere is harmless.
using NativeASD.Kernels;

namespace NativeASD.Tests.Kernels;

/// <summary>
/// ggml test-backend-ops style parity checks: the same op on the same inputs runs on a backend under test and
/// on the CPU reference backend, and the results must agree. Outputs are compared over their whole storage,
/// so elements a strided view must not touch are checked too. NaN and ±∞ must sit at exactly the same places;
/// the finite rest is compared by NMSE (Σ(actual − expected)² / Σ expected²) and by the largest relative error
/// |actual − expected| / max(|expected|, 1) (absolute below magnitude 1, so values near zero do not blow it up).
/// </summary>
internal static class BackendParity
{
    /// <summary>For ops whose results both backends round identically (copies, add, max, ...).</summary>
    public const double ExactNmse = 1e-10;

    /// <summary>The same float data in a storage on each of two backends.</summary>
    public sealed class Pair : IDisposable
    {
        public required Storage Expected { get; init; }
        public required Storage Actual { get; init; }
        public required float[] Initial { get; init; }
        public int Length => Initial.Length;

        public StridedView ExpectedView(View v) => new(Expected, v.Offset, v.Shape, v.Strides);
        public StridedView ActualView(View v) => new(Actual, v.Offset, v.Shape, v.Strides);

        public void Dispose()
        {
            Expected.Release();
            Actual.Release();
        }
    }

    /// <summary>A view description, applied to both storages of a <see cref="Pair"/>.</summary>
    public sealed record View(long Offset, int[] Shape, long[] Strides)
    {
        public static View Contiguous(params int[] shape) => new(0, shape, Layout.ContiguousStrides(shape));

        /// <summary>Storage length the view needs.</summary>
        public int Extent => (int)Layout.Extent(Offset, Shape, Strides).End;

        /// <summary>A contiguous tensor of <paramref name="storedShape"/> seen with its axes reordered: view axis i is stored axis order[i].</summary>
        public static View Permuted(int[] storedShape, params int[] order)
        {
            var strides = Layout.ContiguousStrides(storedShape);
            return new View(0, order.Select(a => storedShape[a]).ToArray(), order.Select(a => strides[a]).ToArray());
        }

        public override string ToString() => $"{Layout.Format(Shape)}@{Offset} strides ({string.Join(",", Strides)})";
    }

    /// <summary>Uniform values in [-range, range].</summary>
    public static Func<Random, int, float> Uniform(float range = 2f) => (r, _) => (float)(r.NextDouble() * 2 - 1) * range;

    /// <summary>Uniform values with NaN, ±0 and ±∞ mixed in at fixed positions.</summary>
    public static Func<Random, int, float> WithSpecials(float range = 3f)
    {
        float[] specials = [float.NaN, 0f, -0f, float.PositiveInfinity, float.NegativeInfinity, 1f, -1f];
        return (r, i) => i % 11 == 5 ? specials[i / 11 % specials.Length] : (float)(r.NextDouble() * 2 - 1) * range;
    }

    public static Pair Make(IBackend backend, int length, int seed, Func<Random, int, float>? values = null)
    {
        values ??= Uniform();
        var random = new Random(seed);
        var data = new float[length];
        for (int i = 0; i < length; i++) data[i] = values(random, i);
        var expected = TestBackends.Reference.Allocate(length);
        var actual = backend.Allocate(length);
        TestBackends.Reference.Upload(data, expected, 0);
        backend.Upload(data, actual, 0);
        return new Pair { Expected = expected, Actual = actual, Initial = data };
    }

    public static float[] Read(Storage s, int length)
    {
        var result = new float[length];
        s.Backend.Download(s, 0, result);
        return result;
    }

    /// <summary>Downloads both storages of <paramref name="pair"/> and asserts they agree within the tolerances.</summary>
    public static void AssertClose(string what, Pair pair, double maxNmse = ExactNmse, double maxRelative = 1e-5)
    {
        var expected = Read(pair.Expected, pair.Length);
        var actual = Read(pair.Actual, pair.Length);
        AssertClose(what, expected, actual, maxNmse, maxRelative);
    }

    public static void AssertClose(string what, float[] expected, float[] actual, double maxNmse = ExactNmse, double maxRelative = 1e-5)
    {
        Assert.Equal(expected.Length, actual.Length);
        double err = 0, norm = 0, worst = 0;
        int worstAt = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected[i], a = actual[i];
            if (!float.IsFinite(e) || !float.IsFinite(a))
            {
                bool same = float.IsNaN(e) ? float.IsNaN(a) : e.Equals(a);
                Assert.True(same, $"{what}: element {i} is {a}, expected {e}");
                continue;
            }
            double d = (double)a - e;
            err += d * d;
            norm += (double)e * e;
            double rel = Math.Abs(d) / Math.Max(Math.Abs(e), 1.0);
            if (rel > worst) { worst = rel; worstAt = i; }
        }
        double nmse = norm > 0 ? err / norm : err;
        Assert.True(nmse <= maxNmse, $"{what}: NMSE {nmse:E2} > {maxNmse:E0}");
        if (worst > maxRelative)
            Assert.Fail($"{what}: relative error {worst:E2} > {maxRelative:E0} at element {worstAt} ({actual[worstAt]} vs {expected[worstAt]})");
    }
}
