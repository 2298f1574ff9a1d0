using System.Diagnostics;
using System.Globalization;
using NativeASD.Engine.Audio;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Features;
using NativeASD.Engine.Architectures;
using NativeASD.Engine.Architectures.Panns;
using NativeASD.Detection.Synth;
using NativeASD.Kernels.Cpu;
using NativeASD.Engine.Diagnostics;
using NativeASD.Weights;
using NativeASD.Weights.Safetensors;
using NativeASD.Engine.IO;

namespace NativeASD.Bench;

/// <summary>
/// <c>detector-quick [threads] [clips] [yamnet.tflite]</c>: (1) fitting the metric head on 1,000 clips of cached
/// YAMNet-sized features (20 segments × 1024 per 10 s clip, as yamnet layer14 gives); (2) scoring throughput in clips
/// per second of every detector on generated 10 s clips with a YAMNet backbone (when the file is given) and with a
/// random-weight PANNs ResNet38 tapped at layer3 — feature extraction included, cache off, models fitted first.
/// </summary>
internal static class DetectorQuick
{
    public static void Run(string[] args)
    {
        int threads = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : Environment.ProcessorCount;
        int clips = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 8;
        string? yamnet = args.Length > 2 ? args[2] : null;
        using var backend = new CpuBackend(threads);

        var rng = new Random(1);
        var cached = Enumerable.Range(0, 1000).Select(i => new ClipFeatures($"clip{i}",
            Enumerable.Range(0, 20 * 1024).Select(_ => (float)rng.NextDouble()).ToArray(), 20, 1024, [1024])).ToList();
        var sw = Stopwatch.StartNew();
        using (var metric = new MetricDetector(new MetricOptions(), backend)) metric.Fit(cached);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"fit metric (defaults: 30 epochs) on 1000 clips × 20 × 1024 cached features, {threads} threads: {sw.Elapsed.TotalSeconds:F1} s"));

        string dir = Directory.CreateTempSubdirectory("nasd-detector-quick").FullName;
        try
        {
            var generator = new MachineSoundGenerator(new SynthOptions(Seed: 5));
            var files = Enumerable.Range(0, clips).Select(i =>
            {
                var clip = new SynthClip("fan", 0, "train", i, AnomalyKind.None);
                string path = Path.Combine(dir, clip.FileName);
                WavWriter.Write(path, generator.Generate(clip), 16000);
                return path;
            }).ToList();

            string resnet = Path.Combine(dir, "resnet38.safetensors");
            using (var model = new PannsResNet(PannsConfig.ResNet38, backend))
            {
                RandomWeights.Fill(model, 1);
                var tensors = StateDict.Entries(model).Select(e => SafetensorsTensor.Float32(e.Name, e.Tensor.ShapeArray(), e.Tensor.ToArray())).ToList();
                tensors.AddRange(PannsFrontendTensors());
                AtomicFile.Write(resnet, s => SafetensorsWriter.Write(s, resnet, tensors));
            }
            var backbones = new List<(string Name, string? Path, string? Tap)> { ("log-mel", null, null), ("resnet38 layer3", resnet, "layer3") };
            if (yamnet is not null) backbones.Insert(1, ("yamnet layer14", yamnet, "layer14"));
            foreach (var (name, path, tap) in backbones)
                foreach (string detector in path is null ? new[] { "mahalanobis", "metric", "ae", "vae" } : ["mahalanobis", "metric"])
                {
                    string model = Path.Combine(dir, "m.safetensors");
                    var settings = new FitSettings(detector, Metric: new MetricOptions(Epochs: 2), Autoencoder: new AutoencoderOptions(Epochs: 2),
                        Vae: new VaeOptions(Epochs: 2), Backbone: path, Taps: tap is null ? null : [tap]);
                    DetectorRunner.Fit(files, model, settings, backend);
                    sw.Restart();
                    var (scores, _, _) = DetectorRunner.Score(model, files, null, backend);
                    double s = sw.Elapsed.TotalSeconds;
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"score {detector,-11} {name,-16} {scores.Count} clips of 10 s in {s:F2} s: {scores.Count / s:F2} clips/s ({threads} threads)"));
                }
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>The frontend tensors a PANNs checkpoint carries: the STFT as windowed DFT conv kernels [513,1,1024] and the Slaney mel matrix [513,64].</summary>
    static IEnumerable<SafetensorsTensor> PannsFrontendTensors()
    {
        const int n = 1024, bins = n / 2 + 1;
        var window = Engine.Frontend.Window.Create(Engine.Frontend.WindowKind.Hann, n);
        float[] real = new float[bins * n], imag = new float[bins * n];
        for (int k = 0; k < bins; k++)
            for (int t = 0; t < n; t++)
            {
                double angle = 2 * Math.PI * k * t / n;
                real[k * n + t] = (float)(window[t] * Math.Cos(angle));
                imag[k * n + t] = (float)(-window[t] * Math.Sin(angle));
            }
        var mel = Engine.Frontend.MelFilterbank.Dense(bins, 32000, 64, 50, 14000, Engine.Frontend.MelScale.Slaney, Engine.Frontend.MelNorm.Slaney, Engine.Frontend.MelShape.Librosa);
        var melW = new float[bins * 64];
        for (int b = 0; b < 64; b++)
            for (int k = 0; k < bins; k++) melW[k * 64 + b] = (float)mel[k, b];
        yield return SafetensorsTensor.Float32("spectrogram_extractor.stft.conv_real.weight", [bins, 1, n], real);
        yield return SafetensorsTensor.Float32("spectrogram_extractor.stft.conv_imag.weight", [bins, 1, n], imag);
        yield return SafetensorsTensor.Float32("logmel_extractor.melW", [bins, 64], melW);
    }
}
