using System.Net.Http.Headers;

namespace NativeASD.Tests.Serve.Store;

/// <summary>Alarms survive a crash: the server is killed (SIGKILL) the moment its client sees an alarm.</summary>
public sealed class CrashTests
{
    [Fact]
    public async Task Every_alarm_is_in_the_store_with_its_clip_after_a_kill_right_after_it()
    {
        var clips = ServeKit.Clips;
        string data = ServeKit.TempFolder("crash");
        double alarmScore = double.NaN;
        using (var server = new ServeKit.ServerProcess(data))
        {
            await server.WaitReadyAsync();
            using var http = new HttpClient();
            using var model = new ByteArrayContent(File.ReadAllBytes(clips.Model));
            model.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            Assert.True((await http.PostAsync($"{server.Url}/machines?name=pump&window=2&hop=1", model)).IsSuccessStatusCode);
            try
            {
                await ServeKit.StreamAsync(server.Url, "pump", ServeKit.PcmOf(clips.LongAnomalous), realTime: false, line =>
                {
                    var r = ServeKit.Json(line);
                    if (!r.TryGetProperty("alarm", out var alarm) || !alarm.GetBoolean() || !double.IsNaN(alarmScore)) return;
                    alarmScore = r.GetProperty("score").GetDouble();
                    server.Kill();
                });
            }
            catch (Exception e) when (e is System.Net.WebSockets.WebSocketException or IOException or OperationCanceledException) { }
        }
        Assert.False(double.IsNaN(alarmScore), "the stream should have raised an alarm");

        using var restarted = new ServeKit.ServerProcess(data);
        await restarted.WaitReadyAsync();
        using var client = new HttpClient();
        var alarms = ServeKit.Json(await client.GetStringAsync($"{restarted.Url}/alarms?machine=pump")).EnumerateArray().ToList();
        var kept = Assert.Single(alarms, a => a.GetProperty("score").GetDouble() == alarmScore);
        var clip = await client.GetByteArrayAsync($"{restarted.Url}{kept.GetProperty("clip").GetString()}");
        Assert.Equal(44 + 2 * 16000 * 2, clip.Length);
        Assert.Equal("RIFF"u8.ToArray(), clip[..4]);
    }
}
