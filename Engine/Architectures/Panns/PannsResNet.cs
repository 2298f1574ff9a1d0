using NativeASD.Engine.Layers;
using NativeASD.Kernels;

namespace NativeASD.Engine.Architectures.Panns;

/// <summary>
/// Configuration of a PANNs ResNet. <see cref="Blocks"/> per stage: [2,2,2,2] = ResNet22, [3,4,6,3] = ResNet38.
/// <see cref="Width"/> multiplies every channel count (1 = the published models; round(64·w) etc.).
/// <see cref="DropoutScale"/> multiplies PANNs' training dropout rates (0.2 between stages, 0.1 inside blocks,
/// 0.5 before fc1); 0 disables dropout (deterministic fine-tuning).
/// </summary>
public sealed record PannsConfig(int[] Blocks, double Width = 1.0, int MelBins = 64, int Classes = 527, float DropoutScale = 1f, ulong Seed = 0)
{
    public static PannsConfig ResNet22 => new([2, 2, 2, 2]);
    public static PannsConfig ResNet38 => new([3, 4, 6, 3]);

    public string Name => Blocks.SequenceEqual([2, 2, 2, 2]) ? "ResNet22" : Blocks.SequenceEqual([3, 4, 6, 3]) ? "ResNet38" : $"ResNet[{string.Join(",", Blocks)}]";

    public int Channels(int full) => Math.Max(1, (int)Math.Round(full * Width, MidpointRounding.ToEven));
}

/// <summary>
/// PANNs ResNet22 / ResNet38 (Kong et al. 2020; qiuqiangkong/audioset_tagging_cnn pytorch/models.py), from the
/// log-mel spectrogram on. Input [N, 1, T, mel] (frames × mel bins, the PANNs frontend's output); stages and taps:
/// <list type="table">
/// <item>bn0: BatchNorm2d over the mel axis → [N, 1, T, mel]</item>
/// <item>conv_block1: ConvBlock 1→64, avg-pool 2×2 → [N, 64, T/2, mel/2]</item>
/// <item>layer1.0 … layer4.k: BasicBlocks at 64/128/256/512 channels, layers 2–4 halve both axes; aliases layer1…layer4 = each stage's last block</item>
/// <item>conv_block_after1: avg-pool 2×2, ConvBlock 512→2048 → [N, 2048, T/32, mel/32]</item>
/// <item>pooled: mean over frequency, then max + mean over time → [N, 2048]</item>
/// <item>embedding: fc1 (2048→2048) + ReLU → [N, 2048]</item>
/// <item>clipwise_output: fc_audioset (2048→527) + sigmoid → [N, 527]</item>
/// </list>
/// Parameter and buffer names are those of the published checkpoints (bn0.*, conv_block1.conv1.weight,
/// resnet.layer2.0.downsample.1.weight, fc_audioset.bias, …, BatchNorm num_batches_tracked included). The frozen
/// frontend tensors the checkpoints also carry (spectrogram_extractor.stft.conv_real/conv_imag.weight,
/// logmel_extractor.melW) are accepted by <see cref="Load"/> and kept in <see cref="FrontendTensors"/>.
/// Dropout follows PANNs (training mode only): 0.2 after conv_block1 and around conv_block_after1, 0.1 inside each
/// block, 0.5 before fc1, all scaled by <see cref="PannsConfig.DropoutScale"/>.
/// </summary>
public sealed class PannsResNet : TapModel
{
    public static readonly string[] FrontendKeys =
        ["spectrogram_extractor.stft.conv_real.weight", "spectrogram_extractor.stft.conv_imag.weight", "logmel_extractor.melW"];

    readonly BatchNorm2d _bn0;
    readonly ConvBlock _convBlock1, _convBlockAfter1;
    readonly Linear _fc1, _fcAudioset;
    readonly Dictionary<string, NamedTensor> _frontend = new(StringComparer.Ordinal);

    public PannsConfig Config { get; }

    /// <summary>Channels of the embedding (2048 at full width).</summary>
    public int EmbeddingSize { get; }

    /// <summary>
    /// fc_audioset alone (embedding → class logits, no sigmoid): pretraining runs Forward to the "embedding" tap and
    /// this layer itself, so it can train with softmax cross-entropy and back-propagate through Backward.
    /// </summary>
    public Linear Classifier => _fcAudioset;

    /// <summary>The frontend tensors found by the last <see cref="Load"/> (empty when the file had none).</summary>
    public IReadOnlyDictionary<string, NamedTensor> FrontendTensors => _frontend;

    public PannsResNet(PannsConfig config, IBackend? backend = null) : base(backend)
    {
        if (config.Blocks.Length != 4 || config.Blocks.Any(b => b < 1))
            throw new ArgumentException($"PannsResNet: blocks must be four positive counts, got [{string.Join(",", config.Blocks)}]");
        if (config.Width <= 0 || config.MelBins < 32 || config.Classes < 1)
            throw new ArgumentException($"PannsResNet: invalid configuration {config}");
        Config = config;
        float drop = config.DropoutScale;
        ulong seed = config.Seed;

        _bn0 = AddChild("bn0", new BatchNorm2d(config.MelBins, backend: Backend));
        _convBlock1 = AddChild("conv_block1", new ConvBlock(1, config.Channels(64), pool: 2, Backend));
        var resnet = AddChild("resnet", new ModuleGroup(Backend));
        _convBlockAfter1 = AddChild("conv_block_after1", new ConvBlock(config.Channels(512), config.Channels(2048), pool: 1, Backend));
        EmbeddingSize = config.Channels(2048);
        _fc1 = AddChild("fc1", new Linear(EmbeddingSize, EmbeddingSize, backend: Backend));
        _fcAudioset = AddChild("fc_audioset", new Linear(EmbeddingSize, config.Classes, backend: Backend));

        AddStage("bn0", MelBatchNormForward, MelBatchNormBackward);
        AddStage("conv_block1", _convBlock1);

        var dropAfterBlock1 = Optional("dropout1", 0.2f * drop, seed + 1);
        int[] widths = [config.Channels(64), config.Channels(128), config.Channels(256), config.Channels(512)];
        int inChannels = widths[0];
        for (int stage = 0; stage < 4; stage++)
        {
            var layer = resnet.Add($"layer{stage + 1}", new ModuleGroup(Backend));
            for (int b = 0; b < config.Blocks[stage]; b++)
            {
                int stride = stage > 0 && b == 0 ? 2 : 1;
                var block = layer.Add(b.ToString(), new BasicBlock(inChannels, widths[stage], stride, 0.1f * drop, seed + 100 + (ulong)(10 * stage + b), Backend));
                inChannels = widths[stage];
                if (stage == 0 && b == 0) AddStage("layer1.0", Stages.Chain(dropAfterBlock1, block));
                else AddStage($"layer{stage + 1}.{b}", block);
            }
            AddAlias($"layer{stage + 1}", $"layer{stage + 1}.{config.Blocks[stage] - 1}");
        }

        var poolAfter = AddChild("pool_after_resnet", PannsLayers.AvgPool(2, Backend));
        var dropBefore = Optional("dropout2", 0.2f * drop, seed + 2);
        AddStage("conv_block_after1", Stages.Chain(poolAfter, dropBefore, _convBlockAfter1));

        var dropAfter = Optional("dropout3", 0.2f * drop, seed + 3);
        var freqMean = AddChild("freq_mean", new GlobalPool([3], PoolMode.Mean, backend: Backend));
        var timeMax = AddChild("time_max", new GlobalPool([2], PoolMode.Max, backend: Backend));
        var timeMean = AddChild("time_mean", new GlobalPool([2], PoolMode.Mean, backend: Backend));
        AddStage("pooled",
            x =>
            {
                using var d = dropAfter is null ? x.Share() : dropAfter.Forward(x);
                using var f = freqMean.Forward(d);                 // [N, C, T]
                using var mx = timeMax.Forward(f);                 // [N, C]
                using var mn = timeMean.Forward(f);
                return Ops.Add(mx, mn);
            },
            dy =>
            {
                using var dMax = timeMax.Backward(dy);             // [N, C, T]
                using var dMean = timeMean.Backward(dy);
                using var df = Ops.Add(dMax, dMean);
                using var dd = freqMean.Backward(df);
                return dropAfter is null ? dd.Share() : dropAfter.Backward(dd);
            });

        var dropFc = Optional("dropout4", 0.5f * drop, seed + 4);
        var relu = AddChild("fc1_relu", new ReLU(Backend));
        AddStage("embedding", Stages.Chain(dropFc, _fc1, relu));
        AddStage("clipwise_output", Stages.Chain(_fcAudioset, AddChild("sigmoid", new Sigmoid(Backend))));
    }

    public override string Describe() => $"PannsResNet({Config.Name}{(Config.Width != 1.0 ? $", width {Config.Width}" : "")})";

    protected override void CheckInput(Tensor x)
    {
        if (x.Rank != 4 || x.Dim(1) != 1 || x.Dim(3) != Config.MelBins)
            throw new ArgumentException($"{Describe()}: input must be a log-mel spectrogram [N, 1, frames, {Config.MelBins}], got {Layout.Format(x.Shape)}");
        if (x.Dim(2) < 32)
            throw new ArgumentException($"{Describe()}: input {Layout.Format(x.Shape)} has {x.Dim(2)} frames; the five 2×2 poolings need at least 32");
    }

    Dropout? Optional(string name, float p, ulong seed) => p > 0f ? AddChild(name, new Dropout(p, seed, Backend)) : null;

    // bn0 normalises each mel bin: PANNs transposes [N, 1, T, mel] → [N, mel, T, 1], applies BatchNorm2d(mel), transposes back.
    Tensor MelBatchNormForward(Tensor x)
    {
        using var t = x.Transpose(1, 3);                           // [N, mel, T, 1] view
        using var c = t.Contiguous();
        using var y = _bn0.Forward(c);
        using var back = y.Transpose(1, 3);                        // [N, 1, T, mel] view
        return back.Contiguous();
    }

    Tensor MelBatchNormBackward(Tensor dy)
    {
        using var t = dy.Transpose(1, 3);
        using var c = t.Contiguous();
        using var dx = _bn0.Backward(c);
        using var back = dx.Transpose(1, 3);
        return back.Contiguous();
    }

    /// <summary>
    /// Loads a state dict in the published checkpoints' layout (optionally under a prefix such as "model.").
    /// The frontend tensors are accepted and kept in <see cref="FrontendTensors"/>; anything else unknown is an error.
    /// </summary>
    public void Load(IEnumerable<NamedTensor> tensors, string source, string? stripPrefix = null)
    {
        _frontend.Clear();
        StateDict.Load(this, tensors, source, stripPrefix, extra: t =>
        {
            if (!FrontendKeys.Contains(t.Name)) return false;
            _frontend[t.Name] = NamedTensor.Of(t.Name, t.Read(), t.Shape);
            return true;
        });
    }
}
