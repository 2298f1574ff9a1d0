using System.Globalization;
using System.IO.Pipelines;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Data.Sqlite;
using NativeASD.Engine.Audio;
using NativeASD.Serve.Machines;
using NativeASD.Serve.Store;

namespace NativeASD.Serve.Api;

/// <summary>
/// The HTTP API of <c>nasd serve</c> (reference in docs/serve.md). Errors are JSON <c>{"error": "…"}</c> with a status
/// that says whose fault it is: 400 a malformed request, 404 an unknown machine or alarm, 413 too large, 415 audio
/// that is not PCM/WAV, 422 a model that fails to load, 507 a store that cannot write (e.g. a full disk).
/// </summary>
public static partial class ServeApi
{
    /// <summary>Largest model file or clip accepted in one request.</summary>
    public const long MaxUploadBytes = 512L << 20;

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex MachineName();

    public static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static void Map(WebApplication app)
    {
        app.MapGet("/", () => Results.Text(Dashboard.DashboardPage.Html, "text/html; charset=utf-8"));
        app.MapGet("/health", (ServeStore store, ServeCompute compute) =>
            Results.Json(new { status = store.WriteError is null ? "ok" : "store-error", store_error = store.WriteError, data = store.DataFolder, silo = compute.SiloName }, Json));

        app.MapGet("/machines", (ServeStore store) => Results.Json(store.Machines().Select(m => MachineJson(store, m)), Json));
        app.MapGet("/machines/{name}", (string name, ServeStore store) =>
            store.Machine(name) is { } m ? Results.Json(MachineJson(store, m), Json) : UnknownMachine(name));
        app.MapPost("/machines", RegisterMachine);
        app.MapPut("/machines/{name}/model", ReplaceModel);
        app.MapPost("/machines/{name}/threshold", SetThreshold);
        app.MapPost("/machines/{name}/calibrate", Calibrate);
        app.MapGet("/machines/{name}/where", async (string name, ServeStore store, IGrainFactory grains) =>
            store.Machine(name) is null ? UnknownMachine(name) : Results.Json(new { silo = (await grains.GetGrain<IMachineGrain>(name).Describe()).Silo }, Json));

        app.MapPost("/machines/{name}/audio", StreamOverHttp);
        app.Map("/machines/{name}/stream", StreamOverWebSocket);
        app.MapPost("/machines/{name}/clips", UploadClip);
        app.MapPost("/machines/{name}/readings", ReportReadings);
        app.MapGet("/machines/{name}/readings", (string name, ServeStore store, double? minutes) =>
            store.Machine(name) is null ? UnknownMachine(name)
            : Results.Json(store.Readings(name, ServeStore.NowMs() - (long)(Math.Clamp(minutes ?? 60, 0, 7 * 24 * 60) * 60_000)).Select(ReadingJson), Json));

        app.MapGet("/alarms", (ServeStore store, string? machine, bool? open) => Results.Json(store.Alarms(machine, open ?? false).Select(AlarmJson), Json));
        app.MapGet("/alarms/{id:long}/clip", (long id, ServeStore store) =>
            store.AlarmClip(id) is { } wav ? Results.File(wav, "audio/wav", $"alarm-{id}.wav") : Error(404, $"alarm {id} has no clip (no such alarm, or it came from --report-to)"));
        app.MapPost("/alarms/{id:long}/ack", (long id, ServeStore store, string? by) =>
            store.Acknowledge(id, by) ? Results.Json(store.Alarms().FirstOrDefault(a => a.Id == id) is { } a ? AlarmJson(a) : null, Json) : Error(404, $"no alarm {id}"));

        app.MapGet("/events", LiveEvents);
    }

    static IResult Error(int status, string message) => Results.Json(new { error = message }, Json, statusCode: status);

    static IResult UnknownMachine(string name) => Error(404, $"no machine named '{name}'; register it with POST /machines");

    static object MachineJson(ServeStore store, MachineRecord m)
    {
        var last = store.LastReading(m.Name);
        return new
        {
            // A store that cannot write shows on every machine: its readings and alarms are waiting in memory.
            name = m.Name, state = store.WriteError is null ? m.State : "store-error", state_message = store.WriteError ?? m.StateMessage, state_utc_ms = m.StateUtcMs, model = m.ModelFile, model_sha256 = m.ModelSha256,
            threshold_override = m.Threshold, window_s = m.WindowSeconds, hop_s = m.HopSeconds, consecutive = m.Consecutive,
            last_reading = last is null ? null : ReadingJson(last), open_alarms = store.Alarms(m.Name, openOnly: true).Count,
        };
    }

    static object ReadingJson(ReadingRecord r) => new
    {
        id = r.Id, machine = r.Machine, utc_ms = r.UtcMs, time = r.StreamTime, score = r.Score, threshold = r.Threshold,
        decision = r.Anomalous ? 1 : 0, alarm = r.Alarm, latency_ms = r.LatencyMs, source = r.Source,
    };

    static object AlarmJson(AlarmRecord a) => new
    {
        id = a.Id, machine = a.Machine, utc_ms = a.UtcMs, score = a.Score, threshold = a.Threshold, consecutive = a.Consecutive,
        band = a.Band is null ? (JsonElement?)null : JsonDocument.Parse(a.Band).RootElement, clip = a.HasClip ? $"/alarms/{a.Id}/clip" : null,
        acknowledged_utc_ms = a.AcknowledgedUtcMs, acknowledged_by = a.AcknowledgedBy,
    };

    // ---- machines and models --------------------------------------------------------------------------------------

    /// <summary>The request to register a machine: a model by its path on the server, or the model's bytes as the body
    /// (application/octet-stream) with the other fields in the query string.</summary>
    sealed record Registration(string? Name, string? Model, double? Window, double? Hop, int? Consecutive, double? Threshold);

    static async Task<IResult> RegisterMachine(HttpRequest request, ServeStore store, ServeCompute compute)
    {
        Registration? reg;
        byte[] model;
        try
        {
            if (request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) == true)
            {
                reg = await JsonSerializer.DeserializeAsync<Registration>(request.Body, Json);
                if (reg?.Model is null) return Error(400, "POST /machines: give \"model\" (a model file's path on the server), or send the model file as the body (application/octet-stream) with ?name=");
                if (!File.Exists(reg.Model)) return Error(422, $"{reg.Model}: no such model file on the server");
                model = await File.ReadAllBytesAsync(reg.Model);
            }
            else
            {
                var q = request.Query;
                reg = new Registration(q["name"], null, Number(q["window"]), Number(q["hop"]), (int?)Number(q["consecutive"]), Number(q["threshold"]));
                model = await ReadBody(request);
            }
        }
        catch (JsonException e) { return Error(400, $"POST /machines: the body is not valid JSON: {e.Message}"); }
        catch (FormatException e) { return Error(400, $"POST /machines: {e.Message}"); }
        catch (BadHttpRequestException e) { return Error(e.StatusCode, e.Message); }
        if (reg?.Name is not string name || !MachineName().IsMatch(name))
            return Error(400, $"POST /machines: \"name\" must be 1–64 letters, digits, '.', '_' or '-', got '{reg?.Name}'");
        double window = reg.Window ?? 10, hop = reg.Hop ?? 1;
        int consecutive = reg.Consecutive ?? 3;
        if (!(window > 0 && window <= 600) || !(hop > 0 && hop <= window) || consecutive < 1 || reg.Threshold is double t && !double.IsFinite(t))
            return Error(400, $"POST /machines: window must be in (0, 600] s, hop in (0, window], consecutive ≥ 1 and threshold finite; got window {window}, hop {hop}, consecutive {consecutive}");
        var existing = store.Machine(name);
        return ImportModel(store, compute, name, model, (file, sha) =>
            store.UpsertMachine(name, file, sha, reg.Threshold, window, hop, consecutive), existing is null ? 201 : 200);
    }

    static async Task<IResult> ReplaceModel(string name, HttpRequest request, ServeStore store, ServeCompute compute)
    {
        if (store.Machine(name) is not { } m) return UnknownMachine(name);
        byte[] model;
        try { model = await ReadBody(request); }
        catch (BadHttpRequestException e) { return Error(e.StatusCode, e.Message); }
        return ImportModel(store, compute, name, model, (file, sha) => store.UpsertMachine(name, file, sha, m.Threshold, m.WindowSeconds, m.HopSeconds, m.Consecutive), 200);
    }

    /// <summary>Checks and keeps the model file, then registers it: a model that fails to load never replaces a working one.</summary>
    static IResult ImportModel(ServeStore store, ServeCompute compute, string name, byte[] bytes, Action<string, string> register, int status)
    {
        if (bytes.Length == 0) return Error(400, $"machine {name}: the model file is empty");
        string file, sha;
        try { (file, sha) = MachineModel.Import(store.ModelFolder, name, bytes, compute.Backend); }
        catch (ModelLoadException e) { return Error(422, e.Message); }
        catch (IOException e) { return Error(507, $"{store.ModelFolder}: the model of {name} could not be stored: {e.Message}"); }
        try { register(file, sha); }
        catch (SqliteException e) { return Error(507, $"{store.Path}: {e.Message}"); }
        return Results.Json(MachineJson(store, store.Machine(name)!), Json, statusCode: status);
    }

    sealed record ThresholdRequest(double? Threshold);

    static async Task<IResult> SetThreshold(string name, HttpRequest request, ServeStore store)
    {
        ThresholdRequest? body;
        try { body = await JsonSerializer.DeserializeAsync<ThresholdRequest>(request.Body, Json); }
        catch (JsonException e) { return Error(400, $"threshold: the body must be {{\"threshold\": NUMBER or null}}: {e.Message}"); }
        if (body?.Threshold is double t && !double.IsFinite(t)) return Error(400, $"threshold: {t} is not finite");
        return store.SetThreshold(name, body?.Threshold) ? Results.Json(MachineJson(store, store.Machine(name)!), Json) : UnknownMachine(name);
    }

    /// <summary>POST /machines/NAME/calibrate: normal clips as multipart/form-data; the machine's model is re-written with a
    /// threshold from their scores (as <c>nasd calibrate</c>) and replaces the current one; a threshold override is cleared.</summary>
    static async Task<IResult> Calibrate(string name, HttpRequest request, ServeStore store, ServeCompute compute, double? percentile)
    {
        if (store.Machine(name) is not { } m) return UnknownMachine(name);
        if (!request.HasFormContentType) return Error(400, $"calibrate {name}: send the normal clips as multipart/form-data (curl -F clip=@a.wav -F clip=@b.wav)");
        if (percentile is double p && !(p > 0 && p < 1)) return Error(400, $"calibrate {name}: percentile must be between 0 and 1, got {p}");
        string folder = Path.Combine(store.DataFolder, $"calibrate-{Guid.NewGuid():N}");
        try
        {
            var form = await request.ReadFormAsync();
            if (form.Files.Count == 0) return Error(400, $"calibrate {name}: no clips in the form");
            var files = new List<string>();
            try
            {
                Directory.CreateDirectory(folder);
                foreach (var (file, i) in form.Files.Select((f, i) => (f, i)))
                {
                    string path = Path.Combine(folder, $"{i:D5}-{Path.GetFileNameWithoutExtension(file.FileName)}.wav");
                    await using var target = File.Create(path);
                    await file.CopyToAsync(target);
                    files.Add(path);
                }
            }
            catch (IOException e) { return Error(507, $"calibrate {name}: the clips could not be stored: {e.Message}"); }
            string model = Path.Combine(store.ModelFolder, m.ModelFile), calibrated = Path.Combine(folder, "calibrated.safetensors");
            NativeASD.Detection.Detectors.ModelCalibration.Result result;
            try
            {
                var info = NativeASD.Detection.Detectors.DetectorFile.Read(model).Info;
                result = NativeASD.Detection.Detectors.ModelCalibration.Calibrate(model, files, percentile ?? info.Threshold.Percentile, calibrated,
                    compute.Backend, $"{files.Count} clip(s) posted to {name}");
            }
            catch (Exception e) when (e is IOException or ArgumentException)   // unreadable clips, clips the model cannot take, a damaged model
            {
                return Error(422, $"calibrate {name}: {e.Message.Replace(folder + Path.DirectorySeparatorChar, "", StringComparison.Ordinal)}");
            }
            var response = ImportModel(store, compute, name, await File.ReadAllBytesAsync(calibrated),
                (file, sha) => store.UpsertMachine(name, file, sha, null, m.WindowSeconds, m.HopSeconds, m.Consecutive), 200);
            return response is IStatusCodeHttpResult { StatusCode: 200 }
                ? Results.Json(new { machine = name, previous_threshold = result.Before.Threshold.Threshold, threshold = result.After.Threshold.Threshold, clips = result.Clips }, Json)
                : response;
        }
        finally { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); }
    }

    static double? Number(string? text) => text is null ? null
        : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : throw new FormatException($"'{text}' is not a number");

    static async Task<byte[]> ReadBody(HttpRequest request)
    {
        if (request.ContentLength > MaxUploadBytes) throw new BadHttpRequestException($"the body of {request.ContentLength} bytes is over the {MaxUploadBytes >> 20} MiB limit", 413);
        using var copy = new MemoryStream();
        var buffer = new byte[81920];
        int n;
        while ((n = await request.Body.ReadAsync(buffer)) > 0)
        {
            if (copy.Length + n > MaxUploadBytes) throw new BadHttpRequestException($"the body is over the {MaxUploadBytes >> 20} MiB limit", 413);
            copy.Write(buffer, 0, n);
        }
        return copy.ToArray();
    }

    // ---- audio ----------------------------------------------------------------------------------------------------

    /// <summary>The raw PCM format of a stream without a WAV header: ?rate=16000&amp;channels=1&amp;channel=0|mean (16-bit little-endian).</summary>
    static (PcmFormat Format, ChannelMix Mix)? RawFormat(HttpRequest request, out string? problem)
    {
        problem = null;
        int rate = 16000, channels = 1;
        if (request.Query["rate"] is { Count: > 0 } r && (!int.TryParse(r, CultureInfo.InvariantCulture, out rate) || rate < 1 || rate > 768_000))
            problem = $"rate must be a sample rate in Hz (1–768000), got '{r}'";
        else if (request.Query["channels"] is { Count: > 0 } c && (!int.TryParse(c, CultureInfo.InvariantCulture, out channels) || channels < 1 || channels > 64))
            problem = $"channels must be 1–64, got '{c}'";
        if (problem is not null) return null;
        try { return (PcmFormat.Pcm16(rate, channels), ChannelMix.Parse(request.Query["channel"].FirstOrDefault() ?? "0")); }
        catch (ArgumentException e) { problem = $"channel: {e.Message}"; return null; }
    }

    /// <summary>POST /machines/NAME/audio: a chunked body of WAV or raw PCM; the response streams the reading lines back and ends with a summary line.</summary>
    static async Task StreamOverHttp(string name, HttpContext context, ServeStore store, AudioIngest ingest)
    {
        if (store.Machine(name) is null) { await UnknownMachine(name).ExecuteAsync(context); return; }
        if (RawFormat(context.Request, out string? problem) is not { } raw) { await Error(400, problem!).ExecuteAsync(context); return; }
        // The engine's stream reader is synchronous; it runs on its own thread.
        context.Features.Get<IHttpBodyControlFeature>()!.AllowSynchronousIO = true;
        context.Features.Get<IHttpMaxRequestBodySizeFeature>()!.MaxRequestBodySize = null;
        context.Response.ContentType = "application/x-ndjson";
        var writer = new LineWriter(line => context.Response.WriteAsync(line + "\n", context.RequestAborted));
        var summary = await ingest.RunAsync(name, context.Request.Body, raw.Format, raw.Mix, writer.Post, context.RequestAborted);
        await writer.DrainAsync();
        if (summary.Error is not null && !context.Response.HasStarted) context.Response.StatusCode = StatusCodes.Status422UnprocessableEntity;
        await context.Response.WriteAsync(SummaryLine(summary) + "\n");
    }

    static string SummaryLine(IngestSummary s) => JsonSerializer.Serialize(new { end = true, samples = s.Samples, readings = s.Readings, error = s.Error }, Json);

    /// <summary>GET /machines/NAME/stream (WebSocket): binary messages of WAV or raw PCM in; text messages out, one reading line each, then a summary line.</summary>
    static async Task StreamOverWebSocket(string name, HttpContext context, ServeStore store, AudioIngest ingest)
    {
        if (!context.WebSockets.IsWebSocketRequest) { await Error(400, "this endpoint takes a WebSocket; POST audio to /machines/NAME/audio instead").ExecuteAsync(context); return; }
        if (store.Machine(name) is null) { await UnknownMachine(name).ExecuteAsync(context); return; }
        if (RawFormat(context.Request, out string? problem) is not { } raw) { await Error(400, problem!).ExecuteAsync(context); return; }
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var pipe = new Pipe();
        var sender = new LineWriter(line => socket.SendAsync(Encoding.UTF8.GetBytes(line), WebSocketMessageType.Text, true, context.RequestAborted));
        var receive = Task.Run(async () =>
        {
            var buffer = new byte[65536];
            try
            {
                while (true)
                {
                    var message = await socket.ReceiveAsync(buffer, context.RequestAborted);
                    if (message.MessageType == WebSocketMessageType.Close) break;
                    await pipe.Writer.WriteAsync(buffer.AsMemory(0, message.Count), context.RequestAborted);
                }
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException) { }
            await pipe.Writer.CompleteAsync();
        });
        using var input = pipe.Reader.AsStream();
        var summary = await ingest.RunAsync(name, input, raw.Format, raw.Mix, sender.Post, context.RequestAborted);
        await sender.DrainAsync();
        if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes(SummaryLine(summary)), WebSocketMessageType.Text, true, CancellationToken.None);
            string reason = summary.Error is null ? "end of stream" : Truncate(summary.Error, 120);
            await socket.CloseOutputAsync(summary.Error is null ? WebSocketCloseStatus.NormalClosure : WebSocketCloseStatus.InvalidPayloadData, reason, CancellationToken.None);
        }
        await receive;
    }

    /// <summary>WebSocket close reasons are at most 123 bytes; the full error is in the summary line.</summary>
    static string Truncate(string s, int bytes)
    {
        while (Encoding.UTF8.GetByteCount(s) > bytes) s = s[..^1];
        return s;
    }

    /// <summary>POST /machines/NAME/clips: one WAV clip, scored whole; an anomalous clip raises an alarm and is kept with it.</summary>
    static async Task<IResult> UploadClip(string name, HttpRequest request, ServeStore store, IGrainFactory grains)
    {
        if (store.Machine(name) is null) return UnknownMachine(name);
        byte[] bytes;
        try { bytes = await ReadBody(request); }
        catch (BadHttpRequestException e) { return Error(e.StatusCode, e.Message); }
        var info = await grains.GetGrain<IMachineGrain>(name).Describe();
        if (info.Error is not null) return Error(422, info.Error);
        float[] samples;
        try
        {
            using var stream = new MemoryStream(bytes);
            var reader = RawPcmReader.Open(stream, PcmFormat.Pcm16(info.SampleRate), default, info.SampleRate, $"clip for {name}");
            if (!reader.HasHeader) return Error(415, $"clip for {name}: not a WAV file (POST raw PCM streams to /machines/{name}/audio)");
            var all = new List<float>();
            var block = new float[8192];
            int n;
            while ((n = reader.Read(block)) > 0) all.AddRange(block.AsSpan(0, n));
            samples = [.. all];
        }
        catch (Exception e) when (e is AudioFormatException or ArgumentException or InvalidDataException or EndOfStreamException)
        {
            return Error(415, e.Message);
        }
        var result = await grains.GetGrain<IMachineGrain>(name).ScoreClip(samples);
        if (result.Error is not null) return Error(422, result.Error);
        return Results.Text(result.Lines[0], "application/json");
    }

    /// <summary>POST /machines/NAME/readings: reading lines of <c>nasd monitor --json</c> (one JSON object per line, with "threshold").</summary>
    static async Task<IResult> ReportReadings(string name, HttpRequest request, ServeStore store, IGrainFactory grains)
    {
        if (store.Machine(name) is null) return UnknownMachine(name);
        string body;
        using (var text = new StreamReader(request.Body)) body = await text.ReadToEndAsync();
        var readings = new List<ReportedReading>();
        int lineNumber = 0;
        foreach (var line in body.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            lineNumber++;
            try
            {
                var r = JsonDocument.Parse(line).RootElement;
                double score = r.GetProperty("score").GetDouble();
                if (!double.IsFinite(score)) return Error(400, $"readings line {lineNumber}: score is not finite");
                readings.Add(new ReportedReading(r.GetProperty("time").GetDouble(), score, r.GetProperty("decision").GetInt32() == 1,
                    r.GetProperty("alarm").GetBoolean(), r.GetProperty("consecutive").GetInt32(),
                    r.TryGetProperty("latency_ms", out var l) ? l.GetDouble() : null,
                    r.TryGetProperty("band", out var b) ? b.GetRawText() : null,
                    r.TryGetProperty("threshold", out var t) ? t.GetDouble() : double.NaN));
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                return Error(400, $"readings line {lineNumber}: not a reading of 'nasd monitor' ({{\"time\",\"score\",\"decision\",\"alarm\",\"consecutive\"}}): {e.Message}");
            }
        }
        if (readings.Any(r => double.IsNaN(r.Threshold))) return Error(400, "readings: each line needs \"threshold\" (nasd monitor --report-to adds it)");
        var result = await grains.GetGrain<IMachineGrain>(name).Report([.. readings]);
        return result.Error is null ? Results.Json(new { stored = readings.Count }, Json, statusCode: 202) : UnknownMachine(name);
    }

    // ---- live events ----------------------------------------------------------------------------------------------

    /// <summary>GET /events: server-sent events "reading", "alarm" and "machines", read from the store, so a page on any server of a cluster sees every machine.</summary>
    static async Task LiveEvents(HttpContext context, ServeStore store)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        long lastReading = store.LastReadingId(), lastAlarm = store.LastAlarmId();
        string machines = "";
        var cancel = context.RequestAborted;
        try
        {
            while (!cancel.IsCancellationRequested)
            {
                var sb = new StringBuilder();
                foreach (var r in store.Readings(null, 0, lastReading, 5000))
                {
                    sb.Append("event: reading\ndata: ").Append(JsonSerializer.Serialize(ReadingJson(r), Json)).Append("\n\n");
                    lastReading = r.Id;
                }
                foreach (var a in store.Alarms(null, false, lastAlarm).OrderBy(a => a.Id))
                {
                    sb.Append("event: alarm\ndata: ").Append(JsonSerializer.Serialize(AlarmJson(a), Json)).Append("\n\n");
                    lastAlarm = a.Id;
                }
                string now = JsonSerializer.Serialize(store.Machines().Select(m => MachineJson(store, m)), Json);
                if (now != machines) sb.Append("event: machines\ndata: ").Append(machines = now).Append("\n\n");
                if (sb.Length == 0) sb.Append(": keep-alive\n\n");
                await context.Response.WriteAsync(sb.ToString(), cancel);
                await context.Response.Body.FlushAsync(cancel);
                await Task.Delay(500, cancel);
            }
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>Reading lines from the ingest thread, sent in order by one writer task (a socket or response takes one write at a time).</summary>
    sealed class LineWriter(Func<string, Task> write)
    {
        readonly System.Threading.Channels.Channel<string> lines = System.Threading.Channels.Channel.CreateUnbounded<string>(new() { SingleReader = true });
        Task? pump;

        public void Post(string line)
        {
            pump ??= Task.Run(Pump);
            lines.Writer.TryWrite(line);
        }

        async Task Pump()
        {
            await foreach (var line in lines.Reader.ReadAllAsync())
            {
                try { await write(line); }
                catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException) { }
            }
        }

        public async Task DrainAsync()
        {
            lines.Writer.TryComplete();
            if (pump is not null) await pump;
        }
    }
}
