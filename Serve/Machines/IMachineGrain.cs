namespace NativeASD.Serve.Machines;

/// <summary>What a stream must send to a machine: samples at <see cref="SampleRate"/> (the model's); <see cref="Error"/> when
/// the machine cannot listen (no such machine, a model that fails to load).</summary>
[GenerateSerializer, Immutable]
public sealed record StreamInfo([property: Id(0)] int SampleRate, [property: Id(1)] int WindowSamples, [property: Id(2)] int HopSamples,
    [property: Id(3)] string? Error, [property: Id(4)] string Silo);

/// <summary>
/// The answer to a push: the readings it completed as <c>nasd monitor --json</c> lines, the stream position the machine
/// has reached, and <see cref="Resync"/> when the machine does not hold the stream up to the position the push started
/// from (its grain moved to another server): the sender then calls <see cref="IMachineGrain.Resume"/>.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record PushResult([property: Id(0)] string[] Lines, [property: Id(1)] long Position, [property: Id(2)] string? Error,
    [property: Id(3)] bool Resync = false);

/// <summary>A reading scored on an edge PC and sent with <c>nasd monitor --report-to</c>.</summary>
[GenerateSerializer, Immutable]
public sealed record ReportedReading([property: Id(0)] double Time, [property: Id(1)] double Score, [property: Id(2)] bool Anomalous,
    [property: Id(3)] bool Alarm, [property: Id(4)] int Consecutive, [property: Id(5)] double? LatencyMs, [property: Id(6)] string? Band,
    [property: Id(7)] double Threshold);

/// <summary>
/// One machine: a grain (keyed by the machine's name) that owns the machine's model and its sliding-window monitor.
/// Its configuration, readings and alarms live in the store, so the grain can be activated on any server of the cluster.
/// A stream is identified by a token: the newest stream to <see cref="Open"/> owns the machine.
/// </summary>
public interface IMachineGrain : IGrainWithStringKey
{
    /// <summary>Starts a stream (replacing any other): loads the model if needed.</summary>
    Task<StreamInfo> Open(Guid stream);

    /// <summary>Appends samples (at the model's rate) that start at stream position <paramref name="position"/>.</summary>
    Task<PushResult> Push(Guid stream, long position, float[] samples);

    /// <summary>Rebuilds the window after the grain moved: <paramref name="history"/> are the samples just before
    /// <paramref name="position"/> (a window and up to a hop); their readings were already made and are not repeated.</summary>
    Task<PushResult> Resume(Guid stream, long position, float[] history);

    /// <summary>Scores one uploaded clip (at the model's rate) whole, as <c>nasd score</c> would; an anomalous clip raises an alarm with it.</summary>
    Task<PushResult> ScoreClip(float[] samples);

    /// <summary>Stores readings scored elsewhere (<c>nasd monitor --report-to</c>); an alarm edge raises an alarm (no clip).</summary>
    Task<PushResult> Report(ReportedReading[] readings);

    /// <summary>Ends a stream: the machine goes idle, or shows <paramref name="error"/> (e.g. a stream in the wrong format) as its state.</summary>
    Task Close(Guid stream, string? error);

    /// <summary>The machine's rate, window and hop (loading its model if needed), and the silo holding the grain; the stream is left alone.</summary>
    Task<StreamInfo> Describe();
}
