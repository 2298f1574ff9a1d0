using NativeASD.Detection.Backbones;
using NativeASD.Detection.Features;
using NativeASD.Engine.Audio;
using NativeASD.Kernels;
using NativeASD.Tests.Support;
using Xunit;

namespace NativeASD.Tests.Detection.Features;

/// <summary>
/// <see cref="FeaturePipeline"/>: files decoded ahead, clips of one length batched through the extractor. Every batch size
/// gives each file its own features in its own slot; a bad file is its slot's problem, not its batch's; the cache is
/// read before decoding and written after extracting. Backbones batch whole clips: on the CPU bit for bit (YAMNet's patches)
/// or within float rounding (the ResNet's convolutions), on ilgpu-cpu within the parity bounds.
/// </summary>
public sealed class FeaturePipelineTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-pipeline-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A clip of a seeded tone in noise, 16 kHz 16-bit.</summary>
    string Clip(string name, int seed, double seconds = 1)
    {
        var rng = new Random(seed);
        var x = new float[(int)(16000 * seconds)];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(0.3 * Math.Sin(2 * Math.PI * (200 + 50 * seed) * i / 16000.0) + 0.05 * (rng.NextDouble() - 0.5));
        string path = Path.Combine(_dir, name);
        WavWriter.Write(path, x, 16000);
        return path;
    }

    /// <summary>Counts the batches and clips the extractor is given.</summary>
    sealed class BatchCounting(FeatureExtractor inner) : FeatureExtractor
    {
        public List<int> Batches { get; } = [];
        public override string Configuration => inner.Configuration;
        public override int SampleRate => inner.SampleRate;
        public override ClipFeatures Extract(string path) => inner.Extract(path);
        public override AudioClip? ReadWhole(string path) => inner.ReadWhole(path);
        public override IReadOnlyList<ClipFeatures> ExtractBatch(IReadOnlyList<AudioClip> clips)
        {
            lock (Batches) Batches.Add(clips.Count);
            return inner.ExtractBatch(clips);
        }
        public override NativeASD.Engine.Frontend.FrontendPreset Preset => inner.Preset;
        public override float[,] Spectrogram(AudioClip clip) => inner.Spectrogram(clip);
        public override ClipFeatures FromSpectrogram(float[,] spectrogram, AudioClip clip) => inner.FromSpectrogram(spectrogram, clip);
        public override void Dispose() { inner.Dispose(); base.Dispose(); }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(16)]
    public void Every_file_gets_its_own_features_in_order_and_a_bad_file_only_its_slot(int batch)
    {
        var files = new List<string> { Clip("a.wav", 1), Clip("b.wav", 2), Clip("short.wav", 3, seconds: 0.5), Clip("c.wav", 4) };
        string bad = Path.Combine(_dir, "bad.wav");
        File.WriteAllText(bad, "not a wav file");
        files.Insert(2, bad);
        using var extractor = new BatchCounting(new LogMelStatisticsExtractor());
        var done = new List<int>();
        var slots = FeaturePipeline.Run(files, extractor, cache: null, batch, done.Add);
        Assert.Equal(files.Count, done.Count);
        Assert.Equal(Enumerable.Range(1, files.Count), done);
        Assert.IsAssignableFrom<Exception>(slots[2].Problem);
        Assert.Null(slots[2].Features);
        using var alone = new LogMelStatisticsExtractor();
        foreach (int i in new[] { 0, 1, 3, 4 })
        {
            Assert.Null(slots[i].Problem);
            Assert.Equal(alone.Extract(files[i]).Values, slots[i].Features!.Values);
        }
        // Clips of one length share a batch; the shorter clip starts its own.
        Assert.All(extractor.Batches, n => Assert.InRange(n, 1, batch));
        Assert.Equal(4, extractor.Batches.Sum());
        if (batch >= 3) Assert.Equal([2, 1, 1], extractor.Batches);
    }

    [Fact]
    public void A_batch_with_a_clip_the_extractor_refuses_is_retried_clip_by_clip()
    {
        var files = new[] { Clip("a.wav", 1), Clip("b.wav", 2), Clip("c.wav", 3) };
        using var extractor = new Refusing(new LogMelStatisticsExtractor(), Path.GetFullPath(files[1]));
        var slots = FeaturePipeline.Run(files, extractor, cache: null, batch: 3);
        Assert.NotNull(slots[0].Features);
        Assert.Contains("refused", slots[1].Problem!.Message);
        Assert.NotNull(slots[2].Features);
    }

    sealed class Refusing(FeatureExtractor inner, string refused) : FeatureExtractor
    {
        public override string Configuration => inner.Configuration;
        public override int SampleRate => inner.SampleRate;
        public override ClipFeatures Extract(string path) => inner.Extract(path);
        public override AudioClip? ReadWhole(string path) => inner.ReadWhole(Path.GetFullPath(path));
        public override IReadOnlyList<ClipFeatures> ExtractBatch(IReadOnlyList<AudioClip> clips) =>
            clips.Any(c => c.Source == refused) ? throw new InvalidDataException($"{refused}: refused") : inner.ExtractBatch(clips);
        public override NativeASD.Engine.Frontend.FrontendPreset Preset => inner.Preset;
        public override float[,] Spectrogram(AudioClip clip) => inner.Spectrogram(clip);
        public override ClipFeatures FromSpectrogram(float[,] spectrogram, AudioClip clip) => inner.FromSpectrogram(spectrogram, clip);
        public override void Dispose() { inner.Dispose(); base.Dispose(); }
    }

    [Fact]
    public void Decoding_runs_ahead_of_the_network_by_a_bounded_number_of_clips()
    {
        var one = Clip("a.wav", 1, 0.2);
        var files = Enumerable.Range(0, 40).Select(i => one).ToList();
        using var extractor = new SlowNetwork(new LogMelStatisticsExtractor());
        var slots = FeaturePipeline.Run(files, extractor, cache: null, batch: 2);
        Assert.All(slots, s => Assert.NotNull(s.Features));
        // While the first batch was in the network, at most the queue (Ahead batches), the decoders' chunk in hand and
        // the batch itself had been read: memory does not grow with the number of files.
        int decoders = Math.Max(1, Environment.ProcessorCount - 1);
        Assert.InRange(extractor.ReadWhenFirstBatchEnded, 2, FeaturePipeline.Ahead * 2 + 2 * decoders + 2);
    }

    /// <summary>Its first batch waits, so the producer runs as far ahead as the queue lets it.</summary>
    sealed class SlowNetwork(FeatureExtractor inner) : FeatureExtractor
    {
        int _read;
        public int ReadWhenFirstBatchEnded { get; private set; } = -1;
        public override string Configuration => inner.Configuration;
        public override int SampleRate => inner.SampleRate;
        public override ClipFeatures Extract(string path) => inner.Extract(path);
        public override AudioClip? ReadWhole(string path) { Interlocked.Increment(ref _read); return inner.ReadWhole(path); }
        public override IReadOnlyList<ClipFeatures> ExtractBatch(IReadOnlyList<AudioClip> clips)
        {
            if (ReadWhenFirstBatchEnded < 0)
            {
                Thread.Sleep(300);
                ReadWhenFirstBatchEnded = Volatile.Read(ref _read);
            }
            return inner.ExtractBatch(clips);
        }
        public override NativeASD.Engine.Frontend.FrontendPreset Preset => inner.Preset;
        public override float[,] Spectrogram(AudioClip clip) => inner.Spectrogram(clip);
        public override ClipFeatures FromSpectrogram(float[,] spectrogram, AudioClip clip) => inner.FromSpectrogram(spectrogram, clip);
        public override void Dispose() { inner.Dispose(); base.Dispose(); }
    }

    [Fact]
    public void The_cache_is_read_before_decoding_and_written_after_a_batch()
    {
        var files = new[] { Clip("a.wav", 1), Clip("b.wav", 2) };
        var cache = new FeatureCache(Path.Combine(_dir, "cache"));
        using var extractor = new BatchCounting(new LogMelStatisticsExtractor());
        var first = FeaturePipeline.Run(files, extractor, cache, batch: 2);
        Assert.Equal((0, 2), (cache.Hits, cache.Misses));
        var again = FeaturePipeline.Run(files, extractor, cache, batch: 2);
        Assert.Equal((2, 2), (cache.Hits, cache.Misses));
        Assert.Equal([2], extractor.Batches);
        for (int i = 0; i < files.Length; i++) Assert.Equal(first[i].Features!.Values, again[i].Features!.Values);
    }

    [Fact]
    public void Yamnet_patches_of_a_batch_of_clips_are_those_of_each_clip_alone_bit_for_bit()
    {
        var files = new[] { Clip("a.wav", 1, 1.5), Clip("b.wav", 2, 1.5) };
        using var yamnet = new BackboneExtractor(ShippedBackbone.Locate(ShippedYamNet.File), ["layer10"], backend: TestBackends.Reference, int8Activations: false);
        var batched = FeaturePipeline.Run(files, yamnet, cache: null, batch: 2);
        for (int i = 0; i < files.Length; i++) Assert.Equal(yamnet.Extract(files[i]).Values, batched[i].Features!.Values);
    }

    [Fact]
    public void A_resnet_batch_matches_its_clips_alone_on_the_cpu_and_on_ilgpu_cpu()
    {
        var files = new[] { Clip("a.wav", 1), Clip("b.wav", 2), Clip("c.wav", 3) };
        using var cpu = new BackboneExtractor(TinyBackbone.Path, TinyBackbone.Taps, backend: TestBackends.Reference);
        var alone = files.Select(cpu.Extract).ToList();
        using var device = new BackboneExtractor(TinyBackbone.Path, TinyBackbone.Taps, backend: TestBackends.Get("ilgpu-cpu"));
        foreach (var (extractor, bound) in new[] { (cpu, 1e-12), (device, 1e-10) })
        {
            var batched = FeaturePipeline.Run(files, extractor, cache: null, batch: 3);
            for (int i = 0; i < files.Length; i++)
            {
                var f = batched[i].Features!;
                Assert.Equal((alone[i].Rows, alone[i].Dimension), (f.Rows, f.Dimension));
                Assert.Equal(alone[i].Levels, f.Levels);
                double error = 0, norm = 0;
                for (int j = 0; j < f.Values.Length; j++)
                {
                    error += Math.Pow(f.Values[j] - alone[i].Values[j], 2);
                    norm += Math.Pow(alone[i].Values[j], 2);
                }
                Assert.True(error / norm < bound, $"{extractor.Backend.Kind} clip {i}: NMSE {error / norm:G3} against the clip alone on the CPU");
            }
        }
    }
}
