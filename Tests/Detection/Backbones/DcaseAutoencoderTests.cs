using NativeASD.Engine;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Features;
using NativeASD.Engine.Architectures;
using NativeASD.Weights;
using NativeASD.Weights.Keras;
using NativeASD.Detection.Backbones;
using NativeASD.Weights.Safetensors;
using NativeASD.Weights.Tflite;
using Xunit.Abstractions;
using NativeASD.Engine.IO;
using NativeASD.Tests.Weights.Keras;

namespace NativeASD.Tests.Detection.Backbones;

/// <summary>
/// The dcase-ae mapping on the real ad01 files (Keras HDF5 with Dense + BatchNormalization, and its folded float32
/// TFLite), checked on the 640-d vectors (dcase2020 log-mel, 5 frames) of a real ToyCar clip. No golden output from
/// Keras or the TFLite runtime ships with ../shared/weights, so the references are the layer-by-layer float64
/// evaluations of <see cref="KerasH5Tests"/> (Keras layers from model_config, TFLite FULLY_CONNECTED ops).
/// </summary>
public class DcaseAutoencoderTests(ITestOutputHelper output)
{
    const string Clip = "data/dcase2020-lite/ToyCar/normal_id_01_00000000.wav";

    static float[,] Vectors()
    {
        using var extractor = new StackedFramesExtractor("dcase2020", 5);
        var f = extractor.Extract(SharedData.Require(Clip));
        Assert.Equal(640, f.Dimension);
        var rows = new float[f.Rows, f.Dimension];
        Buffer.BlockCopy(f.Values, 0, rows, 0, f.Values.Length * sizeof(float));
        return rows;
    }

    static float[] Row(float[,] rows, int r) => Enumerable.Range(0, rows.GetLength(1)).Select(c => rows[r, c]).ToArray();

    /// <summary>Per-vector mean squared reconstruction error of the network.</summary>
    static double[] Errors(DenseAutoencoder net, float[,] rows)
    {
        var flat = new float[rows.Length];
        Buffer.BlockCopy(rows, 0, flat, 0, flat.Length * sizeof(float));
        using var x = Tensor.FromSpan(flat, [rows.GetLength(0), rows.GetLength(1)]);
        using var e = net.RowErrors(x);
        return e.ToArray().Select(v => (double)v).ToArray();
    }

    static double Mse(float[] reconstruction, float[] x) => reconstruction.Zip(x, (a, b) => (double)(a - b) * (a - b)).Average();

    static double WorstRelative(double[] a, double[] b) => a.Zip(b, (u, v) => Math.Abs(u - v) / Math.Abs(v)).Max();

    static string Convert(WeightFixtures.TempDir dir, string file, string? arch)
    {
        string dest = dir.File(Path.GetFileNameWithoutExtension(file) + ".safetensors");
        var r = WeightConverter.Convert(SharedData.Require($"weights/{file}"), dest, arch, allowExtra: false);
        Assert.Equal("dcase-ae", r.Arch);
        return dest;
    }

    [SkippableFact]
    public void Both_ad01_files_convert_auto_detected_and_load_as_the_baseline_autoencoder()
    {
        using var dir = new WeightFixtures.TempDir();
        string fromH5 = Convert(dir, "ad01.h5", null), fromTflite = Convert(dir, "ad01_fp32.tflite", null);
        using (var f = SafetensorsFile.Open(fromH5))
        {
            Assert.Equal("dcase-ae", f.Metadata["arch"]);
            Assert.Equal("dcase2020", f.Metadata["frontend"]);
            Assert.Equal("keras-h5", f.Metadata["source_format"]);
            Assert.Contains("\"batch_norm_folded\":false", f.Metadata["arch_config"]);
            Assert.Equal(65, f.Entries.Count);
        }
        using (var f = SafetensorsFile.Open(fromTflite))
            Assert.Contains("\"batch_norm_folded\":true", f.Metadata["arch_config"]);
        foreach (string path in (string[])[fromH5, fromTflite, SharedData.Require("weights/ad01.h5")])
        {
            using var m = ModelFiles.LoadAutoencoder(path);
            Assert.Equal(new DcaseAutoencoderConfig(640, 128, 8, 4, 1e-3, m.Config.BatchNormFolded), m.Config);
            Assert.Equal("dcase2020", m.Frontend.Name);
            Assert.False(m.Network.Training);
        }
        Assert.Contains("no taps", Assert.Throws<WeightFormatException>(() => ModelFiles.Load(fromH5)).Message);
    }

    /// <summary>(a) The HDF5 conversion reproduces the Keras layers (Dense → BatchNormalization ε=1e-3 → ReLU) in float64.</summary>
    [SkippableFact]
    public void Converted_h5_reproduces_the_keras_layers_on_a_toycar_clip()
    {
        var rows = Vectors();
        using var dir = new WeightFixtures.TempDir();
        using var m = ModelFiles.LoadAutoencoder(Convert(dir, "ad01.h5", "dcase-ae"));
        using var keras = KerasH5File.Load(SharedData.Require("weights/ad01.h5"));
        var w = keras.Tensors.ToDictionary(t => t.Name, t => t.ReadFloat32());
        var ours = Errors(m.Network, rows);
        var picked = Enumerable.Range(0, rows.GetLength(0)).Where(r => r % 8 == 0).ToArray();
        var reference = picked.Select(r => { var x = Row(rows, r); return Mse(KerasH5Tests.RunKeras(keras, w, x, omitBiasBeforeBatchNorm: false), x); }).ToArray();
        double worst = WorstRelative(picked.Select(r => ours[r]).ToArray(), reference);
        output.WriteLine($"{picked.Length} vectors, reconstruction error vs Keras layers: worst relative difference {worst:E2}");
        Assert.True(worst <= 1e-4, $"worst relative difference {worst:E3}");
    }

    /// <summary>
    /// (b) TFLite vs HDF5 once the Dense biases feeding a BatchNorm are zeroed in the HDF5 network: the TFLite file's
    /// converter dropped them when it folded BatchNorm (folded bias = β − mean·γ/√(var+ε) instead of
    /// β + (bias − mean)·γ/√(var+ε)). Evaluated layer by layer in float64, the two agree per vector far below 1e-4; our
    /// float32 networks agree on the clip's reconstruction error (the ae detector's score) to 1e-4, and per vector to
    /// 1e-4 except where the network amplifies float32 rounding: on this clip each float32 network is up to ~1e-4 from
    /// its own float64 evaluation on its worst vector, so two float32 networks with differently rounded (folded vs
    /// unfolded) weights can be ~2e-4 apart there. (c) As stored the two differ by about 1e-2.
    /// </summary>
    [SkippableFact]
    public void Tflite_and_h5_give_the_same_reconstruction_errors_once_the_dropped_biases_are_zeroed()
    {
        var rows = Vectors();
        int n = rows.GetLength(0);
        using var dir = new WeightFixtures.TempDir();
        using var h5 = ModelFiles.LoadAutoencoder(Convert(dir, "ad01.h5", "dcase-ae"));
        using var tflite = ModelFiles.LoadAutoencoder(Convert(dir, "ad01_fp32.tflite", "dcase-ae"));
        var fromTflite = Errors(tflite.Network, rows);
        var asStored = Errors(h5.Network, rows);
        var entries = StateDict.Entries(h5.Network).ToDictionary(e => e.Name, e => e.Tensor);
        for (int k = 0; k < 2 * h5.Config.HiddenLayers + 1; k++)
        {
            var bias = entries[$"net.{3 * k}.bias"];
            bias.Backend.Upload(new float[bias.Count], bias.Storage, bias.Offset);
        }
        var zeroed = Errors(h5.Network, rows);

        // float64 layer-by-layer references: the TFLite FULLY_CONNECTED ops, and the Keras layers without those biases.
        var model = TfliteFile.Load(SharedData.Require("weights/ad01_fp32.tflite"));
        using var keras = KerasH5File.Load(SharedData.Require("weights/ad01.h5"));
        var w = keras.Tensors.ToDictionary(t => t.Name, t => t.ReadFloat32());
        var opsRef = new double[n];
        var kerasRef = new double[n];
        for (int r = 0; r < n; r++)
        {
            var x = Row(rows, r);
            opsRef[r] = Mse(KerasH5Tests.RunTflite(model, x), x);
            kerasRef[r] = Mse(KerasH5Tests.RunKeras(keras, w, x, omitBiasBeforeBatchNorm: true), x);
        }

        double references = WorstRelative(kerasRef, opsRef);
        double tfliteVsOps = WorstRelative(fromTflite, opsRef), h5VsKeras = WorstRelative(zeroed, kerasRef);
        var perVector = zeroed.Zip(fromTflite, (a, b) => Math.Abs(a - b) / b).Order().ToArray();
        double clip = Math.Abs(zeroed.Average() - fromTflite.Average()) / fromTflite.Average();
        double storedClip = Math.Abs(asStored.Average() - fromTflite.Average()) / fromTflite.Average(), stored = WorstRelative(asStored, fromTflite);
        int within = perVector.Count(d => d <= 1e-4);
        output.WriteLine($"{n} vectors of {Path.GetFileName(Clip)}, relative differences of reconstruction errors (worst vector unless said):");
        output.WriteLine($"  float64 TFLite ops vs float64 Keras layers (pre-BN Dense biases zeroed): {references:E2}");
        output.WriteLine($"  float32 TFLite conversion vs its float64 ops {tfliteVsOps:E2}; float32 HDF5 conversion (zeroed) vs its float64 layers {h5VsKeras:E2}");
        output.WriteLine($"  float32 TFLite vs float32 HDF5 (zeroed): clip mean {clip:E2}, median vector {perVector[n / 2]:E2}, worst {perVector[^1]:E2}, {within}/{n} vectors ≤ 1e-4");
        output.WriteLine($"  as stored (biases kept): clip mean {storedClip:E2} ({fromTflite.Average():G6} vs {asStored.Average():G6}), worst vector {stored:E2}");

        Assert.True(references <= 1e-4, $"float64 TFLite ops vs Keras layers (biases zeroed): {references:E3}");
        Assert.True(clip <= 1e-4, $"clip reconstruction error, TFLite vs HDF5 (biases zeroed): {clip:E3}");
        Assert.True(tfliteVsOps <= 2e-4 && h5VsKeras <= 2e-4, $"float32 vs float64: TFLite {tfliteVsOps:E3}, HDF5 {h5VsKeras:E3}");
        Assert.True(within >= n * 99 / 100, $"only {within}/{n} vectors agree to 1e-4");
        Assert.True(storedClip > 1e-3, $"TFLite vs HDF5 as stored differ only {storedClip:E3}: was the TFLite file re-converted?");
    }

    /// <summary>The user-visible path: fit --detector ae --init FILE --epochs 0 keeps the pretrained network, so a clip's score is its mean reconstruction error.</summary>
    [SkippableFact]
    public void A_converted_ad01_scores_clips_as_an_ae_detector()
    {
        string clip = SharedData.Require(Clip);
        using var dir = new WeightFixtures.TempDir();
        string weights = Convert(dir, "ad01_fp32.tflite", null), model = dir.File("toycar.safetensors");
        var settings = new FitSettings("ae", Autoencoder: new AutoencoderOptions(Epochs: 0), Init: weights);
        var (info, _) = DetectorRunner.Fit([clip], model, settings);
        Assert.Contains("from ad01_fp32.safetensors", info.TrainingSummary);
        var (scores, _, _) = DetectorRunner.Score(model, [clip]);
        using var m = ModelFiles.LoadAutoencoder(weights);
        // Same network and vectors; the scorer batches rows differently, so float32 sums may round apart (2.7e-9 relative
        // seen on AVX-512 kernels): the bound is float32's, the point is that the score is the mean reconstruction error.
        Assert.Equal(Errors(m.Network, Vectors()).Average(), scores[0].Score, 1e-6 * scores[0].Score);

        Assert.Contains("--init applies to the ae detector", Assert.Throws<ArgumentException>(() =>
            DetectorRunner.Fit([clip], model, settings with { Detector = "vae" })).Message);
    }

    [Fact]
    public void Identity_batchnorm_variance_makes_var_plus_eps_exactly_one()
    {
        foreach (float eps in (float[])[1e-3f, 1e-5f, 0.1f])
        {
            float v = DcaseAutoencoderMapping.IdentityVariance(eps);
            Assert.Equal(1f, v + eps);
            Assert.Equal(1f, MathF.Sqrt(v + eps));
        }
    }

    [Fact]
    public void Layer_widths_that_are_not_an_autoencoder_are_refused_with_the_file_named()
    {
        using var dir = new WeightFixtures.TempDir();
        string path = dir.File("odd.safetensors");
        AtomicFile.Write(path, s => SafetensorsWriter.Write(s, path, [SafetensorsTensor.Float32("net.0.weight", [16, 32], new float[512]), SafetensorsTensor.Float32("net.1.running_var", [16], new float[16]),
            SafetensorsTensor.Float32("net.3.weight", [32, 16], new float[512])], new Dictionary<string, string>()));
        using var s = WeightFiles.Open(path);
        var e = Assert.Throws<WeightFormatException>(() => ArchitectureMappings.Get(path, "dcase-ae").Map(s, false));
        Assert.Contains(path, e.Message);
        Assert.Contains("does not match dcase-ae", e.Message);
    }
}
