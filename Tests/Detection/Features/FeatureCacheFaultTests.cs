using NativeASD.Engine.Audio;
using NativeASD.Detection.Features;

namespace NativeASD.Tests.Detection.Features;

/// <summary>The feature cache is an optimisation only: whatever goes wrong with it, the features come back.</summary>
public sealed class FeatureCacheFaultTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-cache").FullName;
    readonly string _clip;
    readonly LogMelStatisticsExtractor _extractor = new(threads: 1);

    public FeatureCacheFaultTests()
    {
        _clip = Path.Combine(_dir, "normal_id_00_00000000.wav");
        var x = new float[16000];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(0.3 * Math.Sin(0.05 * i) + 0.01 * Math.Sin(1.3 * i));
        WavWriter.Write(_clip, x, 16000);
    }

    public void Dispose()
    {
        _extractor.Dispose();
        Directory.Delete(_dir, true);
    }

    float[] Direct => _extractor.Extract(_clip).Values;

    [Fact]
    public void AnUnwritableFolderIsOneWriteFailureAndTheFeaturesStillComeBack()
    {
        string notAFolder = Path.Combine(_dir, "file");
        File.WriteAllText(notAFolder, "x");
        var cache = new FeatureCache(Path.Combine(notAFolder, "cache"));
        Assert.Equal(Direct, cache.GetOrExtract(_clip, _extractor).Values);
        Assert.Equal(Direct, cache.GetOrExtract(_clip, _extractor).Values);
        Assert.NotNull(cache.WriteFailure);
        Assert.Contains(notAFolder, cache.WriteFailure);
        Assert.Equal((0, 2), (cache.Hits, cache.Misses));

        var proc = new FeatureCache("/proc/nasd-cache-test");   // not writable, even for root
        Assert.Equal(Direct, proc.GetOrExtract(_clip, _extractor).Values);
        Assert.NotNull(proc.WriteFailure);
    }

    [Fact]
    public void DamagedOrUnreadableEntriesAreMisses()
    {
        string folder = Path.Combine(_dir, "cache");
        var cache = new FeatureCache(folder);
        cache.GetOrExtract(_clip, _extractor);
        string entry = Assert.Single(Directory.GetFiles(folder, "*.npy"));

        File.WriteAllBytes(entry, [1, 2, 3]);                  // damaged: recomputed and rewritten
        var again = new FeatureCache(folder);
        Assert.Equal(Direct, again.GetOrExtract(_clip, _extractor).Values);
        Assert.Equal((0, 1), (again.Hits, again.Misses));
        Assert.Null(again.WriteFailure);
        Assert.Equal(Direct, new FeatureCache(folder).GetOrExtract(_clip, _extractor).Values);

        File.Delete(entry);
        Directory.CreateDirectory(entry);                      // a folder in the entry's place: a miss, and writing it fails once
        var blocked = new FeatureCache(folder);
        Assert.Equal(Direct, blocked.GetOrExtract(_clip, _extractor).Values);
        Assert.NotNull(blocked.WriteFailure);
    }
}
