using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using NativeASD.Engine;
using NativeASD.Engine.Frontend;
using NativeASD.Engine.Losses;
using NativeASD.Engine.Architectures;
using NativeASD.Engine.Architectures.Panns;
using NativeASD.Engine.Optim;
using NativeASD.Detection.Synth;
using NativeASD.Kernels;
using NativeASD.Detection.Backbones;
using NativeASD.Weights.Safetensors;
using NativeASD.Weights;
using NativeASD.Engine.IO;

namespace NativeASD.Detection.Pretraining;

/// <summary>One finished epoch: training loss/accuracy (over the epoch, augmented), validation loss/accuracy (null without validation clips), throughput.</summary>
public sealed record EpochReport(int Epoch, double TrainLoss, double TrainAccuracy, double? ValidationLoss, double? ValidationAccuracy,
    double LearningRate, double Seconds, double ClipsPerSecond);

/// <summary>Where a running epoch stands, for a progress line.</summary>
public readonly record struct PretrainProgress(int Epoch, int Epochs, int Step, int Steps, double Loss, double Accuracy, double ClipsPerSecond);

/// <summary>
/// Supervised pretraining of a PANNs-layout ResNet on a labelled corpus: every step draws a batch of crops (generated or
/// cut on the fly, augmented, in parallel), computes the model's own log-mel frontend, runs the network to its
/// embedding and fc_audioset as class logits, and takes an AdamW step on the softmax cross-entropy (warm-up, cosine
/// decay, gradient-norm clipping). After every epoch it measures validation accuracy, writes the model file (a
/// PANNs-layout safetensors that every NativeASD command loads) and a checkpoint (model, optimiser moments, history)
/// next to it, both atomically. <see cref="Run"/> with resume continues after the checkpoint's last epoch and gives the
/// same weights as an uninterrupted run (CPU backend). Dropout is off: augmentation regularises, and it keeps resuming exact.
/// </summary>
public sealed class Pretrainer : IDisposable
{
    public const string FormatVersion = "nativeasd-pretrain/1";

    readonly IPretrainCorpus _corpus;
    readonly PretrainOptions _options;
    readonly IBackend _backend;
    readonly PannsResNet _model;
    readonly FrontendPreset _frontendPreset;
    readonly AudioFrontend _frontend;
    readonly IReadOnlyList<NamedTensor> _frontendTensors;
    readonly AdamW _optimizer;
    readonly string? _initSource;
    readonly List<EpochReport> _history = [];
    readonly int _threads;

    /// <param name="init">Weights to start from (fine-tuning); taken over and disposed here.</param>
    public Pretrainer(IPretrainCorpus corpus, PretrainOptions options, IBackend backend, LoadedModel? init = null)
    {
        options.Validate();
        (_corpus, _options, _backend) = (corpus, options, backend);
        _threads = Math.Max(1, backend.Threads);
        try
        {
            var initNet = init is null ? null
                : init.Model as PannsResNet ?? throw new ArgumentException($"{init.Source}: --init needs a PANNs-layout ResNet (panns-resnet22/38 or a pretrained NativeASD file), this is {init.Arch}");
            if (init is not null) _initSource = $"{Path.GetFileName(init.Source)} (sha256 {WeightConverter.Sha256(init.Source)})";
            _frontendPreset = init?.Frontend ?? FrontendPreset.Get(options.Frontend);
            if (corpus.SampleRate != _frontendPreset.SampleRate)
                throw new ArgumentException($"pretrain: the corpus is at {corpus.SampleRate} Hz but the frontend '{_frontendPreset.Name}' needs {_frontendPreset.SampleRate} Hz");
            var config = initNet is null
                ? new PannsConfig(options.Blocks, options.Width, _frontendPreset.MelBins, corpus.Labels.Count, DropoutScale: 0f)
                : initNet.Config with { Classes = corpus.Labels.Count, DropoutScale = 0f };
            _model = new PannsResNet(config, backend);
            Initialise(_model, options.Seed);
            if (initNet is not null) CopyBackbone(initNet, _model, init!.Source);
            _frontendTensors = initNet is { FrontendTensors.Count: 3 } ? [.. initNet.FrontendTensors.Values] : PannsFrontendTensors.For(_frontendPreset);
        }
        finally { init?.Dispose(); }
        _frontend = new AudioFrontend(_frontendPreset, _threads);
        _optimizer = new AdamW(_model.NamedParameters().Select(p => p.Parameter), options.LearningRate, weightDecay: options.WeightDecay);
    }

    public PannsResNet Model => _model;
    public IReadOnlyList<EpochReport> History => _history;
    public int CropSamples => (int)Math.Round(_options.CropSeconds * _corpus.SampleRate);
    int StepsPerEpoch => Math.Max(1, _corpus.TrainCount / _options.BatchSize);

    public static string CheckpointPath(string modelPath) => modelPath + ".checkpoint";

    /// <summary>
    /// Trains to <see cref="PretrainOptions.Epochs"/>, writing <paramref name="outPath"/> and its checkpoint after every
    /// epoch. With <paramref name="resume"/>, continues from the checkpoint next to <paramref name="outPath"/>.
    /// </summary>
    public IReadOnlyList<EpochReport> Run(string outPath, bool resume = false, Action<PretrainProgress>? progress = null,
        Action<EpochReport>? epochDone = null, CancellationToken cancel = default)
    {
        int first = 0;
        if (resume)
        {
            string ckpt = CheckpointPath(outPath);
            if (!File.Exists(ckpt)) throw new FileNotFoundException($"{ckpt}: no checkpoint to resume from (run without --resume to start)", ckpt);
            first = LoadCheckpoint(ckpt);
        }
        for (int epoch = first; epoch < _options.Epochs; epoch++)
        {
            cancel.ThrowIfCancellationRequested();
            var report = TrainEpoch(epoch, progress, cancel);
            _history.Add(report);
            WriteModel(outPath);
            WriteCheckpoint(CheckpointPath(outPath), epoch + 1);
            epochDone?.Invoke(report);
        }
        return _history;
    }

    EpochReport TrainEpoch(int epoch, Action<PretrainProgress>? progress, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        int steps = StepsPerEpoch, batch = _options.BatchSize;
        double lossSum = 0, correct = 0;
        float lr = 0f;
        _model.Train();
        for (int step = 0; step < steps; step++)
        {
            cancel.ThrowIfCancellationRequested();
            lr = LearningRate(epoch * steps + step, _options.Epochs * steps);
            _optimizer.LearningRate = lr;
            var (waves, labels) = TrainingBatch(epoch, step * batch, batch);
            using var x = Features(waves);
            _optimizer.ZeroGrad();
            using var outputs = _model.Forward(x, ["embedding"]);
            using var logits = _model.Classifier.Forward(outputs.Output);       // [B, classes]
            using var loss = Loss.SoftmaxCrossEntropy(logits, labels);
            correct += Correct(logits, labels);
            using (var dEmbedding = _model.Classifier.Backward(loss.Grad))
            using (var dx = _model.Backward(dEmbedding)) { }
            GradClip.ClipGradNorm(_optimizer.Parameters, _options.ClipNorm);
            _optimizer.Step();
            lossSum += loss.Value;
            progress?.Invoke(new PretrainProgress(epoch + 1, _options.Epochs, step + 1, steps, lossSum / (step + 1), correct / ((step + 1) * batch),
                (step + 1) * batch / clock.Elapsed.TotalSeconds));
        }
        double seconds = clock.Elapsed.TotalSeconds;
        var (valLoss, valAccuracy) = Validate();
        return new EpochReport(epoch + 1, lossSum / steps, correct / (steps * (double)batch), valLoss, valAccuracy, lr, seconds, steps * batch / seconds);
    }

    /// <summary>Validation loss and accuracy in evaluation mode (running BatchNorm statistics); null without validation data.</summary>
    public (double? Loss, double? Accuracy) Validate()
    {
        int n = _corpus.ValidationCount;
        if (n == 0) return (null, null);
        _model.Eval();
        double lossSum = 0, correct = 0;
        for (int start = 0; start < n; start += _options.BatchSize)
        {
            int count = Math.Min(_options.BatchSize, n - start);
            var examples = new PretrainExample[count];
            Parallel.For(0, count, Workers(), i => examples[i] = _corpus.Validation(start + i, CropSamples));
            using var x = Features([.. examples.Select(e => e.Samples)]);
            int[] labels = [.. examples.Select(e => e.Label)];
            using var outputs = _model.Forward(x, ["embedding"]);
            using var logits = _model.Classifier.Forward(outputs.Output);
            using var loss = Loss.SoftmaxCrossEntropy(logits, labels);
            lossSum += loss.Value * count;
            correct += Correct(logits, labels);
        }
        _model.Train();
        return (lossSum / n, correct / n);
    }

    (float[][] Waves, int[] Labels) TrainingBatch(int epoch, int first, int count)
    {
        var waves = new float[count][];
        var labels = new int[count];
        int samples = CropSamples;
        Parallel.For(0, count, Workers(), i =>
        {
            int index = first + i;
            var example = _corpus.Train(epoch, index, samples);
            var rng = SynthRandom.For((long)_options.Seed, "augment", epoch, index);
            // The example to mix in is another one of this epoch, drawn from the same generator (deterministic).
            _options.Augmentation.Apply(example.Samples, rng, () => _corpus.Train(epoch, (index + 1 + rng.Int(0, _corpus.TrainCount - 1)) % _corpus.TrainCount, samples).Samples);
            waves[i] = example.Samples;
            labels[i] = example.Label;
        });
        return (waves, labels);
    }

    ParallelOptions Workers() => new() { MaxDegreeOfParallelism = _threads };

    /// <summary>Log-mel of every crop, stacked into the network input [B, 1, frames, mel].</summary>
    Tensor Features(float[][] waves)
    {
        var features = _frontend.ComputeBatch(waves, _corpus.SampleRate);
        int frames = features[0].GetLength(0), bins = features[0].GetLength(1);
        var data = new float[waves.Length * frames * bins];
        for (int b = 0; b < waves.Length; b++)
            Buffer.BlockCopy(features[b], 0, data, b * frames * bins * sizeof(float), frames * bins * sizeof(float));
        return Tensor.FromSpan(data, [waves.Length, 1, frames, bins], _backend);
    }

    static int Correct(Tensor logits, int[] labels)
    {
        var values = logits.ToArray();
        int classes = logits.Dim(1), correct = 0;
        for (int b = 0; b < labels.Length; b++)
        {
            int best = 0;
            for (int k = 1; k < classes; k++) if (values[b * classes + k] > values[b * classes + best]) best = k;
            if (best == labels[b]) correct++;
        }
        return correct;
    }

    /// <summary>Linear warm-up over the first 5 % of steps (at most 300), then cosine decay to 2 % of the peak.</summary>
    float LearningRate(int step, int total)
    {
        int warmup = Math.Max(1, Math.Min(300, total / 20));
        double peak = _options.LearningRate;
        if (step < warmup) return (float)(peak * (0.1 + 0.9 * step / warmup));
        double progress = (double)(step - warmup) / Math.Max(1, total - warmup);
        return (float)(peak * (0.02 + 0.98 * 0.5 * (1 + Math.Cos(Math.PI * progress))));
    }

    /// <summary>PANNs' init (init_layer/init_bn): Xavier-uniform conv and linear weights, zero biases, BatchNorm 1/0, and each BasicBlock's bn2 scale 0 so blocks start as identities.</summary>
    static void Initialise(PannsResNet model, ulong seed)
    {
        var rng = new SeededRandom(seed ^ 0x9E3779B97F4A7C15UL);
        foreach (var (name, p) in model.NamedParameters())
        {
            if (name.StartsWith("resnet.", StringComparison.Ordinal) && name.EndsWith(".bn2.weight", StringComparison.Ordinal)) model.Backend.Fill(p.Value.View, 0f);
            else if (p.Value.Rank >= 2) Init.XavierUniform(p.Value, rng);
        }
    }

    /// <summary>Fine-tuning: every tensor of the initial model whose name and shape match (the classifier only when the class count does).</summary>
    static void CopyBackbone(PannsResNet from, PannsResNet to, string source)
    {
        var own = StateDict.Entries(to).ToDictionary(e => e.Name, e => e.Tensor);
        var tensors = StateDict.Entries(from)
            .Where(e => !e.Name.StartsWith("fc_audioset.", StringComparison.Ordinal) || own[e.Name].Dim(0) == e.Tensor.Dim(0))
            .Select(e => NamedTensor.Of(e.Name, e.Tensor.ToArray(), e.Tensor.ShapeArray())).ToList();
        var copied = tensors.Select(t => t.Name).ToHashSet();
        tensors.AddRange(own.Where(e => !copied.Contains(e.Key)).Select(e => NamedTensor.Of(e.Key, e.Value.ToArray(), e.Value.ShapeArray())));
        StateDict.Load(to, tensors, source);
    }

    // ---- files --------------------------------------------------------------------------------------------

    /// <summary>Writes the model as a PANNs-layout safetensors with provenance metadata (atomically).</summary>
    public void WriteModel(string path)
    {
        var c = _model.Config;
        var config = new PannsResNetConfig(c.Blocks, [c.Channels(64), c.Channels(128), c.Channels(256), c.Channels(512)], c.MelBins, c.Classes,
            _model.EmbeddingSize, _model.EmbeddingSize, _frontendPreset.NFft);
        var last = _history.Count > 0 ? _history[^1] : null;
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "nativeasd-weights/1",
            ["arch"] = c.Blocks.SequenceEqual([3, 4, 6, 3]) ? "panns-resnet38" : "panns-resnet22",
            ["arch_config"] = JsonSerializer.Serialize(config, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }),
            ["frontend"] = _frontendPreset.Name,
            ["source_file"] = "nasd pretrain",
            ["source_format"] = "nasd-pretrain",
            ["converter"] = WeightConverter.ConverterVersion,
            ["labels"] = JsonSerializer.Serialize(_corpus.Labels),
            ["pretrain_corpus"] = _corpus.Description,
            ["pretrain_options"] = OptionsJson(),
            ["pretrain_init"] = _initSource ?? "none",
            ["pretrain_history"] = JsonSerializer.Serialize(_history),
            ["pretrain_epochs"] = _history.Count.ToString(CultureInfo.InvariantCulture),
            ["validation_accuracy"] = last?.ValidationAccuracy is double accuracy ? accuracy.ToString("R", CultureInfo.InvariantCulture) : "",
        };
        var tensors = StateDict.Entries(_model).Select(e => Stored(e.Name, e.Tensor)).ToList();
        tensors.AddRange(_frontendTensors.Select(t => SafetensorsTensor.Float32(t.Name, t.Shape, t.Read())));
        AtomicFile.Write(path, s => SafetensorsWriter.Write(s, path, tensors, metadata));
    }

    static SafetensorsTensor Stored(string name, Tensor t) => name.EndsWith("num_batches_tracked", StringComparison.Ordinal)
        ? SafetensorsTensor.Int64(name, t.ShapeArray(), [.. t.ToArray().Select(v => (long)v)])
        : SafetensorsTensor.Float32(name, t.ShapeArray(), t.ToArray());

    /// <summary>What must match for a checkpoint to be resumed (the epoch count may grow).</summary>
    string OptionsJson() => JsonSerializer.Serialize(new
    {
        arch = _options.Arch, blocks = _model.Config.Blocks, width = _model.Config.Width, frontend = _frontendPreset.Name,
        batch = _options.BatchSize, lr = _options.LearningRate, weight_decay = _options.WeightDecay, clip_norm = _options.ClipNorm,
        crop_seconds = _options.CropSeconds, seed = _options.Seed, augmentation = _options.Augmentation, init = _initSource ?? "none",
    });

    void WriteCheckpoint(string path, int epochsDone)
    {
        var tensors = StateDict.Entries(_model).Select(e => SafetensorsTensor.Float32("model." + e.Name, e.Tensor.ShapeArray(), e.Tensor.ToArray())).ToList();
        for (int i = 0; i < _optimizer.Parameters.Count; i++)
        {
            var (m, v) = _optimizer.Moments(i);
            if (m is null || v is null) continue;
            tensors.Add(SafetensorsTensor.Float32($"adam.m.{i}", m.ShapeArray(), m.ToArray()));
            tensors.Add(SafetensorsTensor.Float32($"adam.v.{i}", v.ShapeArray(), v.ToArray()));
        }
        AtomicFile.Write(path, s => SafetensorsWriter.Write(s, path, tensors, new Dictionary<string, string>
        {
            ["format"] = FormatVersion,
            ["epochs_done"] = epochsDone.ToString(CultureInfo.InvariantCulture),
            ["adam_steps"] = _optimizer.Steps.ToString(CultureInfo.InvariantCulture),
            ["options"] = OptionsJson(),
            ["corpus"] = _corpus.Description,
            ["labels"] = JsonSerializer.Serialize(_corpus.Labels),
            ["history"] = JsonSerializer.Serialize(_history),
        }));
    }

    /// <summary>Restores model, optimiser and history; returns the number of epochs already done.</summary>
    int LoadCheckpoint(string path)
    {
        using var file = SafetensorsFile.Open(path);
        string Meta(string key) => file.Metadata.TryGetValue(key, out var v) ? v : throw new WeightFormatException(path, $"not a pretraining checkpoint (no '{key}' in its metadata)");
        if (Meta("format") != FormatVersion) throw new WeightFormatException(path, $"checkpoint format '{Meta("format")}', expected {FormatVersion}");
        if (Meta("options") != OptionsJson())
            throw new WeightFormatException(path, $"the checkpoint was made with other settings ({Meta("options")}); resume with the same ones ({OptionsJson()})");
        if (Meta("labels") != JsonSerializer.Serialize(_corpus.Labels) || Meta("corpus") != _corpus.Description)
            throw new WeightFormatException(path, $"the checkpoint was made on another corpus ({Meta("corpus")})");
        var byName = file.Tensors.ToDictionary(t => t.Name);
        StateDict.Load(_model, file.Tensors.Where(t => t.Name.StartsWith("model.", StringComparison.Ordinal))
            .Select(t => new NamedTensor(t.Name, t.Shape, t.ReadFloat32)), path, stripPrefix: "model.");
        var moments = new List<(float[] M, float[] V)>();
        for (int i = 0; i < _optimizer.Parameters.Count; i++)
        {
            if (!byName.TryGetValue($"adam.m.{i}", out var m) || !byName.TryGetValue($"adam.v.{i}", out var v))
                throw new WeightFormatException(path, $"checkpoint lacks the optimiser moments of parameter {i}");
            moments.Add((m.ReadFloat32(), v.ReadFloat32()));
        }
        int steps = int.Parse(Meta("adam_steps"), CultureInfo.InvariantCulture);
        try { _optimizer.Restore(steps, moments); }
        catch (ArgumentException e) { throw new WeightFormatException(path, e.Message, e); }
        _history.Clear();
        _history.AddRange(JsonSerializer.Deserialize<List<EpochReport>>(Meta("history")) ?? []);
        int done = int.Parse(Meta("epochs_done"), CultureInfo.InvariantCulture);
        if (done != _history.Count || done < 0) throw new WeightFormatException(path, $"checkpoint says {done} epochs but holds {_history.Count} epoch reports");
        return done;
    }

    public void Dispose()
    {
        _optimizer.Dispose();
        _frontend.Dispose();
        _model.Dispose();
    }
}
