using System.Globalization;
using System.Text.Json;

namespace NativeASD.Detection.Monitoring;

/// <summary>
/// The one JSON line a reading is printed as, by <c>nasd monitor</c> and by <c>nasd serve</c> to a streaming client:
/// {"time":…,"score":…,"decision":0|1,"alarm":…,"consecutive":…}, then "latency_ms" when given, then for an anomalous
/// window "band":{"index":…,"low_hz":…,"high_hz":…,"contribution":…} (Hz null for cepstral bands).
/// </summary>
public static class MonitorReadingJson
{
    public static string Line(MonitorReading r, double? latencyMs = null) => string.Create(CultureInfo.InvariantCulture,
        $"{{\"time\":{JsonSerializer.Serialize(Math.Round(r.Time, 6))},\"score\":{JsonSerializer.Serialize(r.Score)},\"decision\":{(r.Anomalous ? 1 : 0)},\"alarm\":{(r.Alarm ? "true" : "false")},\"consecutive\":{r.Consecutive}{(latencyMs is double ms ? $",\"latency_ms\":{JsonSerializer.Serialize(Math.Round(ms, 3))}" : "")}{Band(r)}}}");

    /// <summary>An anomalous window's ,"band":{…}; empty otherwise.</summary>
    static string Band(MonitorReading r) => r.TopBand is not { } b ? "" : string.Create(CultureInfo.InvariantCulture,
        $",\"band\":{BandObject(b)}");

    /// <summary>{"index":…,"low_hz":…,"high_hz":…,"contribution":…} of a band (as kept with an alarm).</summary>
    public static string BandObject(Explanations.BandContribution b) => string.Create(CultureInfo.InvariantCulture,
        $"{{\"index\":{b.Band},\"low_hz\":{Hz(b.LowHz)},\"high_hz\":{Hz(b.HighHz)},\"contribution\":{JsonSerializer.Serialize(b.Contribution)}}}");

    static string Hz(double v) => double.IsFinite(v) ? JsonSerializer.Serialize(Math.Round(v, 1)) : "null";
}
