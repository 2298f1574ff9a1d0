using NativeASD.Engine;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Features;

namespace NativeASD.Tests.Detection.Detectors;

public class MetricDetectorTests
{
    static readonly MetricOptions ReferenceOptions = new(Width: 32, Depth: 2, OutputSize: 8, VarianceWeight: 0.5f, Epochs: 2,
        LearningRate: 1e-3f, BatchSize: 64, WeightDecay: 1e-6f, Slope: 0.1f);

    /// <summary>Same rows, initial weights and batches as Tests/Reference/make_detector_references.py: losses and final weights match torch.</summary>
    [Fact]
    public void TrainingTrajectoryMatchesTorch()
    {
        var (rows, shape) = Fixtures.Npy("detectors", "metric_rows.npy");
        using var detector = new MetricDetector(ReferenceOptions);
        detector.CreateHead(shape[1]);
        foreach (var (name, p) in detector.Head.NamedParameters())
            p.Value.Backend.Upload(Fixtures.Npy("detectors", $"metric_init_{name}.npy").Data, p.Value.Storage, p.Value.Offset);
        detector.FitFromStandardised((float[])rows.Clone(), shape[1], new SeededRandom(0), shuffleRows: false);

        var expected = Fixtures.Npy("detectors", "metric_losses.npy").Data;
        Assert.Equal(expected.Length, detector.StepLosses.Count);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(detector.StepLosses[i] - expected[i]) <= 1e-4 * Math.Abs(expected[i]), $"step {i}: {detector.StepLosses[i]} vs torch {expected[i]}");
        foreach (var (name, p) in detector.Head.NamedParameters())
        {
            var want = Fixtures.Npy("detectors", $"metric_final_{name}.npy").Data;
            var got = p.Value.ToArray();
            double err = 0, norm = 0;
            for (int i = 0; i < want.Length; i++) { err += (got[i] - want[i]) * (double)(got[i] - want[i]); norm += want[i] * (double)want[i]; }
            Assert.True(Math.Sqrt(err / norm) <= 1e-4, $"{name}: relative L2 {Math.Sqrt(err / norm)}");
        }
    }

    static ClipFeatures Clip(string name, Random rng, float shift) =>
        new(name, Enumerable.Range(0, 4 * 10).Select(i => (float)(rng.NextDouble() + (i % 10 < 3 ? shift : 0))).ToArray(), 4, 10, [10]);

    [Fact]
    public void SeparatesShiftedClipsDeterministicallyAndRoundTrips()
    {
        var options = new MetricOptions(Width: 32, Depth: 1, OutputSize: 8, Epochs: 20, BatchSize: 32, Seed: 5);
        var rng = new Random(9);
        var train = Enumerable.Range(0, 40).Select(i => Clip($"n{i}", rng, 0)).ToList();
        var normals = Enumerable.Range(0, 10).Select(i => Clip($"tn{i}", rng, 0)).ToList();
        var anomalies = Enumerable.Range(0, 10).Select(i => Clip($"ta{i}", rng, 1.5f)).ToList();
        using var a = new MetricDetector(options);
        using var b = new MetricDetector(options);
        a.Fit(train);
        b.Fit(train);
        Assert.Equal(a.EpochLosses, b.EpochLosses);
        var scores = normals.Concat(anomalies).Select(a.Score).ToArray();
        Assert.Equal(scores, normals.Concat(anomalies).Select(b.Score).ToArray());
        double auc = NativeASD.Detection.Evaluation.RocMetrics.Auc(scores, [.. Enumerable.Repeat(false, 10), .. Enumerable.Repeat(true, 10)]);
        Assert.True(auc > 0.9, $"AUC {auc}");
        Assert.True(a.EpochLosses[^1] < a.EpochLosses[0]);
        using var loaded = MetricDetector.Load(a.Save());
        Assert.Equal(scores[3], loaded.Score(normals[3]));
    }

    [Fact]
    public void WrongFeatureSizeNamesTheClip()
    {
        using var d = new MetricDetector(new MetricOptions(Width: 4, Depth: 1, OutputSize: 2, Epochs: 1));
        var rng = new Random(1);
        d.Fit([Clip("a", rng, 0), Clip("b", rng, 0), Clip("c", rng, 0), Clip("d", rng, 0)]);
        var odd = new ClipFeatures("odd.wav", new float[5], 1, 5, [5]);
        Assert.Contains("odd.wav", Assert.Throws<InvalidDataException>(() => d.Score(odd)).Message);
    }
}

public class AutoencoderDetectorTests
{
    [Fact]
    public void TrainingTrajectoryMatchesTorch()
    {
        var (rows, shape) = Fixtures.Npy("detectors", "ae_rows.npy");
        using var detector = new AutoencoderDetector(new AutoencoderOptions(Epochs: 2, BatchSize: 128));
        detector.CreateNetwork(shape[1]);
        foreach (var (name, p) in detector.Network.NamedParameters())   // net.0.weight … as torch's Sequential 0.weight …
            p.Value.Backend.Upload(Fixtures.Npy("detectors", $"ae_init_{name["net.".Length..]}.npy").Data, p.Value.Storage, p.Value.Offset);
        detector.FitRows(rows, shape[1], shuffle: null);

        var expected = Fixtures.Npy("detectors", "ae_losses.npy").Data;
        Assert.Equal(expected.Length, detector.StepLosses.Count);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(detector.StepLosses[i] - expected[i]) <= 1e-4 * Math.Abs(expected[i]), $"step {i}: {detector.StepLosses[i]} vs torch {expected[i]}");
        var parameters = detector.Network.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Value);
        var buffers = detector.Network.NamedBuffers().ToDictionary(p => p.Name, p => p.Buffer);
        TensorAssertRelative(Fixtures.Npy("detectors", "ae_final_27.weight.npy").Data, parameters["net.27.weight"].ToArray(), "27.weight");
        // Running means are 1 % blends of batch means that nearly cancel (|values| ≤ 0.03), so they carry the training's
        // ~1e-4 relative float divergence amplified; max-abs 1e-4 still catches a wrong momentum (10× off) or eps.
        var wantMean = Fixtures.Npy("detectors", "ae_final_25.running_mean.npy").Data;
        var gotMean = buffers["net.25.running_mean"].ToArray();
        for (int i = 0; i < wantMean.Length; i++) Assert.True(Math.Abs(gotMean[i] - wantMean[i]) <= 1e-4, $"25.running_mean[{i}]: {gotMean[i]} vs {wantMean[i]}");
        var scores = Fixtures.Npy("detectors", "ae_eval_scores.npy").Data;
        for (int i = 0; i < scores.Length; i++)
        {
            double got = detector.Score(new ClipFeatures($"row{i}", rows.AsSpan(i * shape[1], shape[1]).ToArray(), 1, shape[1], [shape[1]]));
            // Biases right before BatchNorm have an exact gradient of zero, so Adam turns float rounding there into
            // ±lr steps that differ from torch's; training-mode outputs cancel them (the losses above match to 1e-4), the
            // eval path sees them through the running means: 1e-3 relative still catches any real error in scoring.
            Assert.True(Math.Abs(got - scores[i]) <= 1e-3 * scores[i], $"row {i}: {got} vs {scores[i]}");
        }
    }

    static void TensorAssertRelative(float[] want, float[] got, string name)
    {
        double err = 0, norm = 0;
        for (int i = 0; i < want.Length; i++) { err += (got[i] - want[i]) * (double)(got[i] - want[i]); norm += want[i] * (double)want[i]; }
        Assert.True(Math.Sqrt(err / norm) <= 1e-4, $"{name}: relative L2 {Math.Sqrt(err / norm)}");
    }

    [Fact]
    public void SaveLoadGivesTheSameScores()
    {
        var rng = new Random(2);
        var clips = Enumerable.Range(0, 6).Select(i => new ClipFeatures($"c{i}", Enumerable.Range(0, 8 * 20).Select(_ => (float)rng.NextDouble()).ToArray(), 8, 20, [20])).ToList();
        using var d = new AutoencoderDetector(new AutoencoderOptions(Epochs: 2, BatchSize: 16, Seed: 1));
        d.Fit(clips);
        using var loaded = AutoencoderDetector.Load(d.Save());
        Assert.Equal(d.Score(clips[0]), loaded.Score(clips[0]));
    }
}

public class VaeDetectorTests
{
    [Fact]
    public void TrainingTrajectoryMatchesTorch()
    {
        var (rows, shape) = Fixtures.Npy("detectors", "vae_rows.npy");
        var noise = Fixtures.Npy("detectors", "vae_noise.npy").Data;
        using var detector = new VaeDetector(new VaeOptions(Hidden: 16, Latent: 6, HiddenLayers: 1, Epochs: 2, BatchSize: 50));
        detector.CreateNetwork(shape[1]);
        foreach (var (name, p) in detector.Network.NamedParameters())
            p.Value.Backend.Upload(Fixtures.Npy("detectors", $"vae_init_{name}.npy").Data, p.Value.Storage, p.Value.Offset);
        int used = 0;
        detector.FitRows(rows, shape[1], shuffle: null, (n, k) => { var e = noise.AsSpan(used, n * k).ToArray(); used += n * k; return e; });

        var expected = Fixtures.Npy("detectors", "vae_losses.npy").Data;
        Assert.Equal(expected.Length, detector.StepLosses.Count);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(detector.StepLosses[i] - expected[i]) <= 1e-4 * Math.Abs(expected[i]), $"step {i}: {detector.StepLosses[i]} vs torch {expected[i]}");

        // Scoring as the original: evaluation mode (running BatchNorm statistics), z = μ + ε·σ with torch's ε.
        var backend = detector.Network.NamedParameters().First().Parameter.Value.Backend;
        using var x = Tensor.FromSpan(rows.AsSpan(0, 10 * shape[1]), [10, shape[1]], backend);
        using var eps = Tensor.FromSpan(Fixtures.Npy("detectors", "vae_eval_noise.npy").Data, [10, 6], backend);
        using var output = detector.Network.Forward(x, eps);
        var reconstruction = output.Reconstruction.ToArray();
        var torch = Fixtures.Npy("detectors", "vae_eval_reconstruction.npy").Data;
        for (int i = 0; i < torch.Length; i++)
            Assert.True(Math.Abs(reconstruction[i] - torch[i]) <= 1e-3 * (1 + Math.Abs(torch[i])), $"reconstruction {i}: {reconstruction[i]} vs torch {torch[i]}");
    }

    [Fact]
    public void AClipScoresTheSameWhateverWasScoredBeforeIt()
    {
        var rng = new Random(5);
        var clips = Enumerable.Range(0, 4).Select(i => new ClipFeatures($"c{i}", Enumerable.Range(0, 6 * 12).Select(_ => (float)rng.NextDouble()).ToArray(), 6, 12, [12])).ToList();
        using var detector = new VaeDetector(new VaeOptions(Hidden: 8, Latent: 3, HiddenLayers: 1, Epochs: 2, BatchSize: 8, Seed: 3));
        detector.Fit(clips);
        double first = detector.Score(clips[2]);
        detector.Score(clips[0]);
        detector.Score(clips[1]);
        Assert.Equal(first, detector.Score(clips[2]));
    }

    [Fact]
    public void FitScoreSaveLoadIsDeterministic()
    {
        var rng = new Random(4);
        var clips = Enumerable.Range(0, 5).Select(i => new ClipFeatures($"c{i}", Enumerable.Range(0, 6 * 12).Select(_ => (float)rng.NextDouble()).ToArray(), 6, 12, [12])).ToList();
        var options = new VaeOptions(Hidden: 8, Latent: 3, HiddenLayers: 1, Epochs: 3, BatchSize: 8, Seed: 2);
        using var a = new VaeDetector(options);
        using var b = new VaeDetector(options);
        a.Fit(clips);
        b.Fit(clips);
        Assert.Equal(a.StepLosses, b.StepLosses);
        using var loaded = VaeDetector.Load(a.Save());
        Assert.Equal(a.Score(clips[1]), loaded.Score(clips[1]));
    }
}
