using Microsoft.Extensions.Logging;
using NativeASD.Detection.Explanations;
using NativeASD.Detection.Monitoring;
using NativeASD.Engine.Audio;
using NativeASD.Serve.Store;
using Orleans.Placement;

namespace NativeASD.Serve.Machines;

/// <summary>
/// A machine's grain: reads the machine's row from the store at every call (so a replaced model or a new threshold
/// takes effect without a restart), keeps the loaded model and the sliding-window monitor, stores every reading, and
/// commits every alarm with its clip before the call returns (a store that cannot write keeps it until it can: readings
/// go on, see <see cref="ServeStore"/>). Nothing lives only here but the window of audio, which
/// the sender re-sends when the grain moves (<see cref="Resume"/>).
/// <para>Placed on the server that first asks for it (usually the one its stream comes in on): no hop between the
/// stream and its model.</para>
/// </summary>
[PreferLocalPlacement]
public sealed class MachineGrain(ServeStore store, ServeCompute compute, ILogger<MachineGrain> log) : Grain, IMachineGrain
{
    MachineRecord? config;
    MachineModel? model;
    long loadedRevision = -1;
    string? loadError;
    SlidingWindowMonitor? monitor;
    Guid stream;
    readonly HashSet<Guid> replaced = [];
    long basePosition;       // stream position of the monitor's first sample
    long baseIndex;          // reading index of the monitor's first reading
    bool reportedAlarm;      // last reported reading was an alarm (edges of --report-to alarms)

    string Name => this.GetPrimaryKeyString();

    string Silo => RuntimeIdentity;

    /// <summary>Brings config and model up to date with the store; an error message when the machine cannot score.</summary>
    string? Refresh()
    {
        var record = store.Machine(Name);
        if (record is null) return $"no machine named '{Name}'; register it with POST /machines";
        config = record;
        if (record.Revision == loadedRevision) return loadError;
        model?.Dispose();
        model = null;
        monitor = null;
        loadedRevision = record.Revision;
        try
        {
            model = MachineModel.Load(Path.Combine(store.ModelFolder, record.ModelFile), compute.Backend);
            loadError = null;
            // One silent window through features and detector: first-call costs (code generation, buffers) are paid
            // here, not by the first reading of the stream.
            model.Detector.Score(model.Extractor.Extract(new AudioClip(new float[WindowAndHop().Window], model.Extractor.SampleRate, "warm-up")));
        }
        catch (Exception e) when (e is ModelLoadException or ArgumentException)
        {
            loadError = $"model of {Name} failed to load: {e.Message}";
            log.LogError("{Error}", loadError);
            store.SetState(Name, "model-error", loadError);
        }
        return loadError;
    }

    double Threshold => config!.Threshold ?? model!.Info.Threshold.Threshold;

    StreamInfo Info(string? error)
    {
        if (error is not null || model is null) return new StreamInfo(0, 0, 0, error, Silo);
        var (window, hop) = WindowAndHop();
        return new StreamInfo(model.Extractor.SampleRate, window, hop, null, Silo);
    }

    (int Window, int Hop) WindowAndHop()
    {
        int fs = model!.Extractor.SampleRate;
        int window = (int)Math.Round(config!.WindowSeconds * fs);
        return (window, Math.Clamp((int)Math.Round(config.HopSeconds * fs), 1, window));
    }

    SlidingWindowMonitor NewMonitor()
    {
        var (window, hop) = WindowAndHop();
        // Only alarms are explained (see Score): explaining every anomalous window costs tens of scorings each.
        return new SlidingWindowMonitor(model!.Detector, model.Extractor, new MonitorSettings(window, hop, Threshold, config!.Consecutive, ExplainAnomalous: false), Name);
    }

    public Task<StreamInfo> Open(Guid newStream)
    {
        string? error = Refresh();
        if (error is null)
        {
            if (stream != Guid.Empty && stream != newStream) replaced.Add(stream);
            stream = newStream;
            monitor = NewMonitor();
            basePosition = baseIndex = 0;
            store.SetState(Name, "listening", null);
        }
        return Task.FromResult(Info(error));
    }

    long Position => basePosition + (monitor?.SamplesReceived ?? 0);

    public Task<PushResult> Push(Guid from, long position, float[] samples)
    {
        if (replaced.Contains(from)) return Task.FromResult(new PushResult([], Position, $"another stream took over machine {Name}"));
        long revision = loadedRevision;
        if (Refresh() is string error) return Task.FromResult(new PushResult([], Position, error));
        if (revision != loadedRevision) monitor = null;   // new model or settings: the window refills under them
        // A retry of a push this grain already took (its answer was lost or late): nothing to do; its readings are stored.
        if (from == stream && monitor is not null && position + samples.Length == Position) return Task.FromResult(new PushResult([], Position, null));
        // A moved grain (no window) or a sender that lost an answer: the sender re-sends the window with Resume.
        if (from != stream || monitor is null || position != Position) return Task.FromResult(new PushResult([], Position, null, Resync: true));
        return Task.FromResult(Score(samples));
    }

    public Task<PushResult> Resume(Guid from, long position, float[] history)
    {
        if (replaced.Contains(from)) return Task.FromResult(new PushResult([], Position, $"another stream took over machine {Name}"));
        if (Refresh() is string error) return Task.FromResult(new PushResult([], Position, error));
        stream = from;
        monitor = NewMonitor();
        var (_, hop) = WindowAndHop();
        basePosition = position - history.Length;
        baseIndex = basePosition / hop;
        // The history's windows were scored before the move: rebuild the ring without repeating their readings.
        monitor.Push(history, _ => { });
        store.SetState(Name, "listening", null);
        log.LogInformation("machine {Machine} resumed its stream at sample {Position} on {Silo}", Name, position, Silo);
        return Task.FromResult(new PushResult([], Position, null));
    }

    PushResult Score(float[] samples)
    {
        var lines = new List<string>();
        int fs = monitor!.SampleRate;
        try
        {
            monitor.Push(samples, r =>
            {
                var reading = r with { Index = r.Index + baseIndex, Time = r.Time + (double)basePosition / fs };
                double latency = monitor.LastLatencyMs;
                long now = ServeStore.NowMs();
                if (reading.Alarm && reading.Consecutive == monitor.Settings.Consecutive)
                {
                    var window = new AudioClip(monitor.LastWindow.ToArray(), fs, Name);
                    reading = reading with { TopBand = ClipExplainer.TopBand(model!.Detector, model.Extractor, window) };
                    store.AddAlarm(Name, now, reading.Score, monitor.Settings.Threshold, reading.Consecutive,
                        MonitorReadingJson.BandObject(reading.TopBand), Wav(window.Samples, fs));
                }
                store.AddReading(new ReadingRecord(0, Name, now, reading.Time, reading.Score, monitor.Settings.Threshold, reading.Anomalous,
                    reading.Alarm, latency, "stream"));
                lines.Add(MonitorReadingJson.Line(reading, latency));
            });
        }
        catch (InvalidDataException e)
        {
            // A non-finite score: the model or the input is damaged. Visible on the machine, and the stream is told.
            store.SetState(Name, "input-error", e.Message);
            return new PushResult([.. lines], Position, e.Message);
        }
        return new PushResult([.. lines], Position, null);
    }

    static byte[] Wav(ReadOnlySpan<float> samples, int sampleRate)
    {
        using var bytes = new MemoryStream(44 + samples.Length * 2);
        WavWriter.Write(bytes, samples, sampleRate);
        return bytes.ToArray();
    }

    public Task<PushResult> ScoreClip(float[] samples)
    {
        if (Refresh() is string error) return Task.FromResult(new PushResult([], 0, error));
        int fs = model!.Extractor.SampleRate;
        var clip = new AudioClip(samples, fs, $"clip for {Name}");
        double score;
        try { score = model.Detector.Score(model.Extractor.Extract(clip)); }
        catch (ArgumentException e) { return Task.FromResult(new PushResult([], 0, $"clip for {Name}: {e.Message}")); }
        if (!double.IsFinite(score)) return Task.FromResult(new PushResult([], 0, $"clip for {Name} scored {score}; the model or the clip is damaged"));
        double threshold = Threshold;
        bool anomalous = score > threshold;
        var reading = new MonitorReading(0, (double)samples.Length / fs, score, anomalous, anomalous ? 1 : 0, anomalous);
        long now = ServeStore.NowMs();
        if (anomalous) store.AddAlarm(Name, now, score, threshold, 1, null, Wav(samples, fs));
        store.AddReading(new ReadingRecord(0, Name, now, reading.Time, score, threshold, anomalous, anomalous, null, "clip"));
        return Task.FromResult(new PushResult([MonitorReadingJson.Line(reading)], 0, null));
    }

    public Task<PushResult> Report(ReportedReading[] readings)
    {
        if (store.Machine(Name) is null) return Task.FromResult(new PushResult([], 0, $"no machine named '{Name}'; register it with POST /machines"));
        long now = ServeStore.NowMs();
        foreach (var r in readings)
        {
            // The edge PC judged the reading with its own model and threshold.
            if (r.Alarm && !reportedAlarm) store.AddAlarm(Name, now, r.Score, r.Threshold, r.Consecutive, r.Band, null);
            reportedAlarm = r.Alarm;
            store.AddReading(new ReadingRecord(0, Name, now, r.Time, r.Score, r.Threshold, r.Anomalous, r.Alarm, r.LatencyMs, "report"));
        }
        store.SetState(Name, "reporting", null);
        return Task.FromResult(new PushResult([], readings.Length, null));
    }

    public Task Close(Guid from, string? error)
    {
        if (from != stream) return Task.CompletedTask;
        if (error is not null) log.LogWarning("machine {Machine}: {Error}", Name, error);
        store.SetState(Name, error is null ? "idle" : "input-error", error);
        monitor = null;
        stream = Guid.Empty;
        return Task.CompletedTask;
    }

    public Task<StreamInfo> Describe() => Task.FromResult(Info(Refresh()));

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        model?.Dispose();
        return Task.CompletedTask;
    }
}
