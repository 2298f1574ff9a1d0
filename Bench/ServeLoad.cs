using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text.Json;
using NativeASD.Detection.Synth;
using NativeASD.Engine.Audio;
using NativeASD.Serve.Api;

namespace NativeASD.Bench;

/// <summary>
/// <c>serve-load NASD_DLL OUTDIR MACHINES SECONDS [SILOS=1]</c>: how many machines <c>nasd serve</c> keeps up with.
/// Fits the default model (<c>nasd fit</c>, shipped backbone, metric head) on 8 generated 10 s fan clips, starts one
/// server (or SILOS servers forming a cluster over a SQLite membership table), registers MACHINES machines (window
/// 10 s, hop 1 s) and streams generated normal fan audio to each from a loopback WebSocket client at real time, in
/// 0.1 s messages, for SECONDS. Each reading's latency is the time from sending the last sample of its window to
/// receiving the reading; a dropped reading is one of the SECONDS − 9 a stream must get that never came.
/// </summary>
public static class ServeLoad
{
    const int Rate = 16000, Chunk = 1600;

    public static void Run(string[] args)
    {
        if (args.Length < 4) throw new ArgumentException("usage: serve-load NASD_DLL OUTDIR MACHINES SECONDS [SILOS=1]");
        string nasd = Path.GetFullPath(args[0]), dir = Path.GetFullPath(args[1]);
        int machines = int.Parse(args[2], CultureInfo.InvariantCulture), seconds = int.Parse(args[3], CultureInfo.InvariantCulture);
        int silos = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 1;
        Directory.CreateDirectory(dir);
        string model = Prepare(nasd, dir);
        var audio = NormalAudio(dir, seconds);

        string data = Path.Combine(dir, $"data-{machines}x{silos}-{DateTime.UtcNow:HHmmss}");
        Directory.CreateDirectory(data);
        var servers = new List<(Process Process, string Url)>();
        try
        {
            for (int s = 0; s < silos; s++) servers.Add(StartServer(nasd, data, s, silos > 1));
            using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };
            var bytes = File.ReadAllBytes(model);
            for (int m = 0; m < machines; m++)
            {
                using var body = new ByteArrayContent(bytes);
                body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                var r = http.PostAsync($"{servers[0].Url}/machines?name=m{m}&window=10&hop=1", body).GetAwaiter().GetResult();
                if (!r.IsSuccessStatusCode) throw new InvalidOperationException($"registering m{m}: {r.Content.ReadAsStringAsync().Result}");
            }
            var cpuBefore = servers.Select(s => s.Process.TotalProcessorTime).ToList();
            var (idleBefore, totalBefore) = CpuTimes();
            var clock = Stopwatch.StartNew();
            var results = Task.WhenAll(Enumerable.Range(0, machines).Select(m =>
                Stream(servers[m % silos].Url, $"m{m}", audio, (m * 7 * Rate) % (audio.Length - seconds * Rate * 2 + 1), seconds, clock))).GetAwaiter().GetResult();
            double wall = clock.Elapsed.TotalSeconds;
            var (idleAfter, totalAfter) = CpuTimes();
            double serverCpu = servers.Select((s, i) => (s.Process.TotalProcessorTime - cpuBefore[i]).TotalSeconds).Sum();
            double busy = 1 - (double)(idleAfter - idleBefore) / (totalAfter - totalBefore);

            var latencies = results.SelectMany(r => r.Latencies).Order().ToList();
            var steady = results.SelectMany(r => r.Latencies.Skip(1)).Order().ToList();
            double SteadyP99 = steady.Count == 0 ? double.NaN : steady[Math.Min(steady.Count - 1, (int)Math.Ceiling(0.99 * steady.Count) - 1)];
            int expected = machines * (seconds - 9), received = latencies.Count;
            double P(double q) => latencies.Count == 0 ? double.NaN : latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(q * latencies.Count) - 1)];
            var errors = results.Where(r => r.Error is not null).Select(r => r.Error).Distinct().ToList();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"machines {machines}, silos {silos}, {seconds} s: readings {received}/{expected} (dropped {expected - received}), latency p50 {P(0.5) * 1000:0} ms, p99 {P(0.99) * 1000:0} ms (without each stream's first reading {SteadyP99 * 1000:0} ms), max {P(1) * 1000:0} ms; alarms raised {results.Sum(r => r.Alarms)}; server CPU {serverCpu / wall:0.00} cores, all CPUs busy {busy:P0} ({Environment.ProcessorCount} cores)"));
            // On a shared machine the server gets what the others leave: its CPU time per reading gives the capacity it
            // would have on cores of its own (every machine needs one reading a second).
            double perReading = serverCpu / Math.Max(1, received);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  server CPU per reading {perReading * 1000:0} ms: {Environment.ProcessorCount} free cores would keep up with about {Environment.ProcessorCount / perReading:0} machines"));
            foreach (var e in errors) Console.WriteLine($"  stream error: {e}");
        }
        finally
        {
            foreach (var (p, _) in servers) { if (!p.HasExited) p.Kill(); p.WaitForExit(); }
        }
    }

    /// <summary>Training clips and the default model, made once per OUTDIR.</summary>
    static string Prepare(string nasd, string dir)
    {
        string model = Path.Combine(dir, "fan-default.safetensors");
        if (File.Exists(model)) return model;
        var options = new SynthOptions(Seed: 21, Seconds: 10);
        var generator = new MachineSoundGenerator(options);
        string train = Directory.CreateDirectory(Path.Combine(dir, "train")).FullName;
        for (int i = 0; i < 8; i++)
        {
            var clip = new SynthClip("fan", 0, "train", i, AnomalyKind.None);
            WavWriter.Write(Path.Combine(train, clip.FileName), generator.Generate(clip), options.SampleRate);
        }
        var fit = Process.Start(new ProcessStartInfo("dotnet", ["exec", nasd, "fit", "--train", train, "--out", model, "--no-cache"]))!;
        fit.WaitForExit();
        if (fit.ExitCode != 0) throw new InvalidOperationException("nasd fit failed");
        return model;
    }

    /// <summary>Normal fan sound, long enough for every machine to start at its own offset: 16-bit PCM bytes.</summary>
    static byte[] NormalAudio(string dir, int seconds)
    {
        var options = new SynthOptions(Seed: 21, Seconds: 10);
        var generator = new MachineSoundGenerator(options);
        int clips = (2 * seconds + 9) / 10 + 1;
        var pcm = new byte[clips * 10 * Rate * 2];
        for (int i = 0; i < clips; i++)
        {
            var samples = generator.Generate(new SynthClip("fan", 0, "stream", i, AnomalyKind.None));
            RawPcmReader.Encode(samples, pcm.AsSpan(i * 10 * Rate * 2, samples.Length * 2));
        }
        return pcm;
    }

    static (Process, string) StartServer(string nasd, string data, int index, bool cluster)
    {
        string url = $"http://127.0.0.1:{5300 + index}";
        var arguments = new List<string> { "exec", nasd, "serve", "--data", data, "--urls", url, "--silo-port", $"{11300 + index}", "--gateway-port", $"{30300 + index}" };
        if (cluster) arguments.AddRange(["--cluster", "adonet", "--connection", $"Data Source={Path.Combine(data, "cluster.db")}"]);
        var psi = new ProcessStartInfo("dotnet", arguments) { RedirectStandardError = true, RedirectStandardOutput = true };
        var process = Process.Start(psi)!;
        process.ErrorDataReceived += (_, e) => { if (e.Data is string line && !line.Contains(" info: ")) Console.Error.WriteLine($"  [{url}] {line}"); };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (var until = DateTime.UtcNow.AddSeconds(90); DateTime.UtcNow < until; Thread.Sleep(250))
        {
            try { if (http.GetAsync($"{url}/health").GetAwaiter().GetResult().IsSuccessStatusCode) return (process, url); }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
        }
        throw new TimeoutException($"nasd serve at {url} did not start");
    }

    sealed record StreamResult(List<double> Latencies, int Alarms, string? Error);

    /// <summary>One machine: <paramref name="seconds"/> of audio from byte offset <paramref name="start"/>, at real time.</summary>
    static async Task<StreamResult> Stream(string url, string machine, byte[] pcm, int start, int seconds, Stopwatch clock)
    {
        start -= start % 2;
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"{url.Replace("http://", "ws://")}/machines/{machine}/stream?rate={Rate}"), CancellationToken.None);
        int chunks = seconds * Rate / Chunk;
        var sentAt = new double[chunks];
        var latencies = new List<double>();
        int alarms = 0;
        string? error = null;
        var receive = Task.Run(async () =>
        {
            string? broken = await StreamLines.ReceiveAsync(socket, line =>
            {
                double now = clock.Elapsed.TotalSeconds;
                var json = JsonDocument.Parse(line).RootElement;
                if (json.TryGetProperty("end", out _))
                {
                    if (json.GetProperty("error").ValueKind == JsonValueKind.String) error = json.GetProperty("error").GetString();
                    return;
                }
                int last = (int)Math.Round(json.GetProperty("time").GetDouble() * Rate / Chunk) - 1;   // the chunk that completed the window
                latencies.Add(now - sentAt[last]);
                if (json.GetProperty("alarm").GetBoolean() && json.GetProperty("consecutive").GetInt32() == 3) alarms++;   // raised (and explained) here
            });
            if (broken is not null) error ??= $"the server broke the stream: {broken}";
        });
        double t0 = clock.Elapsed.TotalSeconds;
        for (int i = 0; i < chunks; i++)
        {
            double due = t0 + 0.1 * i - clock.Elapsed.TotalSeconds;
            if (due > 0) await Task.Delay(TimeSpan.FromSeconds(due));
            sentAt[i] = clock.Elapsed.TotalSeconds;
            if (receive.IsCompleted) break;
            await socket.SendAsync(pcm.AsMemory(start + i * Chunk * 2, Chunk * 2), WebSocketMessageType.Binary, true, CancellationToken.None);
        }
        if (socket.State == WebSocketState.Open) await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "end", CancellationToken.None);
        await receive;
        return new StreamResult(latencies, alarms, error);
    }

    /// <summary>Idle and total jiffies of all CPUs (/proc/stat): how busy the whole machine was, other users included.</summary>
    static (long Idle, long Total) CpuTimes()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..].Select(long.Parse).ToArray();
        return (fields[3] + fields[4], fields.Sum());
    }
}
