using System.Text.Json;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using NativeASD.Engine.Audio;

namespace NativeASD.Tests.Serve.Api;

/// <summary>One server for the API tests (each test uses machines of its own).</summary>
public sealed class ServeApiServer : IAsyncLifetime
{
    public ServeKit.InProcessServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await ServeKit.InProcessServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>The HTTP API against a real Kestrel on a loopback port and a real SQLite file.</summary>
public sealed class ServeApiTests(ServeApiServer fixture) : IClassFixture<ServeApiServer>
{
    readonly ServeKit.InProcessServer server = fixture.Server;
    readonly ServeKit.Material clips = ServeKit.Clips;

    [Fact]
    public async Task A_machine_streamed_over_a_websocket_scores_like_nasd_monitor_and_keeps_its_alarm_with_the_clip()
    {
        Assert.Equal(HttpStatusCode.Created, (await server.AddMachine("fan-1", clips.Model)).StatusCode);
        var lines = await ServeKit.StreamAsync(server.Url, "fan-1", ServeKit.PcmOf(clips.LongAnomalous), realTime: false);

        var summary = ServeKit.Json(lines[^1]);
        Assert.True(summary.GetProperty("end").GetBoolean());
        Assert.Equal(JsonValueKind.Null, summary.GetProperty("error").ValueKind);
        var readings = lines[..^1].Select(ServeKit.Json).ToList();
        Assert.Equal(15, readings.Count);   // 16 s, window 2 s, hop 1 s

        // The same stream through nasd monitor on this machine gives the same readings.
        var local = NasdProcess.Run("monitor", "--model", clips.Model, "--input", clips.LongAnomalous, "--window", "2s", "--hop", "1s");
        Assert.Equal(0, local.ExitCode);
        var expected = local.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(ServeKit.Json).ToList();
        Assert.Equal(expected.Count, readings.Count);
        for (int i = 0; i < readings.Count; i++)
        {
            Assert.Equal(expected[i].GetProperty("time").GetDouble(), readings[i].GetProperty("time").GetDouble());
            Assert.Equal(expected[i].GetProperty("score").GetDouble(), readings[i].GetProperty("score").GetDouble(), 9);
            Assert.Equal(expected[i].GetProperty("alarm").GetBoolean(), readings[i].GetProperty("alarm").GetBoolean());
        }
        int edges = readings.Count(r => r.GetProperty("alarm").GetBoolean() && r.GetProperty("consecutive").GetInt32() == 3);
        Assert.True(edges >= 1, "a 3×-severity fault should raise an alarm");

        var alarms = ServeKit.Json(await server.Http.GetStringAsync($"{server.Url}/alarms?machine=fan-1")).EnumerateArray().ToList();
        Assert.Equal(edges, alarms.Count);
        var clip = await server.Http.GetByteArrayAsync($"{server.Url}{alarms[0].GetProperty("clip").GetString()}");
        string path = Path.Combine(server.Data, "clip.wav");
        await File.WriteAllBytesAsync(path, clip);
        var wav = AudioFile.Read(path);
        Assert.Equal(2 * 16000, wav.Samples.Length);   // the window that raised it

        server.Store.FlushReadings();
        var stored = ServeKit.Json(await server.Http.GetStringAsync($"{server.Url}/machines/fan-1/readings?minutes=5"));
        Assert.Equal(15, stored.GetArrayLength());
        var ack = await server.Http.PostAsync($"{server.Url}/alarms/{alarms[0].GetProperty("id").GetInt64()}/ack?by=test", null);
        Assert.Equal(HttpStatusCode.OK, ack.StatusCode);
        Assert.Equal("test", ServeKit.Json(await ack.Content.ReadAsStringAsync()).GetProperty("acknowledged_by").GetString());
        Assert.Equal(edges - 1, ServeKit.Json(await server.Http.GetStringAsync($"{server.Url}/alarms?open=true&machine=fan-1")).GetArrayLength());
    }

    [Fact]
    public async Task Audio_posted_as_a_chunked_wav_body_streams_back_its_readings_and_a_summary()
    {
        await server.AddMachine("fan-2", clips.Model);
        using var content = new StreamContent(File.OpenRead(clips.LongNormal));   // no length: sent chunked
        var response = await server.Http.PostAsync($"{server.Url}/machines/fan-2/audio", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(16, lines.Length);
        Assert.Equal(16 * 16000, ServeKit.Json(lines[^1]).GetProperty("samples").GetInt64());
        Assert.Equal("idle", ServeKit.Json(await server.Http.GetStringAsync($"{server.Url}/machines/fan-2")).GetProperty("state").GetString());
    }

    [Fact]
    public async Task An_uploaded_clip_is_scored_whole_and_an_anomalous_one_raises_an_alarm_with_it()
    {
        await server.AddMachine("fan-3", clips.Model);
        var normal = ServeKit.Json(await (await server.Http.PostAsync($"{server.Url}/machines/fan-3/clips", new ByteArrayContent(File.ReadAllBytes(clips.Normal)))).Content.ReadAsStringAsync());
        var anomalous = ServeKit.Json(await (await server.Http.PostAsync($"{server.Url}/machines/fan-3/clips", new ByteArrayContent(File.ReadAllBytes(clips.LongAnomalous)))).Content.ReadAsStringAsync());
        Assert.Equal(0, normal.GetProperty("decision").GetInt32());
        Assert.Equal(1, anomalous.GetProperty("decision").GetInt32());
        var alarms = ServeKit.Json(await server.Http.GetStringAsync($"{server.Url}/alarms?machine=fan-3"));
        Assert.Equal(1, alarms.GetArrayLength());
        Assert.Equal((44 + 16 * 16000 * 2), (await server.Http.GetByteArrayAsync($"{server.Url}/alarms/{alarms[0].GetProperty("id").GetInt64()}/clip")).Length);
    }

    [Fact]
    public async Task A_replaced_model_and_a_new_threshold_take_effect_without_a_restart()
    {
        await server.AddMachine("fan-4", clips.Model);
        var first = ServeKit.Json(await (await server.Http.PostAsync($"{server.Url}/machines/fan-4/clips", new ByteArrayContent(File.ReadAllBytes(clips.LongAnomalous)))).Content.ReadAsStringAsync());
        Assert.Equal(1, first.GetProperty("decision").GetInt32());

        var set = await server.Http.PostAsync($"{server.Url}/machines/fan-4/threshold", new StringContent("{\"threshold\": 1e9}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        var second = ServeKit.Json(await (await server.Http.PostAsync($"{server.Url}/machines/fan-4/clips", new ByteArrayContent(File.ReadAllBytes(clips.LongAnomalous)))).Content.ReadAsStringAsync());
        Assert.Equal(0, second.GetProperty("decision").GetInt32());

        using var model = new ByteArrayContent(File.ReadAllBytes(clips.DefaultModel));
        model.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        var replaced = await server.Http.PutAsync($"{server.Url}/machines/fan-4/model", model);
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        Assert.StartsWith("fan-4-", ServeKit.Json(await replaced.Content.ReadAsStringAsync()).GetProperty("model").GetString());
        var third = ServeKit.Json(await (await server.Http.PostAsync($"{server.Url}/machines/fan-4/clips", new ByteArrayContent(File.ReadAllBytes(clips.LongAnomalous)))).Content.ReadAsStringAsync());
        Assert.NotEqual(second.GetProperty("score").GetDouble(), third.GetProperty("score").GetDouble());   // the default model's score
    }

    [Fact]
    public async Task Calibrating_from_posted_normal_clips_replaces_the_threshold_as_nasd_calibrate_does()
    {
        await server.AddMachine("fan-10", clips.Model, "window=2&hop=1&threshold=5");
        using var form = new MultipartFormDataContent();
        foreach (var wav in Directory.GetFiles(Path.Combine(clips.Folder, "short/fan/train")))
            form.Add(new ByteArrayContent(File.ReadAllBytes(wav)), "clip", Path.GetFileName(wav));
        var response = await server.Http.PostAsync($"{server.Url}/machines/fan-10/calibrate?percentile=0.5", form);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        var result = ServeKit.Json(text);
        Assert.Equal(8, result.GetProperty("clips").GetInt32());
        var model = NativeASD.Detection.Detectors.DetectorFile.Read(clips.Model).Info;
        Assert.Equal(model.Threshold.Threshold, result.GetProperty("previous_threshold").GetDouble());
        // The median of training-clip scores lies below the cross-fitted 90 % point.
        Assert.True(result.GetProperty("threshold").GetDouble() < model.Threshold.Threshold, text);
        var machine = ServeKit.Json(await server.Http.GetStringAsync($"{server.Url}/machines/fan-10"));
        Assert.Equal(JsonValueKind.Null, machine.GetProperty("threshold_override").ValueKind);
        var stored = NativeASD.Detection.Detectors.DetectorFile.Read(Path.Combine(server.Store.ModelFolder, machine.GetProperty("model").GetString()!)).Info;
        Assert.Equal(result.GetProperty("threshold").GetDouble(), stored.Threshold.Threshold);
        Assert.Equal("calibration", stored.ThresholdOrigin.Source);

        using var notWav = new MultipartFormDataContent { { new ByteArrayContent(new byte[100]), "clip", "x.wav" } };
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await server.Http.PostAsync($"{server.Url}/machines/fan-10/calibrate", notWav)).StatusCode);
    }

    [Fact]
    public async Task Bad_requests_get_a_clear_http_error()
    {
        async Task<(HttpStatusCode, string)> Post(string path, HttpContent? body)
        {
            var r = await server.Http.PostAsync($"{server.Url}{path}", body);
            return (r.StatusCode, await r.Content.ReadAsStringAsync());
        }
        var (status, text) = await Post("/machines/nope/clips", new ByteArrayContent(File.ReadAllBytes(clips.Normal)));
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("no machine named 'nope'", ServeKit.Json(text).GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await Post("/machines/nope/audio", new ByteArrayContent([0, 0]))).Item1);
        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.GetAsync($"{server.Url}/machines/nope")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Post("/alarms/999999/ack", null)).Item1);

        (status, text) = await Post("/machines?name=bad/name", new ByteArrayContent(File.ReadAllBytes(clips.Model)));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        (status, text) = await Post("/machines?name=broken", new ByteArrayContent(Encoding.ASCII.GetBytes("not a model at all")));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains("the model for broken", ServeKit.Json(text).GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.GetAsync($"{server.Url}/machines/broken")).StatusCode);   // never registered
        (status, _) = await Post("/machines", new StringContent("{\"name\": ", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        (status, _) = await Post("/machines?name=w&window=2&hop=5", new ByteArrayContent(File.ReadAllBytes(clips.Model)));
        Assert.Equal(HttpStatusCode.BadRequest, status);

        await server.AddMachine("fan-5", clips.Model);
        (status, text) = await Post("/machines/fan-5/clips", new ByteArrayContent(new byte[1000]));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        (status, text) = await Post("/machines/fan-5/audio?rate=abc", new ByteArrayContent([0, 0]));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        (status, text) = await Post("/machines/fan-5/readings", new StringContent("{\"time\": 1}\n"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("readings line 1", ServeKit.Json(text).GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_stream_in_the_wrong_format_is_refused_and_the_machine_shows_why()
    {
        await server.AddMachine("fan-6", clips.Model);
        // A WAV header that announces 12-bit samples: no reader takes it.
        var wav = File.ReadAllBytes(clips.Normal);
        wav[34] = 12;
        var response = await server.Http.PostAsync($"{server.Url}/machines/fan-6/audio", new ByteArrayContent(wav));
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string error = ServeKit.Json(lines[^1]).GetProperty("error").GetString()!;
        Assert.Contains("fan-6", error);
        var machine = ServeKit.Json(await server.Http.GetStringAsync($"{server.Url}/machines/fan-6"));
        Assert.Equal("input-error", machine.GetProperty("state").GetString());
        Assert.Equal(error, machine.GetProperty("state_message").GetString());
    }

    [Fact]
    public async Task A_model_file_that_stops_loading_shows_as_the_machine_state_instead_of_silence()
    {
        await server.AddMachine("fan-7", clips.Model);
        var record = server.Store.Machine("fan-7")!;
        File.WriteAllText(Path.Combine(server.Store.ModelFolder, record.ModelFile), "damaged");
        server.Store.SetThreshold("fan-7", null);   // a new revision: the grain reloads
        var response = await server.Http.PostAsync($"{server.Url}/machines/fan-7/clips", new ByteArrayContent(File.ReadAllBytes(clips.Normal)));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var machine = ServeKit.Json(await server.Http.GetStringAsync($"{server.Url}/machines/fan-7"));
        Assert.Equal("model-error", machine.GetProperty("state").GetString());
        Assert.Contains("failed to load", machine.GetProperty("state_message").GetString());
    }

    [Fact]
    public async Task Monitor_to_forwards_a_stream_and_report_to_sends_readings_scored_at_the_edge()
    {
        await server.AddMachine("fan-8", clips.Model);
        var to = NasdProcess.Run("monitor", "--to", server.Url, "--machine", "fan-8", "--input", clips.LongAnomalous);
        Assert.True(to.ExitCode == 0, to.Stderr);
        Assert.Equal(15, to.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);

        await server.AddMachine("fan-9", clips.Model);
        var report = NasdProcess.Run("monitor", "--model", clips.Model, "--input", clips.LongAnomalous, "--window", "2s", "--hop", "1s",
            "--report-to", server.Url, "--machine", "fan-9");
        Assert.True(report.ExitCode == 0, report.Stderr);
        server.Store.FlushReadings();
        var stored = server.Store.Readings("fan-9", 0);
        Assert.Equal(15, stored.Count);
        Assert.All(stored, r => Assert.Equal("report", r.Source));
        Assert.Single(server.Store.Alarms("fan-9"));
        Assert.False(server.Store.Alarms("fan-9")[0].HasClip);

        var unknown = NasdProcess.Run("monitor", "--to", server.Url, "--machine", "nope", "--input", clips.Normal);
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("no machine named 'nope'", unknown.Stderr);
        var bad = NasdProcess.Run("monitor", "--to", server.Url, "--machine", "fan-8", "--model", clips.Model);
        Assert.Equal(1, bad.ExitCode);
    }

    [Fact]
    public async Task The_default_model_serves_a_stream()
    {
        await server.AddMachine("fan-default", clips.DefaultModel);
        var lines = await ServeKit.StreamAsync(server.Url, "fan-default", ServeKit.PcmOf(clips.LongNormal)[..(6 * 32000)], realTime: false);
        Assert.Equal(JsonValueKind.Null, ServeKit.Json(lines[^1]).GetProperty("error").ValueKind);
        Assert.Equal(5, lines.Count - 1);
        Assert.All(lines[..^1], l => Assert.True(double.IsFinite(ServeKit.Json(l).GetProperty("score").GetDouble())));
    }
}
