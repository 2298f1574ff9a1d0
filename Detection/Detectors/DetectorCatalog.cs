using System.Globalization;
using NativeASD.Engine.Audio;
using NativeASD.Detection.Backbones;
using NativeASD.Detection.Features;
using NativeASD.Engine.Architectures;
using NativeASD.Kernels;
using NativeASD.Weights;

namespace NativeASD.Detection.Detectors;

/// <summary>A detector option as a command line shows it: flag, value name (null for a switch), help, default shown.</summary>
/// <param name="OnlyThisDetector">Giving it with another detector is an error (instead of being ignored).</param>
public sealed record DetectorOption(string Flag, string? Value, string Help, string? Default = null, bool OnlyThisDetector = false);

/// <summary>Option values by flag, as a command line holds them; a malformed or out-of-range value throws the reader's own error.</summary>
public interface IOptionValues
{
    string? String(string flag);
    /// <summary>True when the switch (an option without a value) was given.</summary>
    bool Flag(string flag);
    int Int(string flag, int fallback, int min, int max);
    double Double(string flag, double fallback);
}

/// <summary>
/// One detector, declared once: its name (as model files store it), its options, the features it uses without a
/// backbone (and whether it uses the shipped backbone by default), how it is built for training (<see cref="Create"/>),
/// rebuilt from a model file (<see cref="Load"/>) and configured from option values (<see cref="Configure"/>).
/// </summary>
/// <param name="Summary">A few words shown after the name in the command line's help, or null.</param>
/// <param name="Training">Default epochs and batch size of a trained network (null: nothing to train).</param>
public sealed record DetectorKind(
    string Name, string? Summary, bool ShippedBackboneByDefault,
    Func<ChannelMix, int, FeatureExtractor> LogMelFeatures,
    Func<FitSettings, IBackend?, IAnomalyDetector> Create,
    Func<DetectorState, IBackend?, IAnomalyDetector> Load,
    Func<IOptionValues, FitSettings, FitSettings> Configure,
    IReadOnlyList<DetectorOption> Options,
    (int Epochs, int BatchSize)? Training = null);

/// <summary>Every detector <c>nasd</c> knows; the command line's choices, help and validation come from here.</summary>
public static class DetectorCatalog
{
    /// <summary>
    /// The default of <c>fit</c>, <c>demo</c> and <c>eval</c> on flat and DCASE 2020 layouts, when --detector is not given:
    /// Mahalanobis on <see cref="DefaultBackbone"/> at its default tap, the best mean AUC on the loudness-normalised real
    /// dev sets and synth seeds 2/3 (docs/detectors.md, docs/default-detector-studies.md). With --detector, a detector uses its own default backbone.
    /// </summary>
    public const string DefaultName = "mahalanobis";
    /// <summary>The backbone of the default detector (float activations, taps <see cref="ShippedYamNet.File.DefaultTaps"/>).</summary>
    public const string DefaultBackbone = ShippedYamNet.Name;
    /// <summary>--backbone's value for NativeASD's own ResNet, the default backbone of detectors that <see cref="DetectorKind.ShippedBackboneByDefault"/>.</summary>
    public const string ShippedBackboneName = "shipped";

    /// <summary>
    /// The default of <c>nasd eval</c> for DCASE 2021–2024 layouts (sections with a source and a target domain):
    /// Mahalanobis with per-domain means on the shipped backbone, chosen on development data (docs/dcase-layouts.md).
    /// </summary>
    public const string LayoutDefaultName = "smahalanobis";
    /// <summary>Normal training clips per section the layout default needs (its shared covariance).</summary>
    public const int LayoutDefaultMinClips = SelectiveMahalanobisDetector.MinClips;
    /// <summary>The layout default for sets with fewer clips per section than <see cref="LayoutDefaultMinClips"/>.</summary>
    public const string FewClipsLayoutDefaultName = "knn";

    public static readonly DetectorKind Metric = new(
        "metric", "the paper's head", ShippedBackboneByDefault: true,
        (mix, threads) => new StackedFramesExtractor("dcase2020", 5, mix, threads),
        (s, backend) => new MetricDetector((s.Metric ?? new MetricOptions()) with { Seed = s.Seed }, backend),
        MetricDetector.Load,
        (v, s) =>
        {
            var o = s.Metric ?? new MetricOptions();
            var (epochs, batch, lr) = TrainingValues(v, o.Epochs, o.BatchSize, o.LearningRate);
            return s with
            {
                Metric = o with
                {
                    Width = v.Int("--width", o.Width, 1, 1 << 16), Depth = v.Int("--depth", o.Depth, 0, 64),
                    OutputSize = v.Int("--output-size", o.OutputSize, 1, 1 << 16),
                    VarianceWeight = (float)v.Double("--variance-weight", o.VarianceWeight),
                    Input = Choice(v, "--head-input", o.Input, MetricOptions.Inputs), Pool = Choice(v, "--segment-pool", o.Pool, MetricOptions.Pools),
                    NegativeWeight = (float)v.Double("--negative-weight", o.NegativeWeight),
                    Epochs = epochs, BatchSize = batch, LearningRate = lr,
                },
            };
        },
        [
            new("--width", "N", "metric: hidden units", Invariant(new MetricOptions().Width)),
            new("--depth", "N", "metric: hidden layers", Invariant(new MetricOptions().Depth)),
            new("--output-size", "N", "metric: embedding size", Invariant(new MetricOptions().OutputSize)),
            new("--variance-weight", "X", "metric: weight of the variance term of the loss", Invariant(new MetricOptions().VarianceWeight)),
            new("--head-input", string.Join("|", MetricOptions.Inputs), "metric: features into the head standardised per feature, or whitened with a Ledoit–Wolf covariance",
                new MetricOptions().Input, OnlyThisDetector: true),
            new("--segment-pool", string.Join("|", MetricOptions.Pools), "metric: a clip's score from its segments' distances (mean, max, or top: mean of the highest quarter), or from one distance of its segments' averaged features (features)",
                new MetricOptions().Pool, OnlyThisDetector: true),
            new("--negative-weight", "X", "metric: weight of the term pushing negatives (other machines' clips: --negatives, eval --outlier-exposure) from the centre",
                Invariant(new MetricOptions().NegativeWeight), OnlyThisDetector: true),
        ],
        (new MetricOptions().Epochs, new MetricOptions().BatchSize));

    public static readonly DetectorKind Mahalanobis = new(
        "mahalanobis", null, ShippedBackboneByDefault: false,
        (mix, threads) => new LogMelStatisticsExtractor("dcase2020", mix, threads),
        (_, _) => new MahalanobisDetector(),
        (state, _) => MahalanobisDetector.Load(state),
        (_, s) => s,
        []);

    public static readonly DetectorKind Vae = new(
        "vae", null, ShippedBackboneByDefault: false,
        (mix, threads) => new StackedFramesExtractor("vae60", 11, mix, threads),
        (s, backend) => new VaeDetector((s.Vae ?? new VaeOptions()) with { Seed = s.Seed }, backend),
        VaeDetector.Load,
        (v, s) =>
        {
            var o = s.Vae ?? new VaeOptions();
            var (epochs, batch, lr) = TrainingValues(v, o.Epochs, o.BatchSize, o.LearningRate);
            return s with { Vae = o with { Epochs = epochs, BatchSize = batch, LearningRate = lr } };
        },
        [],
        (new VaeOptions().Epochs, new VaeOptions().BatchSize));

    public static readonly DetectorKind Autoencoder = new(
        "ae", null, ShippedBackboneByDefault: false,
        (mix, threads) => new StackedFramesExtractor("dcase2020", 5, mix, threads),
        (s, backend) => s.Init is string init
            ? Pretrained(init, (s.Autoencoder ?? new AutoencoderOptions()) with { Seed = s.Seed }, backend)
            : new AutoencoderDetector((s.Autoencoder ?? new AutoencoderOptions()) with { Seed = s.Seed }, backend),
        AutoencoderDetector.Load,
        (v, s) =>
        {
            var o = s.Autoencoder ?? new AutoencoderOptions();
            var (epochs, batch, lr) = TrainingValues(v, o.Epochs, o.BatchSize, o.LearningRate);
            return s with { Autoencoder = o with { Epochs = epochs, BatchSize = batch, LearningRate = lr }, Init = v.String("--init") };
        },
        [
            new("--init", "W", "ae: start from a pretrained autoencoder (dcase-ae: ad01.h5, ad01_fp32.tflite or their converted safetensors); with --epochs 0 it scores as it is",
                OnlyThisDetector: true),
        ],
        (new AutoencoderOptions().Epochs, new AutoencoderOptions().BatchSize));

    public static readonly DetectorKind Knn = new(
        "knn", "domain-aware nearest neighbours", ShippedBackboneByDefault: false,
        (mix, threads) => new LogMelStatisticsExtractor("dcase2020", mix, threads),
        (s, _) => new KnnDetector(s.Domains ?? new DomainOptions()),
        (state, _) => KnnDetector.Load(state),
        (v, s) => s with { Domains = DomainValues(v, s) },
        [
            new("--k", "N", "knn: neighbours averaged per training domain", Invariant(new DomainOptions().K)),
            new("--pool-domains", null, "knn, smahalanobis: one set of statistics over all training clips instead of one per domain (source, target)"),
        ]);

    public static readonly DetectorKind SelectiveMahalanobis = new(
        LayoutDefaultName, "Mahalanobis per domain", ShippedBackboneByDefault: true,
        (mix, threads) => new LogMelStatisticsExtractor("dcase2020", mix, threads),
        (s, _) => new SelectiveMahalanobisDetector(s.Domains ?? new DomainOptions()),
        (state, _) => SelectiveMahalanobisDetector.Load(state),
        (v, s) => s with { Domains = DomainValues(v, s) },
        []);

    /// <summary>In the order the command line lists them.</summary>
    public static readonly IReadOnlyList<DetectorKind> All = [Metric, Mahalanobis, Vae, Autoencoder, Knn, SelectiveMahalanobis];

    static DomainOptions DomainValues(IOptionValues v, FitSettings s)
    {
        var o = s.Domains ?? new DomainOptions();
        return o with { K = v.Int("--k", o.K, 1, 1 << 20), PoolDomains = o.PoolDomains || v.Flag("--pool-domains") };
    }

    /// <summary>"metric, mahalanobis, vae or ae".</summary>
    public static string Names => string.Join(", ", All.SkipLast(1).Select(k => k.Name)) + " or " + All[^1].Name;

    /// <summary>The detector called <paramref name="name"/>, or null.</summary>
    public static DetectorKind? Find(string name) => All.FirstOrDefault(k => k.Name == name);

    /// <summary>The detector called <paramref name="name"/>; otherwise an ArgumentException listing the names.</summary>
    public static DetectorKind Get(string name) => Find(name) ?? throw new ArgumentException($"unknown detector '{name}' ({string.Join(", ", All.Select(k => k.Name))})");

    /// <summary>--detector's help: the names, with a detector's summary in parentheses.</summary>
    public static string Choices =>
        string.Join(", ", All.SkipLast(1).Select(Described)) + " or " + Described(All[^1]);

    static string Described(DetectorKind k) => k.Summary is null ? k.Name : $"{k.Name} ({k.Summary})";

    /// <summary>--backbone's default as help shows it: "yamnet (layer10) without --detector, shipped for metric, none otherwise".</summary>
    public static string BackboneDefault =>
        $"{DefaultBackbone} ({string.Join(",", ShippedYamNet.File.DefaultTaps)}) without --detector, {ShippedBackboneName} for {string.Join(", ", All.Where(k => k.ShippedBackboneByDefault).Select(k => k.Name))}, none otherwise";

    /// <summary>
    /// The backbone used when --backbone is not given: <see cref="DefaultBackbone"/> for the default detector when no
    /// detector was named, else the detector's own (<see cref="ShippedBackboneName"/> or "none" for log-mel features).
    /// </summary>
    public static string BackboneFor(string detector, bool detectorNamed) =>
        !detectorNamed && detector == DefaultName ? DefaultBackbone : Get(detector).ShippedBackboneByDefault ? ShippedBackboneName : "none";

    /// <summary>--epochs, --lr and --batch, read by every detector that trains a network; help names each one's default.</summary>
    public static IReadOnlyList<DetectorOption> TrainingOptions =>
    [
        new("--epochs", "N", $"training epochs ({Defaults(t => t.Epochs)} by default)"),
        new("--lr", "X", "learning rate", "0.001"),
        new("--batch", "N", $"training batch size of the detector's network ({Defaults(t => t.BatchSize)}); --clip-batch batches clips through the backbone"),
    ];

    /// <summary>Each detector's own options, in catalogue order.</summary>
    public static IEnumerable<DetectorOption> DetectorOptions => All.SelectMany(k => k.Options);

    /// <summary>
    /// Settings for <paramref name="settings"/>.Detector from option values: every detector reads (and so validates) its
    /// options; an option that belongs to one detector only is refused with another.
    /// </summary>
    /// <exception cref="ArgumentException">Unknown detector, or another detector's exclusive option.</exception>
    public static FitSettings Configure(IOptionValues values, FitSettings settings)
    {
        Get(settings.Detector);
        foreach (var kind in All)
        {
            settings = kind.Configure(values, settings);
            if (kind.Name == settings.Detector) continue;
            foreach (var option in kind.Options)
                if (option.OnlyThisDetector && values.String(option.Flag) is not null)
                    throw new ArgumentException($"{option.Flag} applies to --detector {kind.Name}");
        }
        return settings;
    }

    /// <summary>A detector ready to train for <paramref name="settings"/>.</summary>
    public static IAnomalyDetector Create(FitSettings settings, IBackend? backend)
    {
        var kind = Get(settings.Detector);
        if (settings.Init is not null && kind != Autoencoder) throw new ArgumentException($"--init applies to the {Autoencoder.Name} detector, not {kind.Name}");
        return kind.Create(settings, backend);
    }

    /// <summary>The value of <paramref name="flag"/>, one of <paramref name="choices"/>.</summary>
    static string Choice(IOptionValues v, string flag, string fallback, string[] choices) =>
        v.String(flag) is not string value ? fallback
        : choices.Contains(value) ? value : throw new ArgumentException($"{flag} takes {string.Join(", ", choices)}, not '{value}'");

    static (int Epochs, int BatchSize, float LearningRate) TrainingValues(IOptionValues v, int epochs, int batchSize, float learningRate) =>
        (v.Int("--epochs", epochs, 0, 100000), v.Int("--batch", batchSize, 1, 1 << 20), (float)v.Double("--lr", learningRate));

    /// <summary>"metric 128, ae/vae 512": the trained detectors' defaults, equal ones grouped.</summary>
    static string Defaults(Func<(int Epochs, int BatchSize), int> value) => string.Join(", ",
        All.Where(k => k.Training is not null).GroupBy(k => value(k.Training!.Value))
            .Select(g => $"{string.Join("/", g.Select(k => k.Name))} {g.Key.ToString(CultureInfo.InvariantCulture)}"));

    static string Invariant(IFormattable value) => value.ToString(null, CultureInfo.InvariantCulture);

    /// <summary>An ae detector whose network has the shape of, and starts from, the dcase-ae file <paramref name="path"/>.</summary>
    static AutoencoderDetector Pretrained(string path, AutoencoderOptions options, IBackend? backend)
    {
        using var loaded = ModelFiles.LoadAutoencoder(path, backend);
        var c = loaded.Config;
        return new AutoencoderDetector(options with { Hidden = c.Hidden, Bottleneck = c.Bottleneck, HiddenLayers = c.HiddenLayers, BnEps = (float)c.BnEps }, backend)
        {
            Initial = (StateDict.Entries(loaded.Network).Select(e => NamedTensor.Of(e.Name, e.Tensor.ToArray(), e.Tensor.ShapeArray())).ToList(), path),
        };
    }
}
