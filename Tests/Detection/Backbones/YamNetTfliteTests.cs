using System.Text.Json;
using NativeASD.Engine;
using NativeASD.Engine.Layers;
using NativeASD.Engine.Architectures;
using NativeASD.Detection.Backbones;
using NativeASD.Weights.Tflite;
using Xunit.Abstractions;

namespace NativeASD.Tests.Detection.Backbones;

/// <summary>
/// The full YAMNet built from the released int8 TFLite file (../shared/weights/yamnet_spectra_in.tflite, weights
/// dequantised, float arithmetic) classifies the golden [96, 64] log-mel patch as Speech with p ≈ 0.97 (NOTES.md).
/// The TFLite runtime computes with int8 activations, so the float result is close to, not equal to, its 0.97.
/// </summary>
public class YamNetTfliteTests(ITestOutputHelper output)
{
    [SkippableFact]
    public void GoldenPatchIsSpeech()
    {
        string tflite = SharedData.Require("weights/yamnet_spectra_in.tflite");
        string spectra = SharedData.Require("weights/yamnet_test_spectra.bin");
        var backend = TestBackends.Get("cpu");
        using var model = new YamNet(backend: backend);
        model.Load(YamNetTflite.StateDict(TfliteFile.Load(tflite)), tflite);
        model.Eval();

        var bytes = File.ReadAllBytes(spectra);
        Assert.Equal(96 * 64 * 4, bytes.Length);
        var patch = new float[96 * 64];
        Buffer.BlockCopy(bytes, 0, patch, 0, bytes.Length);
        using var x = Tensor.FromSpan(patch, [1, 1, 96, 64], backend);
        using var r = model.Forward(x, ["embedding", "scores"]);
        var scores = r["scores"].ToArray();
        int best = Array.IndexOf(scores, scores.Max());
        output.WriteLine($"best class {best} p {scores[best]:F4}; embedding [{string.Join(",", r["embedding"].ShapeArray())}]");
        Assert.Equal(0, best);                       // class 0 = Speech (yamnet_class_map.csv)
        Assert.InRange(scores[0], 0.92f, 1f);
    }
}

/// <summary>
/// YAMNet from the int8 TFLite file on yamnet_test_audio.bin (the standard yamnet frontend patch, as numpy computes it:
/// Tests/Fixtures/tflite/yamnet_audio_patch.npy), against Tests/Reference/make_yamnet_references.py: in float mode
/// (int8 emulation off) the 1024-d embedding within 1e-4 relative of numpy's float64 evaluation on the dequantised
/// weights; with int8 activation emulation (the default for this file) against numpy's int8-emulating evaluation.
/// </summary>
public class YamNetInt8Tests(ITestOutputHelper output)
{
    static readonly JsonElement Golden = JsonDocument.Parse(File.ReadAllText(Fixtures.PathOf("tflite", "yamnet_golden.json"))).RootElement;

    static (float[] Embedding, float[] Scores) Run(LoadedModel loaded)
    {
        var (patch, shape) = Fixtures.Npy("tflite", "yamnet_audio_patch.npy");
        Assert.Equal([96, 64], shape);
        using var x = Tensor.FromSpan(patch, [1, 1, 96, 64], TestBackends.Get("cpu"));
        using var r = loaded.Model.Forward(x, ["embedding", "scores"]);
        return (r["embedding"].ToArray(), r["scores"].ToArray());
    }

    static float[] Reference(string mode) => Golden.GetProperty(mode).GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle()).ToArray();

    static double RelativeL2(float[] actual, float[] expected) =>
        Math.Sqrt(actual.Zip(expected, (a, e) => (double)(a - e) * (a - e)).Sum() / expected.Sum(e => (double)e * e));

    [SkippableFact]
    public void Float_mode_embedding_matches_numpy_on_the_dequantised_weights()
    {
        string path = SharedData.Require("weights/yamnet_spectra_in.tflite");
        using var loaded = ModelFiles.Load(path, TestBackends.Get("cpu"), int8Activations: false);
        Assert.False(loaded.Int8Activations);
        var (embedding, scores) = Run(loaded);
        var expected = Reference("float");
        double rel = RelativeL2(embedding, expected), worst = embedding.Zip(expected, (a, e) => Math.Abs(a - e)).Max() / expected.Max(Math.Abs);
        output.WriteLine($"float: relative L2 {rel:E2}, max |Δ| / max |e| {worst:E2}; Speech {scores[0]:F6} (numpy {Golden.GetProperty("float").GetProperty("speech").GetDouble():F6})");
        Assert.Equal(1024, embedding.Length);
        Assert.True(rel <= 1e-4 && worst <= 1e-4, $"relative L2 {rel:E3}, max {worst:E3}");
        Assert.Equal(Golden.GetProperty("float").GetProperty("speech").GetDouble(), scores[0], 1e-4);
    }

    /// <summary>
    /// Emulation on. The int8 network is sensitive at the level of single quantisation steps: numpy's own emulation moves
    /// ~40 embedding values by up to 2 levels when its activations are perturbed by 1e-6 relative before quantising
    /// (int8_spread_1e-6 in the fixture), and float32 accumulation here differs from numpy's float64 by about that much.
    /// So the embedding must be as close to numpy's as that spread (1.5× margin on counts and L2, no value further than
    /// its worst), Speech at numpy's level, and Speech within 0.97 ± 0.02 (the issue's target for the int8 runtime).
    /// </summary>
    [SkippableFact]
    public void Int8_emulation_matches_numpy_and_gives_speech_097()
    {
        string path = SharedData.Require("weights/yamnet_spectra_in.tflite");
        using var loaded = ModelFiles.Load(path, TestBackends.Get("cpu"));
        Assert.True(loaded.Int8Activations);
        var yamnet = Assert.IsType<YamNet>(loaded.Model);
        var q = yamnet.Int8Activations!;
        Assert.Equal(yamnet.QuantizationPoints.Count, q.Count);
        Assert.Equal(17, q["input"].ZeroPoint);                    // the QUANTIZE of the patch: scale 0.04779, zero point 17
        Assert.Equal(0.04779, q["input"].Scale, 1e-5);
        Assert.Equal(-128, q["layer1"].ZeroPoint);
        Assert.Equal(6.0 / 255, q["layer1"].Scale, 1e-7);          // ReLU6 outputs: [0, 6] in 255 steps
        var (embedding, scores) = Run(loaded);
        var expected = Reference("int8");
        float level = q["embedding"].Scale;
        int off = embedding.Zip(expected, (a, e) => Math.Abs(a - e) > level / 2 ? 1 : 0).Sum();
        double worst = embedding.Zip(expected, (a, e) => Math.Abs(a - e)).Max() / level, rel = RelativeL2(embedding, expected);
        var spread = Golden.GetProperty("int8_spread_1e-6");
        double speech = Golden.GetProperty("int8").GetProperty("speech").GetDouble();
        output.WriteLine($"int8: {off}/1024 embedding values a level apart from numpy's (worst {worst:F2} levels), relative L2 {rel:E2}; " +
            $"numpy's own spread under 1e-6: {spread.GetProperty("off")} values, {spread.GetProperty("worst_levels").GetDouble():F2} levels, {spread.GetProperty("relative_l2").GetDouble():E2}; " +
            $"Speech {scores[0]:F6} (numpy {speech:F6}, float {Golden.GetProperty("float").GetProperty("speech").GetDouble():F6})");
        Assert.True(off <= 1.5 * spread.GetProperty("off").GetInt32(), $"{off} values a level apart");
        Assert.True(worst <= spread.GetProperty("worst_levels").GetDouble() + 1e-3, $"a value {worst:F2} levels apart");
        Assert.True(rel <= 1.5 * spread.GetProperty("relative_l2").GetDouble(), $"relative L2 {rel:E3}");
        Assert.Equal(speech, scores[0], 1e-6);
        Assert.Equal(0, Array.IndexOf(scores, scores.Max()));
        Assert.InRange(scores[0], 0.95f, 0.99f);
        Assert.Equal(0, Math.IEEERemainder(scores[0] * 256, 1), 1e-4);   // a dequantised int8 level of the LOGISTIC output
    }

    [SkippableFact]
    public void Converted_file_carries_the_activation_quantisation_and_can_turn_it_off()
    {
        string path = SharedData.Require("weights/yamnet_spectra_in.tflite");
        using var dir = new WeightFixtures.TempDir();
        string converted = dir.File("yamnet.safetensors");
        WeightConverter.Convert(path, converted, null, false);
        using (var f = NativeASD.Weights.Safetensors.SafetensorsFile.Open(converted))
            Assert.Contains("\"layer14.pointwise\":[", f.Metadata[YamNetMapping.Int8Key]);
        using var fromTflite = ModelFiles.Load(path, TestBackends.Get("cpu"));
        using var fromConverted = ModelFiles.Load(converted, TestBackends.Get("cpu"));
        using var plain = ModelFiles.Load(converted, TestBackends.Get("cpu"), int8Activations: false);
        Assert.Equal(((YamNet)fromTflite.Model).Int8Activations, ((YamNet)fromConverted.Model).Int8Activations);
        Assert.Equal(Run(fromTflite).Scores, Run(fromConverted).Scores);
        Assert.Null(((YamNet)plain.Model).Int8Activations);
        Assert.Equal(Reference("float"), Run(plain).Embedding, (a, e) => Math.Abs(a - e) <= 1e-4 * 4);
    }
}
