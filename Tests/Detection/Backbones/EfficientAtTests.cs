using System.Text.Json;
using Xunit.Abstractions;
using NativeASD.Detection.Backbones;
using NativeASD.Engine;
using NativeASD.Engine.Architectures;
using NativeASD.Engine.Frontend;
using NativeASD.Engine.IO;
using NativeASD.Engine.Optim;
using NativeASD.Weights;
using NativeASD.Weights.Safetensors;
using NativeASD.Tests.Engine.Layers;

namespace NativeASD.Tests.Detection.Backbones;

/// <summary>
/// efficientat-mn on the original mn04_as_mAP_432.pt (../shared) against torch (Tests/Reference/make_efficientat_references.py):
/// every tap and the embedding within 1e-4 relative L2, the scores within 1e-5 absolute, Speech first on the YAMNet
/// test clip, one fine-tuning step within 1e-4, and files that do not fit refused by name.
/// </summary>
public class EfficientAtTests(ITestOutputHelper output)
{
    static LoadedModel Load() => ModelFiles.Load(SharedData.Require(EfficientAtFixtures.Weights));

    void CheckRelL2(string label, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double limit = 1e-4)
    {
        double rel = EfficientAtFixtures.RelL2(expected, actual);
        output.WriteLine($"{label}: relative L2 {rel:G3}");
        Assert.True(rel <= limit, $"{label}: relative L2 error {rel:G3} (limit {limit:G3})");
    }

    void CheckScores(string label, JsonElement taps, TapOutputs outputs)
    {
        var (expected, _) = EfficientAtFixtures.Npy(taps.GetProperty("scores").GetProperty("values").GetString()!);
        double maxAbs = EfficientAtFixtures.MaxAbs(expected, outputs["scores"].ToArray());
        output.WriteLine($"{label} scores: max abs {maxAbs:G3}");
        Assert.True(maxAbs <= 1e-5, $"{label} scores: max abs error {maxAbs:G3} (limit 1e-5)");
    }

    [SkippableFact]
    public void Loads_the_original_file_with_width_and_classes_from_it()
    {
        using var loaded = Load();
        Assert.Equal("efficientat-mn", loaded.Arch);
        Assert.Equal("efficientat", loaded.Frontend.Name);
        Assert.Equal("scores", loaded.ClassifierTap);
        var model = Assert.IsType<EfficientAtMn>(loaded.Model);
        Assert.Equal(0.4, model.Config.Width);
        Assert.Equal(527, model.Config.Classes);
        Assert.Equal(384, model.EmbeddingSize);
        Assert.Equal([.. Enumerable.Range(0, 17).Select(i => $"features.{i}"), "embedding", "logits", "scores"], model.TapNames);
        Assert.Equal(312, StateDict.Entries(model).Count());                      // the published state dict, num_batches_tracked included
    }

    /// <summary>The YAMNet test clip: torch's frontend output into the network; every tap whole.</summary>
    [SkippableFact]
    public void Every_tap_matches_torch_on_the_speech_clip()
    {
        var c = EfficientAtFixtures.Clip("speech");
        using var loaded = Load();
        var (fe, feShape) = EfficientAtFixtures.Npy(c.GetProperty("frontend").GetString()!);
        using var x = Tensor.FromSpan(fe, [1, 1, feShape[0], feShape[1]]);
        var taps = c.GetProperty("taps");
        var names = taps.EnumerateObject().Select(t => t.Name).ToArray();
        using var outputs = loaded.Model.Forward(x, names);
        foreach (var t in taps.EnumerateObject())
        {
            var (expected, shape) = EfficientAtFixtures.Npy(t.Value.GetProperty("values").GetString()!);
            Assert.Equal(shape, outputs[t.Name].ShapeArray());
            CheckRelL2($"speech {t.Name}", expected, outputs[t.Name].ToArray());
        }
        CheckScores("speech", taps, outputs);
        // AudioSet class 0 is "Speech" (class_labels_indices.csv, /m/09x0r); torch gives it p = 0.6625.
        var scores = outputs["scores"].ToArray();
        Assert.Equal(0, Array.IndexOf(scores, scores.Max()));
        Assert.Equal(c.GetProperty("top_score").GetDouble(), scores[0], 5);
    }

    /// <summary>Whole pipeline on 10 s DCASE clips: the engine's frontend and network against torch's (taps by channel means and 1024 sampled values, the embedding, logits and scores whole).</summary>
    [SkippableTheory]
    [MemberData(nameof(EfficientAtFixtures.ClipIds), false, MemberType = typeof(EfficientAtFixtures))]
    public void Whole_pipeline_matches_torch_on_machine_clips(string id)
    {
        var c = EfficientAtFixtures.Clip(id);
        using var loaded = Load();
        using var fe = new AudioFrontend(loaded.Frontend);
        var features = fe.Compute(EfficientAtFixtures.Samples(c));
        using var x = TapFeatures.Input(loaded.Frontend, features, id);
        var taps = c.GetProperty("taps");
        using var outputs = loaded.Model.Forward(x, [.. taps.EnumerateObject().Select(t => t.Name)]);
        foreach (var t in taps.EnumerateObject())
        {
            var actual = outputs[t.Name];
            Assert.Equal(t.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()), actual.ShapeArray());
            var values = actual.ToArray();
            if (t.Value.TryGetProperty("values", out var whole))
            {
                CheckRelL2($"{id} {t.Name}", EfficientAtFixtures.Npy(whole.GetString()!).Data, values);
                continue;
            }
            CheckRelL2($"{id} {t.Name} channel means", EfficientAtFixtures.Npy(t.Value.GetProperty("channel_means").GetString()!).Data, TapFeatures.GlobalMean(actual));
            var index = EfficientAtFixtures.Npy(t.Value.GetProperty("sample_index").GetString()!).Data;
            CheckRelL2($"{id} {t.Name} sampled values", EfficientAtFixtures.Npy(t.Value.GetProperty("sample_values").GetString()!).Data,
                [.. index.Select(i => values[(int)i])]);
            double norm = Math.Sqrt(values.Sum(v => (double)v * v)), expectedNorm = t.Value.GetProperty("norm").GetDouble();
            Assert.True(Math.Abs(norm - expectedNorm) <= 1e-4 * expectedNorm, $"{id} {t.Name}: norm {norm} vs torch {expectedNorm}");
        }
        CheckScores(id, taps, outputs);
        var scores = outputs["scores"].ToArray();
        Assert.Equal(c.GetProperty("top_class").GetInt32(), Array.IndexOf(scores, scores.Max()));
    }

    /// <summary>
    /// One SGD step (lr 0.05) of the whole network in training mode (batch-statistics BatchNorm, dropout off) on a seeded
    /// [2, 1, 48, 64] input with loss Σ logits·r: gradients within 1e-4 relative L2 of torch's, the updated parameters
    /// within 1e-4 absolute, features.16's running statistics within 1e-4 relative.
    /// </summary>
    [SkippableFact]
    public void A_fine_tuning_step_matches_torch()
    {
        var f = EfficientAtFixtures.Manifest.GetProperty("finetune");
        string path = SharedData.Require(EfficientAtFixtures.Weights);
        using var source = WeightFiles.Open(path);
        using var model = new EfficientAtMn(new EfficientAtConfig(Dropout: 0f));
        StateDict.Load(model, source.Tensors.Select(t => new NamedTensor(t.Name, t.Shape, t.ReadFloat32)), path);
        model.Train();
        var (xData, xShape) = EfficientAtFixtures.Npy(f.GetProperty("input").GetString()!);
        var (rData, rShape) = EfficientAtFixtures.Npy(f.GetProperty("r").GetString()!);
        using var x = Tensor.FromSpan(xData, xShape);
        using var r = Tensor.FromSpan(rData, rShape);
        using (var outputs = model.Forward(x, ["logits"]))
        using (model.Backward(r)) { }
        float lr = (float)f.GetProperty("lr").GetDouble();
        using (var sgd = new Sgd(model.NamedParameters().Select(p => p.Parameter), lr)) sgd.Step();

        var parameters = model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        var expectedParams = f.GetProperty("params");
        Assert.Equal(expectedParams.EnumerateObject().Select(p => p.Name).Order(), parameters.Keys.Order());
        // Gradients that are zero in exact arithmetic are rounding residue in both engines and are held to a floor
        // instead of a relative bound: the 15 projection BatchNorm biases, whose output reaches the loss only through a
        // 1×1 conv and another training-mode BatchNorm (which removes every per-channel constant).
        double floor = 1e-6 * expectedParams.EnumerateObject().Max(p => p.Value.GetProperty("norm").GetDouble());
        int floored = 0;
        foreach (var p in expectedParams.EnumerateObject())
        {
            var grad = parameters[p.Name].Grad.ToArray();
            var updated = parameters[p.Name].Value.ToArray();
            double norm = Math.Sqrt(grad.Sum(v => (double)v * v)), expectedNorm = p.Value.GetProperty("norm").GetDouble();
            if (expectedNorm < floor)
            {
                Assert.True(norm < floor, $"{p.Name}: gradient norm {norm:G3}, torch {expectedNorm:G3} (zero in exact arithmetic; floor {floor:G3})");
                floored++;
                continue;
            }
            Assert.True(Math.Abs(norm - expectedNorm) <= 1e-4 * expectedNorm, $"{p.Name}: gradient norm {norm:G7}, torch {expectedNorm:G7}");
            double updatedNorm = Math.Sqrt(updated.Sum(v => (double)v * v)), expectedUpdated = p.Value.GetProperty("updated_norm").GetDouble();
            Assert.True(Math.Abs(updatedNorm - expectedUpdated) <= 1e-4 * expectedUpdated, $"{p.Name}: updated norm {updatedNorm:G7}, torch {expectedUpdated:G7}");
            if (p.Value.TryGetProperty("grad", out var whole))
            {
                CheckRelL2($"{p.Name}.grad", EfficientAtFixtures.Npy(whole.GetString()!).Data, grad);
                continue;
            }
            var index = EfficientAtFixtures.Npy(p.Value.GetProperty("sample_index").GetString()!).Data.Select(i => (int)i).ToArray();
            CheckRelL2($"{p.Name}.grad (sampled)", EfficientAtFixtures.Npy(p.Value.GetProperty("sample_grad").GetString()!).Data, [.. index.Select(i => grad[i])]);
            double maxAbs = EfficientAtFixtures.MaxAbs(EfficientAtFixtures.Npy(p.Value.GetProperty("sample_updated").GetString()!).Data, [.. index.Select(i => updated[i])]);
            Assert.True(maxAbs <= 1e-4, $"{p.Name}: updated values differ by up to {maxAbs:G3}");
        }
        Assert.Equal(15, floored);
        var buffers = model.NamedBuffers().ToDictionary(b => b.Name, b => b.Buffer);
        CheckRelL2("features.16.1.running_mean", EfficientAtFixtures.Npy(f.GetProperty("running_mean").GetString()!).Data, buffers["features.16.1.running_mean"].ToArray());
        CheckRelL2("features.16.1.running_var", EfficientAtFixtures.Npy(f.GetProperty("running_var").GetString()!).Data, buffers["features.16.1.running_var"].ToArray());
    }

    /// <summary>The network on the ILGPU backend (ilgpu-cpu) agrees with the CPU backend: every op it uses, Hardswish and the transposed stage views included, exists there.</summary>
    [SkippableFact]
    public void Ilgpu_backend_computes_the_same_taps()
    {
        string path = SharedData.Require(EfficientAtFixtures.Weights);
        using var cpu = ModelFiles.Load(path);
        using var device = ModelFiles.Load(path, TestBackends.Get("ilgpu-cpu"));
        var input = GradientCheckTests.Random(40 * 128, 31, 0.5f);
        string[] taps = ["features.3", "features.12", "embedding", "scores"];
        using var xc = Tensor.FromSpan(input, [1, 1, 40, 128]);
        using var xd = Tensor.FromSpan(input, [1, 1, 40, 128], device.Model.Backend);
        using var a = cpu.Model.Forward(xc, taps);
        using var b = device.Model.Forward(xd, taps);
        foreach (var t in taps) CheckRelL2($"ilgpu-cpu {t}", a[t].ToArray(), b[t].ToArray(), 1e-5);
    }

    [SkippableFact]
    public void A_file_whose_tensors_do_not_fit_is_refused_naming_the_tensor()
    {
        string path = SharedData.Require(EfficientAtFixtures.Weights);
        string dir = Directory.CreateTempSubdirectory("nasd-efficientat-").FullName;
        try
        {
            using var source = WeightFiles.Open(path);
            var tensors = source.Tensors.Select(t => (t.Name, t.Shape, Data: t.ReadFloat32())).ToList();
            string Write(string name, IEnumerable<(string Name, int[] Shape, float[] Data)> list)
            {
                string file = Path.Combine(dir, name);
                AtomicFile.Write(file, s => SafetensorsWriter.Write(s, file, [.. list.Select(t => SafetensorsTensor.Float32(t.Name, t.Shape, t.Data))]));
                return file;
            }
            // The depthwise kernel of block 3 as 5×5 instead of 3×3.
            string wrongShape = Write("wrong.safetensors", tensors.Select(t => t.Name == "features.3.block.1.0.weight" ? (t.Name, new[] { 32, 1, 5, 5 }, new float[800]) : t));
            var e1 = Assert.Throws<WeightFormatException>(() => ModelFiles.Load(wrongShape));
            Assert.Contains("features.3.block.1.0.weight is [32,1,5,5], expected [32,1,3,3]", e1.Message);
            string missing = Write("missing.safetensors", tensors.Where(t => t.Name != "features.11.block.2.conc_se_layers.0.fc2.bias"));
            var e2 = Assert.Throws<WeightFormatException>(() => ModelFiles.Load(missing, arch: "efficientat-mn"));
            Assert.Contains("features.11.block.2.conc_se_layers.0.fc2.bias", e2.Message);
            // A converted copy loads and computes the same scores.
            string same = Write("same.safetensors", tensors);
            using var a = ModelFiles.Load(same);
            Assert.Equal("efficientat-mn", a.Arch);
        }
        finally { Directory.Delete(dir, true); }
    }
}
