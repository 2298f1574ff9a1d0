using System.Security.Cryptography;
using System.Text;
using NativeASD.Detection.Features;
using NativeASD.Engine.Audio;
using NativeASD.Engine.IO;

namespace NativeASD.Tests.Detection.Features;

/// <summary>
/// The feature cache: a miss extracts and writes an entry, a hit reads it back without extracting; the key is SHA-256 of
/// the file's content and the extractor configuration (not the path); a damaged entry is deleted and recomputed.
/// </summary>
public sealed class FeatureCacheTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-cache-test-").FullName;
    string CacheDir => Path.Combine(_dir, "cache");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Counts the extractions that reach the real extractor, so a hit is seen to skip it.</summary>
    sealed class CountingExtractor(FeatureExtractor inner) : FeatureExtractor
    {
        public int Calls { get; private set; }
        public override string Configuration => inner.Configuration;
        public override int SampleRate => inner.SampleRate;
        public override ClipFeatures Extract(string path) { Calls++; return inner.Extract(path); }
        public override NativeASD.Engine.Frontend.FrontendPreset Preset => inner.Preset;
        public override float[,] Spectrogram(AudioClip clip) => inner.Spectrogram(clip);
        public override ClipFeatures FromSpectrogram(float[,] spectrogram, AudioClip clip) { Calls++; return inner.FromSpectrogram(spectrogram, clip); }
        public override void Dispose() { inner.Dispose(); base.Dispose(); }
    }

    /// <summary>A 1 s clip of a seeded tone in noise, 16 kHz 16-bit.</summary>
    string Clip(string name, int seed)
    {
        var rng = new Random(seed);
        var x = new float[16000];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(0.3 * Math.Sin(2 * Math.PI * (200 + 50 * seed) * i / 16000.0) + 0.05 * (rng.NextDouble() - 0.5));
        string path = Path.Combine(_dir, name);
        WavWriter.Write(path, x, 16000);
        return path;
    }

    static CountingExtractor LogMel(string preset = "dcase2020") => new(new LogMelStatisticsExtractor(preset, threads: 1));

    string Entry() => Assert.Single(Directory.GetFiles(CacheDir, "*.npy"));

    [Fact]
    public void A_miss_extracts_and_writes_then_a_hit_reads_the_same_features_without_extracting()
    {
        string clip = Clip("a.wav", 1);
        using var extractor = LogMel();
        var cache = new FeatureCache(CacheDir);
        var first = cache.GetOrExtract(clip, extractor);
        Assert.Equal((0, 1, 1), (cache.Hits, cache.Misses, extractor.Calls));
        var (data, shape) = NpyFile.Read(Entry());
        Assert.Equal([first.Rows, first.Dimension], shape);
        Assert.Equal(first.Values, data);

        var second = new FeatureCache(CacheDir).GetOrExtract(clip, extractor);   // a later run: a new cache object
        Assert.Equal(1, extractor.Calls);
        Assert.Equal(first.Values, second.Values);
        Assert.Equal(first.Levels, second.Levels);
        Assert.Equal(clip, second.Source);
        cache.GetOrExtract(clip, extractor);
        Assert.Equal((1, 1, 1), (cache.Hits, cache.Misses, extractor.Calls));
    }

    /// <summary>Entry name: SHA-256 hex of (content bytes, "\n", configuration), then the tap levels, then .npy.</summary>
    [Fact]
    public void The_key_is_the_content_and_the_configuration_not_the_path()
    {
        string clip = Clip("a.wav", 1);
        using var extractor = LogMel();
        var cache = new FeatureCache(CacheDir);
        var features = cache.GetOrExtract(clip, extractor);
        byte[] keyed = [.. File.ReadAllBytes(clip), .. Encoding.UTF8.GetBytes("\n" + extractor.Configuration)];
        string key = Convert.ToHexStringLower(SHA256.HashData(keyed));
        Assert.Equal($"{key}.{string.Join("-", features.Levels)}.npy", Path.GetFileName(Entry()));

        string copy = Path.Combine(_dir, "copy-elsewhere.wav");
        File.Copy(clip, copy);
        var fromCopy = cache.GetOrExtract(copy, extractor);                      // same bytes, other path: a hit
        Assert.Equal((1, 1, 1), (cache.Hits, cache.Misses, extractor.Calls));
        Assert.Equal(copy, fromCopy.Source);

        File.WriteAllBytes(clip, File.ReadAllBytes(Clip("b.wav", 2)));            // the file changed: a miss
        cache.GetOrExtract(clip, extractor);
        Assert.Equal((1, 2, 2), (cache.Hits, cache.Misses, extractor.Calls));

        using var other = LogMel("vae60");                                       // another configuration: a miss
        Assert.NotEqual(extractor.Configuration, other.Configuration);
        cache.GetOrExtract(copy, other);
        Assert.Equal((1, 3, 1), (cache.Hits, cache.Misses, other.Calls));
        Assert.Equal(3, Directory.GetFiles(CacheDir, "*.npy").Length);
    }

    public static TheoryData<string> Damage => ["garbage", "truncated", "empty", "nan", "wrong-shape", "bad-levels"];

    [Theory]
    [MemberData(nameof(Damage))]
    public void A_damaged_entry_is_recomputed_and_replaced(string damage)
    {
        string clip = Clip("a.wav", 3);
        using var extractor = LogMel();
        var cache = new FeatureCache(CacheDir);
        var expected = cache.GetOrExtract(clip, extractor);
        string entry = Entry();
        byte[] bytes = File.ReadAllBytes(entry);
        switch (damage)
        {
            case "garbage": File.WriteAllBytes(entry, Encoding.ASCII.GetBytes("not an npy file at all")); break;
            case "truncated": File.WriteAllBytes(entry, bytes[..(bytes.Length - 7)]); break;
            case "empty": File.WriteAllBytes(entry, []); break;
            case "nan":
                var nan = (float[])expected.Values.Clone();
                nan[5] = float.NaN;
                NpyFile.Write(entry, nan, expected.Rows, expected.Dimension);
                break;
            case "wrong-shape": NpyFile.Write(entry, expected.Values[..^2], expected.Rows, expected.Dimension - 2); break;
            default:
                File.Move(entry, entry.Replace($".{expected.Levels[0]}.npy", ".x.npy"));
                break;
        }

        var again = cache.GetOrExtract(clip, extractor);
        Assert.Equal((0, 2, 2), (cache.Hits, cache.Misses, extractor.Calls));
        Assert.Equal(expected.Values, again.Values);
        Assert.Equal(bytes, File.ReadAllBytes(Entry()));                         // the one entry left is a good one
        Assert.Equal(expected.Values, new FeatureCache(CacheDir).GetOrExtract(clip, extractor).Values);
        Assert.Equal(2, extractor.Calls);
    }
}
