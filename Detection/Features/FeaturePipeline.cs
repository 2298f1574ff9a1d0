using System.Threading.Channels;
using NativeASD.Engine.Audio;

namespace NativeASD.Detection.Features;

/// <summary>
/// Features of many files, with the audio decoded ahead of the network: a producer hashes each file for the cache and
/// reads (and resamples) the misses on CPU threads into a bounded queue, while the caller's thread takes clips of one
/// length off it in batches of up to <c>batch</c> and runs each batch through <see cref="FeatureExtractor.ExtractBatch"/>
/// (on a device, one network call per batch). The queue holds at most <see cref="Ahead"/> batches of decoded clips, so
/// memory stays flat however many files there are.
/// <para>A file that cannot be read, or a clip the extractor refuses, is that file's problem, not the run's: it is
/// returned in its slot. A batch that fails is run again clip by clip, so the failure names its own clip and the
/// other clips keep their features.</para>
/// </summary>
public static class FeaturePipeline
{
    /// <summary>Batches of decoded clips the producer may be ahead of the network.</summary>
    public const int Ahead = 2;

    /// <summary>Problems of one clip (unreadable, too short, non-finite samples); anything else is a bug and ends the run.</summary>
    public static bool IsClipProblem(Exception e) => e is IOException or InvalidDataException or ArgumentException;

    /// <summary>One file after the producer: cached features, a decoded clip, a path the extractor reads itself, or the reason it failed.</summary>
    sealed record Item(int Index, ClipFeatures? Cached, AudioClip? Clip, string? Key, Exception? Problem);

    /// <summary>
    /// Features of <paramref name="files"/> in order: slot i holds file i's features or its problem.
    /// <paramref name="finished"/> hears the count of files done after each one. <paramref name="batch"/> 1 extracts clip
    /// by clip (on the CPU, exactly the features of <c>Extract(path)</c>).
    /// </summary>
    public static (ClipFeatures? Features, Exception? Problem)[] Run(IReadOnlyList<string> files, FeatureExtractor extractor,
        FeatureCache? cache, int batch, Action<int>? finished = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        var result = new (ClipFeatures?, Exception?)[files.Count];
        int done = 0;
        void Finish(int index, ClipFeatures? features, Exception? problem)
        {
            result[index] = (features, problem);
            finished?.Invoke(++done);
        }

        // Decoders: one overlaps the network on the CPU; a device's batches are fed by every core but the caller's.
        int decoders = batch == 1 ? 1 : Math.Max(1, Environment.ProcessorCount - 1);
        var queue = Channel.CreateBounded<Item>(new BoundedChannelOptions(Ahead * batch) { SingleReader = true, SingleWriter = true });
        using var stop = new CancellationTokenSource();
        var producer = Task.Run(() => Produce(files, extractor, cache, decoders, queue.Writer, stop.Token));
        var pending = new List<Item>(batch);
        void Flush()
        {
            if (pending.Count == 0) return;
            foreach (var (item, features, problem) in ExtractPending(pending, extractor))
            {
                if (features is not null && item.Key is string key) cache!.Put(key, features);
                Finish(item.Index, features, problem);
            }
            pending.Clear();
        }
        try
        {
            foreach (var item in Drain(queue.Reader))
            {
                if (item.Clip is AudioClip clip)
                {
                    if (pending.Count > 0 && pending[0].Clip!.Samples.Length != clip.Samples.Length) Flush();
                    pending.Add(item);
                    if (pending.Count == batch) Flush();
                    continue;
                }
                if (item.Cached is not null || item.Problem is not null)
                {
                    Finish(item.Index, item.Cached, item.Problem);
                    continue;
                }
                // The extractor reads this file its own way (a long file in blocks).
                try
                {
                    var features = extractor.Extract(files[item.Index]);
                    if (item.Key is string key) cache!.Put(key, features);
                    Finish(item.Index, features, null);
                }
                catch (Exception e) when (IsClipProblem(e)) { Finish(item.Index, null, e); }
            }
            Flush();
        }
        finally
        {
            stop.Cancel();
            try { producer.Wait(); }
            catch (AggregateException e) when (e.InnerExceptions.All(x => x is OperationCanceledException)) { }
        }
        return result;
    }

    /// <summary>The queue's items as they come, until the producer completes it (its exception rethrown here).</summary>
    static IEnumerable<Item> Drain(ChannelReader<Item> reader)
    {
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            while (reader.TryRead(out var item)) yield return item;
    }

    /// <summary>The pending clips as one batch; when the batch fails, clip by clip (each failure is its clip's).</summary>
    static IEnumerable<(Item, ClipFeatures?, Exception?)> ExtractPending(List<Item> pending, FeatureExtractor extractor)
    {
        IReadOnlyList<ClipFeatures>? all = null;
        try { all = extractor.ExtractBatch([.. pending.Select(p => p.Clip!)]); }
        catch (Exception e) when (IsClipProblem(e) && pending.Count > 1) { }
        catch (Exception e) when (IsClipProblem(e)) { return [(pending[0], null, e)]; }
        if (all is not null) return pending.Select((p, i) => (p, (ClipFeatures?)all[i], (Exception?)null)).ToList();
        var one = new List<(Item, ClipFeatures?, Exception?)>();
        foreach (var p in pending)
        {
            try { one.Add((p, extractor.ExtractBatch([p.Clip!])[0], null)); }
            catch (Exception e) when (IsClipProblem(e)) { one.Add((p, null, e)); }
        }
        return one;
    }

    /// <summary>Files in order, <paramref name="decoders"/> at a time (in parallel, queued in order): cache look-up, then decoding.</summary>
    static void Produce(IReadOnlyList<string> files, FeatureExtractor extractor, FeatureCache? cache, int decoders, ChannelWriter<Item> queue, CancellationToken stop)
    {
        Exception? failure = null;
        try
        {
            var chunk = new Item[decoders];
            for (int first = 0; first < files.Count; first += decoders)
            {
                int count = Math.Min(decoders, files.Count - first);
                Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = decoders, CancellationToken = stop },
                    i => chunk[i] = Read(first + i, files[first + i], extractor, cache));
                for (int i = 0; i < count; i++) queue.WriteAsync(chunk[i], stop).AsTask().GetAwaiter().GetResult();
            }
        }
        catch (Exception e) { failure = e; }
        finally { queue.TryComplete(failure is OperationCanceledException ? null : failure); }
    }

    static Item Read(int index, string path, FeatureExtractor extractor, FeatureCache? cache)
    {
        try
        {
            var (cached, key) = cache is null ? (null, null) : cache.TryGet(path, extractor.Configuration);
            if (cached is not null) return new Item(index, cached, null, null, null);
            return new Item(index, null, extractor.ReadWhole(path), key, null);
        }
        catch (Exception e) when (IsClipProblem(e)) { return new Item(index, null, null, null, e); }
    }
}
