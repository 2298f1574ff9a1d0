using NativeASD.Engine;
using NativeASD.Kernels;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Features;

namespace NativeASD.Tests.Detection.Detectors;

/// <summary>The metric head's studied options: whitened input, outlier exposure, segment pooling — each fitted, saved,
/// loaded and scored again the same, deterministic, and refused when a stored value is damaged.</summary>
public class MetricHeadOptionsTests
{
    /// <summary>A small head with the options before issue 17 (standardised input, mean of segment distances): each test sets the one it studies.</summary>
    static readonly MetricOptions Small = new(Width: 16, Depth: 1, OutputSize: 8, Epochs: 5, BatchSize: 16, Seed: 3,
        Input: MetricOptions.Standardise, Pool: MetricOptions.PoolMean);

    /// <summary>Correlated features (10-d, 4 segments per clip); <paramref name="shift"/> moves the first three.</summary>
    static ClipFeatures Clip(string name, Random rng, float shift, int rows = 4)
    {
        var values = new float[rows * 10];
        for (int r = 0; r < rows; r++)
        {
            double common = rng.NextDouble();
            for (int j = 0; j < 10; j++) values[r * 10 + j] = (float)(common * (j + 1) + 0.3 * rng.NextDouble() + (j < 3 ? shift : 0));
        }
        return new(name, values, rows, 10, [10]);
    }

    static List<ClipFeatures> Clips(string prefix, int count, int seed, float shift = 0) =>
        [.. Enumerable.Range(0, count).Select(i => Clip($"{prefix}{i}", new Random(seed * 1000 + i), shift))];

    static (double[] Scores, MetricDetector Loaded) FitSaveLoad(MetricOptions options, IReadOnlyList<ClipFeatures>? negatives = null)
    {
        var train = Clips("n", 30, 1);
        var test = Clips("t", 6, 2).Concat(Clips("a", 6, 3, 1.5f)).ToList();
        using var a = new MetricDetector(options) { Negatives = negatives ?? [] };
        using var b = new MetricDetector(options) { Negatives = negatives ?? [] };
        a.Fit(train);
        b.Fit(train);
        Assert.Equal(a.StepLosses, b.StepLosses);   // same seed, same trajectory
        var scores = test.Select(a.Score).ToArray();
        Assert.Equal(scores, test.Select(b.Score).ToArray());
        var loaded = MetricDetector.Load(a.Save());
        Assert.Equal(scores, test.Select(loaded.Score).ToArray());   // bit for bit after a round trip
        Assert.All(scores, s => Assert.True(double.IsFinite(s)));
        return (scores, loaded);
    }

    [Fact]
    public void WhitenedInputRoundTripsAndDiffersFromStandardised()
    {
        var (whitened, loaded) = FitSaveLoad(Small with { Input = MetricOptions.Whiten });
        using (loaded)
        {
            var state = loaded.Save();
            Assert.True(state.Float64.ContainsKey("whiten.cholesky"));
            Assert.False(state.Tensors.ContainsKey("standardise.mean"));
        }
        var (standardised, other) = FitSaveLoad(Small);
        other.Dispose();
        Assert.NotEqual(standardised, whitened);
    }

    [Fact]
    public void WhiteningGivesTheTrainingRowsAnIdentityCovarianceWhenShrinkageIsSmall()
    {
        var rng = new Random(5);
        int n = 4000, d = 4;
        var x = new float[n * d];
        for (int r = 0; r < n; r++)
        {
            double a = rng.NextDouble() - 0.5, b = rng.NextDouble() - 0.5, c = rng.NextDouble() - 0.5, e = rng.NextDouble() - 0.5;
            x[r * d] = (float)(3 * a + c); x[r * d + 1] = (float)(a + 0.5 * b); x[r * d + 2] = (float)(b - a + e); x[r * d + 3] = (float)(0.5 * e + 2);
        }
        var g = LedoitWolfGaussian.Fit(x, n, d);
        var cov = new double[d, d];
        var y = new double[d];
        for (int r = 0; r < n; r++)
        {
            g.Whiten(x.AsSpan(r * d, d), y);
            Assert.Equal(g.Distance(x.AsSpan(r * d, d)), Math.Sqrt(y.Sum(v => v * v)), 12);
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++) cov[i, j] += y[i] * y[j] / n;
        }
        Assert.True(g.Shrinkage < 0.05, $"shrinkage {g.Shrinkage}");
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) Assert.True(Math.Abs(cov[i, j] - (i == j ? 1 : 0)) < 0.1, $"cov[{i},{j}] = {cov[i, j]}");
    }

    [Fact]
    public void NegativesChangeTrainingDeterministicallyAndRoundTrip()
    {
        var negatives = Clips("other", 20, 7, -1f);
        var (exposed, loaded) = FitSaveLoad(Small, negatives);
        loaded.Dispose();
        var (plain, other) = FitSaveLoad(Small);
        other.Dispose();
        Assert.NotEqual(plain, exposed);

        using var detector = new MetricDetector(Small) { Negatives = [Clip("wide", new Random(1), 0) with { Values = new float[4 * 12], Dimension = 12, Levels = [12] }] };
        var e = Assert.Throws<InvalidDataException>(() => detector.Fit(Clips("n", 5, 1)));
        Assert.Contains("wide", e.Message);
    }

    [Fact]
    public void SegmentPoolingTakesMeanMaxOrTheHighestQuarter()
    {
        double[] d = [1, 5, 2, 8, 3, 4, 7, 6];
        Assert.Equal(4.5, MetricDetector.PoolSegments(d, MetricOptions.PoolMean));
        Assert.Equal(8, MetricDetector.PoolSegments(d, MetricOptions.PoolMax));
        Assert.Equal(7.5, MetricDetector.PoolSegments(d, MetricOptions.PoolTop));   // top 2 of 8
        Assert.Equal(3, MetricDetector.PoolSegments([3, 1], MetricOptions.PoolTop));   // at least one

        var (mean, a) = FitSaveLoad(Small);
        a.Dispose();
        var (max, b) = FitSaveLoad(Small with { Pool = MetricOptions.PoolMax });
        b.Dispose();
        var (top, c) = FitSaveLoad(Small with { Pool = MetricOptions.PoolTop });
        c.Dispose();
        for (int i = 0; i < mean.Length; i++) Assert.True(max[i] >= top[i] && top[i] >= mean[i], $"clip {i}: max {max[i]}, top {top[i]}, mean {mean[i]}");
        // features: one row per clip, its segments averaged before the head — a clip scores as its mean segment would.
        var (_, pooled) = FitSaveLoad(Small with { Pool = MetricOptions.PoolFeatures });
        using (pooled)
        {
            var clip = Clip("t", new Random(4), 0.5f);
            Assert.Equal(pooled.Score(ClipFeatures.Single("m", clip.Pooled())), pooled.Score(clip));
        }
    }

    [Fact]
    public void DamagedStoredValuesAreRefused()
    {
        var (_, whitened) = FitSaveLoad(Small with { Input = MetricOptions.Whiten, Pool = MetricOptions.PoolTop });
        var state = whitened.Save();
        whitened.Dispose();

        var badPool = Copy(state);
        badPool.Metadata["options"] = badPool.Metadata["options"].Replace("\"top\"", "\"median\"");
        Assert.Contains("invalid options", Assert.Throws<InvalidDataException>(() => MetricDetector.Load(badPool)).Message);

        var badFactor = Copy(state);
        badFactor.Float64["whiten.cholesky"] = ([9, 9], new double[81]);
        Assert.Contains("do not fit together", Assert.Throws<InvalidDataException>(() => MetricDetector.Load(badFactor)).Message);

        var badShrinkage = Copy(state);
        badShrinkage.Metadata["whiten.shrinkage"] = "1.5";
        Assert.Contains("shrinkage", Assert.Throws<InvalidDataException>(() => MetricDetector.Load(badShrinkage)).Message);

        var noWhitening = Copy(state);
        noWhitening.Float64.Remove("whiten.mean");
        Assert.Throws<InvalidDataException>(() => MetricDetector.Load(noWhitening));

        var badCentre = Copy(state);
        badCentre.Tensors["centre"] = ([3], [1f, 2f, 3f]);
        Assert.Contains("centre", Assert.Throws<InvalidDataException>(() => MetricDetector.Load(badCentre)).Message);

        Assert.Throws<ArgumentException>(() => new MetricDetector(Small with { NegativeWeight = -1 }));
        Assert.Throws<ArgumentException>(() => new MetricDetector(Small with { Input = "pca" }));
    }

    [Fact]
    public void ModelsWrittenBeforeInputAndPoolExistedLoadAsStandardisedMeans()
    {
        var (scores, fitted) = FitSaveLoad(Small);
        var state = fitted.Save();
        fitted.Dispose();
        var legacy = Copy(state);
        var options = System.Text.Json.Nodes.JsonNode.Parse(legacy.Metadata["options"])!.AsObject();
        options.Remove("Input");
        options.Remove("Pool");
        options.Remove("NegativeWeight");
        legacy.Metadata["options"] = options.ToJsonString();
        using var loaded = MetricDetector.Load(legacy);
        Assert.Equal((MetricOptions.Standardise, MetricOptions.PoolMean), (loaded.Options.Input, loaded.Options.Pool));
        Assert.Equal(scores, Clips("t", 6, 2).Concat(Clips("a", 6, 3, 1.5f)).Select(loaded.Score).ToArray());
        Assert.Equal((MetricOptions.Whiten, MetricOptions.PoolFeatures), (new MetricOptions().Input, new MetricOptions().Pool));   // today's defaults
    }

    [Fact]
    public void WhiteningOneTrainingClipIsAClearError()
    {
        using var detector = new MetricDetector(Small with { Input = MetricOptions.Whiten, Pool = MetricOptions.PoolFeatures });
        var e = Assert.Throws<ArgumentException>(() => detector.Fit(Clips("only", 1, 1)));
        Assert.Contains("only0", e.Message);
        Assert.Contains("--head-input standardise", e.Message);
        // Two clips give a covariance of rank 1 and a Ledoit–Wolf shrinkage of 0: named as too few, not a numerical failure.
        using var two = new MetricDetector(Small with { Input = MetricOptions.Whiten, Pool = MetricOptions.PoolFeatures });
        var singular = Assert.Throws<ArgumentException>(() => two.Fit(Clips("pair", 2, 1)));
        Assert.Contains("too few or too alike", singular.Message);
    }

    static DetectorState Copy(DetectorState s)
    {
        var c = new DetectorState();
        foreach (var (k, v) in s.Tensors) c.Tensors[k] = (v.Shape, (float[])v.Data.Clone());
        foreach (var (k, v) in s.Float64) c.Float64[k] = (v.Shape, (double[])v.Data.Clone());
        foreach (var (k, v) in s.Metadata) c.Metadata[k] = v;
        return c;
    }

    /// <summary>The loss with negatives against a float64 evaluation of its formula, and its gradient against central differences.</summary>
    [Fact]
    public void CompactnessLossWithNegativesMatchesItsFormulaAndFiniteDifferences()
    {
        var rng = new Random(11);
        int normal = 5, negatives = 3, d = 4;
        float lambda = 0.5f, eta = 0.7f;
        var z = Enumerable.Range(0, (normal + negatives) * d).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        float[] centre = [0.1f, -0.2f, 0.3f, 0.1f];

        double Formula(float[] v)
        {
            var dist = Enumerable.Range(0, normal + negatives).Select(i => Enumerable.Range(0, d).Sum(j => Math.Pow(v[i * d + j] - centre[j], 2))).ToArray();
            double mean = dist.Take(normal).Average();
            double variance = dist.Take(normal).Sum(x => (x - mean) * (x - mean)) / normal;
            return mean + lambda * variance + eta * dist.Skip(normal).Average(x => 1 / (x + CompactnessLoss.NegativeEpsilon));
        }

        using var t = Tensor.FromSpan(z, [normal + negatives, d], Backends.DefaultCpu);
        using var loss = CompactnessLoss.Compute(t, centre, lambda, normal, eta);
        Assert.Equal(Formula(z), loss.Value, 1e-5 * Math.Abs(Formula(z)));
        var grad = loss.Grad.ToArray();
        for (int k = 0; k < z.Length; k++)
        {
            const float h = 1e-2f;
            var plus = (float[])z.Clone(); plus[k] += h;
            var minus = (float[])z.Clone(); minus[k] -= h;
            double numeric = (Formula(plus) - Formula(minus)) / (2 * h);
            Assert.True(Math.Abs(numeric - grad[k]) <= 2e-3 * Math.Max(1, Math.Abs(numeric)), $"z[{k}]: analytic {grad[k]}, numeric {numeric}");
        }
        using var plain = CompactnessLoss.Compute(t, centre, lambda, normal + negatives, 0);
        using var old = CompactnessLoss.Compute(t, centre, lambda);
        Assert.Equal(old.Value, plain.Value);
    }
}
