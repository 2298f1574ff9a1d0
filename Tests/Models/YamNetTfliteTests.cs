using NativeASD.Engine;
using NativeASD.Engine.Models;
using NativeASD.Weights.Models;
using NativeASD.Weights.Tflite;
using Xunit.Abstractions;

namespace NativeASD.Tests.Models;

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
