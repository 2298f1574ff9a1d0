using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using NativeASD.Engine.Layers;
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

/// <summary>
/// One finished epoch: training cross-entropy/accuracy (over the epoch, augmented), validation loss/accuracy (null
/// without validation clips), throughput; with teachers, each teacher's distillation loss (MSE on its standardised
/// embedding) on the training batches and on the validation clips, in teacher order (absent from the JSON otherwise).
/// </summary>
public sealed record EpochReport(int Epoch, double TrainLoss, double TrainAccuracy, double? ValidationLoss, double? ValidationAccuracy,
    double LearningRate, double Seconds, double ClipsPerSecond)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double[]? TrainDistillLoss { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double[]? ValidationDistillLoss { get; init; }
}

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
/// With teachers (<see cref="PretrainOptions.Teachers"/>) it also distils: each batch's crops (plus
/// <see cref="PretrainOptions.AudioPerBatch"/> unlabelled real crops, augmented alike) go through every frozen teacher,
/// and a training-only linear projection of the student's embedding regresses each teacher's embedding, standardised per
/// dimension by its mean and deviation over a fixed calibration set (the first ≥ 512 training crops of epoch 1); the loss
/// is cross-entropy (labelled crops) + weight × Σ MSE. The projections are kept in the checkpoint,
/// not in the model file, so the model loads like any PANNs-layout file.
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
    readonly DistillTeacher[] _teachers = [];
    readonly Linear[] _projections = [];
    readonly DistillAudio? _audio;
    float[][]? _targetMean, _targetDeviation;      // per teacher [dim]
    Tensor[]? _validationTargets;                  // per teacher, standardised [validation clips, dim]

    /// <param name="init">Weights to start from (fine-tuning); taken over and disposed here.</param>
    public Pretrainer(IPretrainCorpus corpus, PretrainOptions options, IBackend backend, LoadedModel? init = null)
    {
        options.Validate();
        (_corpus, _options, _backend) = (corpus, options, backend);
        // Crops are generated and augmented on CPU threads: the backend's on the CPU, every core beside a device.
        _threads = backend.Kind == DeviceKind.Cpu ? Math.Max(1, backend.Threads) : Environment.ProcessorCount;
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
        _frontend = new AudioFrontend(_frontendPreset, backend);
        var teachers = new List<DistillTeacher>();
        try
        {
            foreach (var path in options.Teachers) teachers.Add(new DistillTeacher(path, backend));
            var projectionInit = new SeededRandom(options.Seed ^ 0xD157111A7E0BEEFUL);
            _projections = [.. teachers.Select(t => new Linear(_model.EmbeddingSize, t.Dimension(CropSamples, corpus.SampleRate), init: projectionInit, backend: backend))];
            _audio = options.Audio.Length > 0 ? new DistillAudio(options.Audio, corpus.SampleRate, options.Seed) : null;
        }
        catch
        {
            foreach (var t in teachers) t.Dispose();
            foreach (var l in _projections) l.Dispose();
            _frontend.Dispose();
            _model.Dispose();
            throw;
        }
        _teachers = [.. teachers];
        _optimizer = new AdamW(_model.NamedParameters().Select(p => p.Parameter).Concat(_projections.SelectMany(l => l.NamedParameters().Select(p => p.Parameter))),
            options.LearningRate, weightDecay: options.WeightDecay);
    }

    /// <summary>The teachers (empty without distillation).</summary>
    public IReadOnlyList<DistillTeacher> Teachers => _teachers;
    /// <summary>The real recordings crops are cut from (null without --audio).</summary>
    public DistillAudio? Audio => _audio;
    int RealPerBatch => _audio is null ? 0 : _options.AudioPerBatch;
    /// <summary>Training crops the teachers' standardisation is measured on (whole batches, at least this many when the epoch has them).</summary>
    const int CalibrationCrops = 512;

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
        if (_teachers.Length > 0) ValidationTargets();   // the teachers' standardisation, before the first step
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
        var distillSum = new double[_teachers.Length];
        float lr = 0f;
        _model.Train();
        foreach (var p in _projections) p.Train();
        for (int step = 0; step < steps; step++)
        {
            cancel.ThrowIfCancellationRequested();
            lr = LearningRate(epoch * steps + step, _options.Epochs * steps);
            _optimizer.LearningRate = lr;
            var (waves, labels) = TrainingBatch(epoch, step * batch, batch);
            if (RealPerBatch > 0) waves = [.. waves, .. RealBatch(epoch, step * RealPerBatch, RealPerBatch)];
            using var x = Features(waves);
            _optimizer.ZeroGrad();
            using var outputs = _model.Forward(x, ["embedding"]);                 // [B + R, embedding]
            using var logits = _model.Classifier.Forward(outputs.Output);       // [B + R, classes]: only the B labelled rows count
            using var labelled = RealPerBatch > 0 ? logits.Slice(0, 0, batch).Contiguous() : logits.Share();
            using var loss = Loss.SoftmaxCrossEntropy(labelled, labels);
            correct += Correct(labelled, labels);
            using var dLogits = RealPerBatch > 0 ? PadRows(loss.Grad, waves.Length) : loss.Grad.Share();
            var dEmbedding = _model.Classifier.Backward(dLogits);
            for (int t = 0; t < _teachers.Length; t++)
            {
                using var target = Standardised(t, _teachers[t].Embed(waves, _corpus.SampleRate));
                using var predicted = _projections[t].Forward(outputs.Output);    // [B + R, teacher dim]
                using var mse = Loss.Mse(predicted, target);
                Ops.Scale(mse.Grad, _options.DistillWeight, into: mse.Grad);
                using var dProjected = _projections[t].Backward(mse.Grad);
                Ops.Add(dEmbedding, dProjected, into: dEmbedding);
                distillSum[t] += mse.Value;
            }
            using (dEmbedding)
            using (var dx = _model.Backward(dEmbedding)) { }
            GradClip.ClipGradNorm(_optimizer.Parameters, _options.ClipNorm);
            _optimizer.Step();
            lossSum += loss.Value;
            progress?.Invoke(new PretrainProgress(epoch + 1, _options.Epochs, step + 1, steps, lossSum / (step + 1), correct / ((step + 1) * batch),
                (step + 1) * (batch + RealPerBatch) / clock.Elapsed.TotalSeconds));
        }
        double seconds = clock.Elapsed.TotalSeconds;
        var (valLoss, valAccuracy, valDistill) = Validate();
        return new EpochReport(epoch + 1, lossSum / steps, correct / (steps * (double)batch), valLoss, valAccuracy, lr, seconds, steps * (batch + RealPerBatch) / seconds)
        {
            TrainDistillLoss = _teachers.Length > 0 ? [.. distillSum.Select(v => v / steps)] : null,
            ValidationDistillLoss = valDistill,
        };
    }

    /// <summary>
    /// Validation loss and accuracy in evaluation mode (running BatchNorm statistics), and each teacher's distillation
    /// loss on the validation clips (null without teachers); all null without validation data.
    /// </summary>
    public (double? Loss, double? Accuracy, double[]? Distill) Validate()
    {
        int n = _corpus.ValidationCount;
        if (n == 0) return (null, null, null);
        _model.Eval();
        foreach (var p in _projections) p.Eval();
        double lossSum = 0, correct = 0;
        var distillSum = new double[_teachers.Length];
        for (int start = 0; start < n; start += _options.BatchSize)
        {
            int count = Math.Min(_options.BatchSize, n - start);
            var examples = ValidationExamples(start, count);
            using var x = Features([.. examples.Select(e => e.Samples)]);
            int[] labels = [.. examples.Select(e => e.Label)];
            using var outputs = _model.Forward(x, ["embedding"]);
            using var logits = _model.Classifier.Forward(outputs.Output);
            using var loss = Loss.SoftmaxCrossEntropy(logits, labels);
            lossSum += loss.Value * count;
            correct += Correct(logits, labels);
            for (int t = 0; t < _teachers.Length; t++)
            {
                using var target = ValidationTargets()[t].Slice(0, start, count).Contiguous();
                using var predicted = _projections[t].Forward(outputs.Output);
                using var mse = Loss.Mse(predicted, target);
                distillSum[t] += mse.Value * count;
            }
        }
        _model.Train();
        foreach (var p in _projections) p.Train();
        return (lossSum / n, correct / n, _teachers.Length > 0 ? [.. distillSum.Select(v => v / n)] : null);
    }

    PretrainExample[] ValidationExamples(int start, int count)
    {
        var examples = new PretrainExample[count];
        Parallel.For(0, count, Workers(), i => examples[i] = _corpus.Validation(start + i, CropSamples));
        return examples;
    }

    /// <summary>
    /// Each teacher's per-dimension mean and deviation over calibration crops that look like training ones (the first
    /// batches of epoch 1, augmented, real crops included, up to <see cref="CalibrationCrops"/>: fixed, so a resumed run
    /// standardises alike), and its standardised targets for the validation clips.
    /// </summary>
    Tensor[] ValidationTargets()
    {
        if (_validationTargets is not null) return _validationTargets;
        int n = _corpus.ValidationCount;
        var crops = new List<float[]>();
        for (int step = 0; step < StepsPerEpoch && crops.Count < CalibrationCrops; step++)
        {
            crops.AddRange(TrainingBatch(0, step * _options.BatchSize, _options.BatchSize).Waves);
            if (RealPerBatch > 0) crops.AddRange(RealBatch(0, step * RealPerBatch, RealPerBatch));
        }
        for (int start = 0; start < n; start += _options.BatchSize)
            crops.AddRange(ValidationExamples(start, Math.Min(_options.BatchSize, n - start)).Select(e => e.Samples));
        int calibration = crops.Count - n;
        if (calibration < 2) throw new ArgumentException("pretrain: distillation needs at least two training crops to standardise the teachers' embeddings");
        _targetMean = new float[_teachers.Length][];
        _targetDeviation = new float[_teachers.Length][];
        var targets = new Tensor[_teachers.Length];
        for (int t = 0; t < _teachers.Length; t++)
        {
            var embeddings = new List<float[]>();
            for (int start = 0; start < crops.Count; start += _options.BatchSize)
                embeddings.AddRange(_teachers[t].Embed(crops.GetRange(start, Math.Min(_options.BatchSize, crops.Count - start)), _corpus.SampleRate));
            int dim = embeddings[0].Length;
            var mean = new double[dim];
            var square = new double[dim];
            foreach (var e in embeddings.Take(calibration))
                for (int k = 0; k < dim; k++) { mean[k] += e[k]; square[k] += (double)e[k] * e[k]; }
            _targetMean[t] = new float[dim];
            var deviation = new double[dim];
            for (int k = 0; k < dim; k++)
            {
                double m = mean[k] / calibration;
                _targetMean[t][k] = (float)m;
                deviation[k] = Math.Sqrt(Math.Max(0, square[k] / calibration - m * m));
            }
            // A dimension nearly constant on the calibration crops (a rarely active unit) would weigh thousands of times
            // more on the crops where it moves: no deviation counts as less than a tenth of the average one.
            double floor = 0.1 * deviation.Average();
            _targetDeviation[t] = [.. deviation.Select(d => floor > 0 ? (float)Math.Max(d, floor) : 1f)];
            targets[t] = n > 0 ? Standardised(t, [.. embeddings.Skip(calibration)]) : null!;   // read only when there are validation clips
        }
        return _validationTargets = targets;
    }

    /// <summary>Teacher <paramref name="t"/>'s embeddings standardised with its calibration statistics, [crops, dim].</summary>
    Tensor Standardised(int t, float[][] embeddings)
    {
        var (mean, deviation) = (_targetMean![t], _targetDeviation![t]);
        int dim = mean.Length;
        var data = new float[embeddings.Length * dim];
        for (int i = 0; i < embeddings.Length; i++)
            for (int k = 0; k < dim; k++) data[i * dim + k] = (embeddings[i][k] - mean[k]) / deviation[k];
        return Tensor.FromSpan(data, [embeddings.Length, dim], _backend);
    }

    /// <summary>[B, K] gradient rows followed by zero rows up to <paramref name="rows"/> (the unlabelled real crops).</summary>
    Tensor PadRows(Tensor grad, int rows)
    {
        var data = new float[rows * grad.Dim(1)];
        grad.ToArray().CopyTo(data, 0);
        return Tensor.FromSpan(data, [rows, grad.Dim(1)], _backend);
    }

    /// <summary>Real crops <paramref name="first"/>… of <paramref name="epoch"/>, augmented like the labelled ones (mixing in another real crop).</summary>
    float[][] RealBatch(int epoch, int first, int count)
    {
        var waves = new float[count][];
        int samples = CropSamples;
        Parallel.For(0, count, Workers(), i =>
        {
            int index = first + i;
            var crop = _audio!.Crop(epoch, index, samples);
            var rng = SynthRandom.For((long)_options.Seed, "augment-real", epoch, index);
            _options.Augmentation.Apply(crop, rng, () => _audio.Crop(epoch, -1 - index, samples));
            waves[i] = crop;
        });
        return waves;
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

    /// <summary>Log-mel of every crop, stacked into the network input [B, 1, frames, mel] (on a device computed there).</summary>
    Tensor Features(float[][] waves) => _frontend.ComputeTensor(waves, _corpus.SampleRate, _backend);

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
        if (_teachers.Length > 0)
        {
            metadata["pretrain_teachers"] = JsonSerializer.Serialize(TeacherFacts());
            metadata["pretrain_audio"] = _audio?.Description ?? "none";
        }
        var tensors = StateDict.Entries(_model).Select(e => Stored(e.Name, e.Tensor)).ToList();
        tensors.AddRange(_frontendTensors.Select(t => SafetensorsTensor.Float32(t.Name, t.Shape, t.Read())));
        AtomicFile.Write(path, s => SafetensorsWriter.Write(s, path, tensors, metadata));
    }

    static SafetensorsTensor Stored(string name, Tensor t) => name.EndsWith("num_batches_tracked", StringComparison.Ordinal)
        ? SafetensorsTensor.Int64(name, t.ShapeArray(), [.. t.ToArray().Select(v => (long)v)])
        : SafetensorsTensor.Float32(name, t.ShapeArray(), t.ToArray());

    /// <summary>What must match for a checkpoint to be resumed (the epoch count may grow); distillation settings only when distilling.</summary>
    string OptionsJson()
    {
        var options = JsonSerializer.SerializeToNode(new
        {
            arch = _options.Arch, blocks = _model.Config.Blocks, width = _model.Config.Width, frontend = _frontendPreset.Name,
            batch = _options.BatchSize, lr = _options.LearningRate, weight_decay = _options.WeightDecay, clip_norm = _options.ClipNorm,
            crop_seconds = _options.CropSeconds, seed = _options.Seed, augmentation = _options.Augmentation, init = _initSource ?? "none",
        })!.AsObject();
        if (_teachers.Length > 0)
            options["distill"] = JsonSerializer.SerializeToNode(new
            {
                teachers = TeacherFacts(), weight = _options.DistillWeight, audio = _audio?.Description ?? "none", real_per_batch = RealPerBatch,
            });
        return options.ToJsonString();
    }

    /// <summary>Each teacher's file name, SHA-256, architecture and tap, in loss order.</summary>
    object[] TeacherFacts() => [.. _teachers.Select(t => new { file = t.Name, sha256 = t.Sha256, arch = t.Arch, tap = DistillTeacher.Tap })];

    void WriteCheckpoint(string path, int epochsDone)
    {
        var tensors = StateDict.Entries(_model).Select(e => SafetensorsTensor.Float32("model." + e.Name, e.Tensor.ShapeArray(), e.Tensor.ToArray())).ToList();
        for (int t = 0; t < _projections.Length; t++)
            tensors.AddRange(StateDict.Entries(_projections[t]).Select(e => SafetensorsTensor.Float32($"distill.{t}.{e.Name}", e.Tensor.ShapeArray(), e.Tensor.ToArray())));
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
        for (int t = 0; t < _projections.Length; t++)
            StateDict.Load(_projections[t], file.Tensors.Where(x => x.Name.StartsWith($"distill.{t}.", StringComparison.Ordinal))
                .Select(x => new NamedTensor(x.Name, x.Shape, x.ReadFloat32)), path, stripPrefix: $"distill.{t}.");
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
        foreach (var t in _teachers) t.Dispose();
        foreach (var p in _projections) p.Dispose();
        foreach (var t in _validationTargets ?? []) t?.Dispose();
        _optimizer.Dispose();
        _frontend.Dispose();
        _model.Dispose();
    }
}
