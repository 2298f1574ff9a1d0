using System.Text.Json;
using Xunit.Abstractions;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;

namespace NativeASD.Tests.Serve.Cluster;

/// <summary>Two <c>nasd serve</c> processes form one cluster over a SQLite membership table; one is killed (SIGKILL)
/// while machines stream; the machines it held carry on on the other, with no reading and no alarm lost.</summary>
public sealed class TwoSiloTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Machines_of_a_killed_server_resume_on_the_other_within_10_s_without_losing_readings_or_alarms()
    {
        var clips = ServeKit.Clips;
        string data = ServeKit.TempFolder("cluster");
        string[] Cluster(int silo, int gateway) =>
            ["--cluster", "adonet", "--connection", $"Data Source={Path.Combine(data, "cluster.db")}", "--silo-port", $"{silo}", "--gateway-port", $"{gateway}"];
        using var a = new ServeKit.ServerProcess(data, Cluster(ServeKit.FreePort(), ServeKit.FreePort()));
        await a.WaitReadyAsync();
        using var b = new ServeKit.ServerProcess(data, Cluster(ServeKit.FreePort(), ServeKit.FreePort()));
        await b.WaitReadyAsync();

        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(1) };
        string[] machines = ["m0", "m1", "m2", "m3"];
        foreach (var m in machines)
        {
            using var model = new ByteArrayContent(File.ReadAllBytes(clips.Model));
            model.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            Assert.True((await http.PostAsync($"{a.Url}/machines?name={m}&window=2&hop=1", model)).IsSuccessStatusCode);
        }
        async Task<string> Where(string server, string m) => ServeKit.Json(await http.GetStringAsync($"{server}/machines/{m}/where")).GetProperty("silo").GetString()!;
        // m2 and m3 are first asked for on B, so their grains live there; all four stream in through A.
        string siloB = await Where(b.Url, "m2");
        await Where(b.Url, "m3");
        string siloA = await Where(a.Url, "m0");
        Assert.NotEqual(siloA, siloB);
        Assert.Equal(siloB, await Where(a.Url, "m3"));

        var arrivals = new ConcurrentDictionary<string, List<(double Wall, double Time, bool Edge)>>();
        var clock = Stopwatch.StartNew();
        var pcm = ServeKit.PcmOf(clips.LongAnomalous);
        var streams = machines.Select(m => ServeKit.StreamAsync(a.Url, m, pcm, realTime: true, line =>
        {
            var r = ServeKit.Json(line);
            if (!r.TryGetProperty("time", out var time)) return;
            var list = arrivals.GetOrAdd(m, _ => []);
            lock (list) list.Add((clock.Elapsed.TotalSeconds, time.GetDouble(), r.GetProperty("alarm").GetBoolean() && r.GetProperty("consecutive").GetInt32() == 3));
        })).ToList();
        await Task.Delay(TimeSpan.FromSeconds(5.5));
        double killedAt = clock.Elapsed.TotalSeconds;
        b.Kill();
        var results = await Task.WhenAll(streams);

        foreach (var m in machines)
        {
            Assert.True(ServeKit.Json(results[Array.IndexOf(machines, m)][^1]).GetProperty("error").ValueKind == JsonValueKind.Null, $"{m}: {results[Array.IndexOf(machines, m)][^1]}\n{a.Log}");
            var got = arrivals[m];
            // Every hop of the 16 s stream has its reading, once, in order: 2, 3, …, 16 s.
            Assert.Equal(Enumerable.Range(2, 15).Select(t => (double)t), got.Select(g => g.Time));
            var gaps = got.Zip(got.Skip(1), (x, y) => y.Wall - x.Wall).ToList();
            output.WriteLine($"{m}: longest pause between readings {gaps.Max():0.00} s (B killed at {killedAt:0.0} s)");
            Assert.True(gaps.Max() <= 10, $"{m}: readings stopped for {gaps.Max():0.0} s after the kill at {killedAt:0.0} s");
        }
        Assert.Equal(siloA, await Where(a.Url, "m2"));   // moved

        // Every alarm a client saw is in the store (a grain killed mid-call may have stored one the client never saw).
        await Task.Delay(TimeSpan.FromSeconds(1));
        foreach (var m in machines)
        {
            int seen = arrivals[m].Count(g => g.Edge);
            int stored = ServeKit.Json(await http.GetStringAsync($"{a.Url}/alarms?machine={m}")).GetArrayLength();
            Assert.True(stored >= seen && seen >= 1, $"{m}: {seen} alarm(s) seen, {stored} stored");
        }
    }
}
