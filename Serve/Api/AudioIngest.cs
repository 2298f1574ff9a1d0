using Microsoft.Extensions.Logging;
using NativeASD.Engine.Audio;
using NativeASD.Serve.Machines;

namespace NativeASD.Serve.Api;

/// <summary>How one stream ended: samples pushed (at the model's rate), readings made, and the error that stopped it.</summary>
public sealed record IngestSummary(long Samples, long Readings, string? Error);

/// <summary>
/// Turns one incoming byte stream (an HTTP body or a WebSocket's messages) into pushes to a machine's grain: the WAV
/// header when there is one, else raw PCM of the given format; channels mixed and resampled to the model's rate by the
/// engine's stream reader. Runs on its own thread (the reader is synchronous) and hands every reading line to
/// <c>onLine</c>.
/// <para>The sender keeps the last window and hop of samples it pushed. When a call fails because the grain's server
/// went away, it retries; when the grain answers from a new server without the window, it re-sends that history
/// (<see cref="IMachineGrain.Resume"/>), so readings carry on at the same hop positions and none is lost.</para>
/// </summary>
public sealed class AudioIngest(IGrainFactory grains, ILogger<AudioIngest> log)
{
    /// <summary>How long a stream waits for its machine's grain to come back on another server.</summary>
    public static readonly TimeSpan RetryFor = TimeSpan.FromSeconds(60);

    /// <summary>Samples per push: 0.1 s at 16 kHz, so a reading leaves at most that long after its last sample arrived.</summary>
    const int PushSamples = 1600;

    public Task<IngestSummary> RunAsync(string machine, Stream input, PcmFormat rawFormat, ChannelMix mix, Action<string> onLine, CancellationToken cancel) =>
        Task.Factory.StartNew(() => Run(machine, input, rawFormat, mix, onLine, cancel), cancel, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    IngestSummary Run(string machine, Stream input, PcmFormat rawFormat, ChannelMix mix, Action<string> onLine, CancellationToken cancel)
    {
        var grain = grains.GetGrain<IMachineGrain>(machine);
        var id = Guid.NewGuid();
        var info = Call(() => grain.Open(id), cancel);
        if (info.Error is not null) return new IngestSummary(0, 0, info.Error);
        long position = 0, readings = 0;
        string? error = null;
        try
        {
            var reader = RawPcmReader.Open(input, rawFormat, mix, info.SampleRate, $"stream for {machine}");
            var history = new SampleHistory(info.WindowSamples + info.HopSamples);
            var block = new float[PushSamples];
            int n;
            // Read returns early on live input: each push carries what has arrived, at most one block.
            while ((n = reader.Read(block)) > 0)
            {
                var samples = block[..n];
                var result = PushWithRecovery(grain, id, position, samples, history, info, cancel);
                foreach (var line in result.Lines) onLine(line);
                readings += result.Lines.Length;
                if (result.Error is not null) { error = result.Error; break; }
                position += n;
                history.Append(samples);
            }
        }
        catch (Exception e) when (e is AudioFormatException or ArgumentException or InvalidDataException or IOException)
        {
            error = e.Message;
        }
        catch (OperationCanceledException) { error = "the stream was cancelled"; }
        catch (Exception e) when (IsTransient(e))
        {
            error = $"machine {machine} could not be reached for {RetryFor.TotalSeconds:0} s: {e.Message}";
            log.LogError("{Error}", error);
        }
        try { Call(() => grain.Close(id, error), CancellationToken.None); }
        catch (TimeoutException e) { log.LogWarning("machine {Machine}: closing its stream failed: {Error}", machine, e.Message); }
        return new IngestSummary(position, readings, error);
    }

    PushResult PushWithRecovery(IMachineGrain grain, Guid id, long position, float[] samples, SampleHistory history, StreamInfo info, CancellationToken cancel)
    {
        for (int attempt = 0; ; attempt++)
        {
            var result = Call(() => grain.Push(id, position, samples), cancel);
            if (!result.Resync) return result;
            if (attempt > 3) return result with { Error = $"machine {grain.GetPrimaryKeyString()} lost its stream position twice in a row" };
            // Re-send the window the grain lost, aligned so that its next readings fall on the stream's hop positions.
            long keep = position < info.WindowSamples ? position : info.WindowSamples + (position - info.WindowSamples) % info.HopSamples;
            var resumed = Call(() => grain.Resume(id, position, history.Last((int)keep)), cancel);
            if (resumed.Error is not null) return resumed;
        }
    }

    /// <summary>A grain call, retried while its server is unreachable (killed or restarting) for up to <see cref="RetryFor"/>.</summary>
    T Call<T>(Func<Task<T>> call, CancellationToken cancel)
    {
        var start = DateTime.UtcNow;
        while (true)
        {
            try { return call().WaitAsync(cancel).GetAwaiter().GetResult(); }
            catch (Exception e) when (IsTransient(e) && DateTime.UtcNow - start < RetryFor)
            {
                log.LogWarning("grain call failed ({Error}); retrying", e.Message);
                Task.Delay(250, cancel).GetAwaiter().GetResult();
            }
        }
    }

    void Call(Func<Task> call, CancellationToken cancel) => Call(async () => { await call(); return 0; }, cancel);

    static bool IsTransient(Exception e) => e is OrleansException or TimeoutException or SiloUnavailableException or OrleansMessageRejectionException;
}

/// <summary>The last <c>capacity</c> samples pushed, oldest first on request.</summary>
sealed class SampleHistory(int capacity)
{
    readonly float[] ring = new float[capacity];
    long count;

    public void Append(ReadOnlySpan<float> samples)
    {
        foreach (float x in samples) ring[count++ % ring.Length] = x;
    }

    /// <summary>The last <paramref name="n"/> samples (at most the capacity and the count).</summary>
    public float[] Last(int n)
    {
        n = (int)Math.Min(Math.Min(n, ring.Length), count);
        var result = new float[n];
        for (int i = 0; i < n; i++) result[i] = ring[(count - n + i) % ring.Length];
        return result;
    }
}
