using NativeASD.Engine;
using NativeASD.Engine.Audio;
using NativeASD.Engine.Architectures;
using NativeASD.Engine.Frontend;
using NativeASD.Kernels;
using NativeASD.Detection.Backbones;

namespace NativeASD.Detection.Pretraining;

/// <summary>
/// A frozen pretrained network whose clip embedding a student learns to predict (knowledge distillation). Any weight
/// file <see cref="ModelFiles.Load"/> reads whose model has an <c>embedding</c> tap (EfficientAT mn04_as: the
/// average-pooled features.16, 384-d; YAMNet: the pooled last block, 1024-d; PANNs: fc1). A model from an int8 file
/// computes in float on its dequantised weights (as the benchmarks' --float-activations): smooth targets. Each crop is resampled to the
/// teacher's rate and goes through the teacher's own frontend; a patch model's patch embeddings are averaged per crop.
/// </summary>
public sealed class DistillTeacher : IDisposable
{
    public const string Tap = "embedding";

    readonly LoadedModel _model;
    readonly AudioFrontend _frontend;
    readonly IBackend _backend;

    public DistillTeacher(string path, IBackend backend)
    {
        _backend = backend;
        _model = ModelFiles.Load(path, backend, int8Activations: false);
        if (!_model.Model.TapNames.Contains(Tap))
        {
            _model.Dispose();
            throw new ArgumentException($"{path}: a {_model.Arch} has no '{Tap}' tap to distil from (taps: {string.Join(", ", _model.Model.TapNames)})");
        }
        _frontend = new AudioFrontend(_model.Frontend, backend);
        Path = path;
        Name = System.IO.Path.GetFileName(path);
        Sha256 = WeightConverter.Sha256(path);
    }

    public string Path { get; }
    public string Name { get; }
    public string Sha256 { get; }
    public string Arch => _model.Arch;

    /// <summary>Embedding size (the tap's channel count), found by running one silent crop.</summary>
    public int Dimension(int samples, int sampleRate) => Embed([new float[samples]], sampleRate)[0].Length;

    /// <summary>The teacher's embedding of every crop (all <paramref name="sampleRate"/> Hz, equal length): [crops][dim].</summary>
    public float[][] Embed(IReadOnlyList<float[]> crops, int sampleRate)
    {
        int rate = _model.Frontend.SampleRate;
        var resampled = rate == sampleRate ? crops : [.. crops.Select(c => Resampler.Resample(c, sampleRate, rate))];
        var features = _frontend.ComputeBatch(resampled, rate);
        // One input per crop ([1, 1, frames, bins] or [P, 1, patch, bins]), stacked along the batch axis.
        var inputs = features.Select((f, i) => TapFeatures.Input(_model.Frontend, f, $"{Name} crop {i}", _backend)).ToList();
        try
        {
            int perCrop = inputs[0].Dim(0);
            var shape = inputs[0].ShapeArray();
            shape[0] = perCrop * inputs.Count;
            var data = new float[inputs.Sum(t => t.Count)];
            int at = 0;
            foreach (var t in inputs)
            {
                t.ToArray().CopyTo(data, at);
                at += (int)t.Count;
            }
            using var x = Tensor.FromSpan(data, shape, _backend);
            using var outputs = _model.Model.Forward(x, [Tap]);
            var e = outputs[Tap];
            if (e.Rank != 2) throw new InvalidOperationException($"{Name}: embedding tap {Layout.Format(e.Shape)} is not [N, C]");
            int dim = e.Dim(1);
            var values = e.ToArray();
            var result = new float[inputs.Count][];
            for (int c = 0; c < inputs.Count; c++)
            {
                var row = new float[dim];
                for (int p = 0; p < perCrop; p++)
                    for (int k = 0; k < dim; k++) row[k] += values[(c * perCrop + p) * dim + k] / perCrop;
                result[c] = row;
            }
            return result;
        }
        finally { foreach (var t in inputs) t.Dispose(); }
    }

    public void Dispose()
    {
        _frontend.Dispose();
        _model.Dispose();
    }
}
