using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using NativeASD.Serve;
using NativeASD.Serve.Api;
using NativeASD.Serve.Store;

namespace NativeASD.Tests.Support;

/// <summary>What the <c>nasd serve</c> tests share: a small model fitted on synthetic clips, servers in this process or as
/// child processes on loopback ports, and a streaming client.</summary>
public static class ServeKit
{
    /// <summary>A log-mel Mahalanobis model fitted on 2 s synthetic fan clips (window 2 s), clips to stream, and the default model.</summary>
    public sealed record Material(string Folder, string Model, string DefaultModel, string Normal, string Anomalous, string LongAnomalous, string LongNormal);

    static readonly Lazy<Material> material = new(Make);

    public static Material Clips => material.Value;

    static Material Make()
    {
        string folder = Path.Combine(Path.GetTempPath(), $"nasd-serve-tests-{Environment.ProcessId}");
        Directory.CreateDirectory(folder);
        Check(NasdProcess.Run("synth", "--out", Path.Combine(folder, "short"), "--types", "fan", "--ids", "1", "--train", "8", "--test", "1", "--seconds", "2", "--seed", "3"));
        Check(NasdProcess.Run("synth", "--out", Path.Combine(folder, "long"), "--types", "fan", "--ids", "1", "--train", "1", "--test", "1", "--seconds", "16", "--seed", "4", "--severity", "3"));
        string model = Path.Combine(folder, "fan.safetensors"), defaultModel = Path.Combine(folder, "fan-default.safetensors");
        Check(NasdProcess.Run("fit", "--train", Path.Combine(folder, "short/fan/train"), "--out", model, "--detector", "mahalanobis", "--no-cache"));
        Check(NasdProcess.Run("fit", "--train", Path.Combine(folder, "short/fan/train"), "--out", defaultModel, "--no-cache"));
        return new Material(folder, model, defaultModel,
            Path.Combine(folder, "short/fan/test/normal_id_00_00000000.wav"), Path.Combine(folder, "short/fan/test/anomaly_id_00_00000000.wav"),
            Path.Combine(folder, "long/fan/test/anomaly_id_00_00000000.wav"), Path.Combine(folder, "long/fan/test/normal_id_00_00000000.wav"));
    }

    static void Check(NasdProcess.Result r)
    {
        if (r.ExitCode != 0) throw new InvalidOperationException($"nasd failed ({r.ExitCode}): {r.Stderr}");
    }

    public static string TempFolder(string name)
    {
        string path = Path.Combine(Path.GetTempPath(), $"nasd-serve-{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>A free TCP port on loopback (the OS's choice for port 0).</summary>
    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>A server in this process: Kestrel on a loopback port chosen by the OS, a localhost silo, a real SQLite file.</summary>
    public sealed class InProcessServer : IAsyncDisposable
    {
        public required WebApplication App { get; init; }
        public required string Url { get; init; }
        public required string Data { get; init; }
        public ServeStore Store => (ServeStore)App.Services.GetService(typeof(ServeStore))!;
        public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromMinutes(2) };

        public static async Task<InProcessServer> StartAsync(string? data = null)
        {
            data ??= TempFolder("data");
            var app = ServeHost.Build(new ServeOptions(data, "http://127.0.0.1:0", SiloPort: FreePort(), GatewayPort: FreePort(), Quiet: true));
            await app.StartAsync();
            return new InProcessServer { App = app, Url = app.Urls.First(), Data = data };
        }

        /// <summary>Registers a machine with a model file's bytes; the response.</summary>
        public async Task<HttpResponseMessage> AddMachine(string name, string model, string query = "window=2&hop=1")
        {
            using var body = new ByteArrayContent(await File.ReadAllBytesAsync(model));
            body.Headers.ContentType = new("application/octet-stream");
            return await Http.PostAsync($"{Url}/machines?name={name}&{query}", body);
        }

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await App.StopAsync();
            await App.DisposeAsync();
        }
    }

    /// <summary>A <c>nasd serve</c> child process; <see cref="Kill"/> is kill -9.</summary>
    public sealed class ServerProcess : IDisposable
    {
        readonly Process process;
        readonly StringBuilder log = new();

        public string Url { get; }

        public ServerProcess(string data, params string[] extra)
        {
            Url = $"http://127.0.0.1:{FreePort()}";
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "nasd.dll"));
            foreach (var a in (string[])["serve", "--data", data, "--urls", Url, .. extra]) psi.ArgumentList.Add(a);
            process = Process.Start(psi)!;
            process.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
            process.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
        }

        public string Log { get { lock (log) return log.ToString(); } }

        /// <summary>Waits until /health answers.</summary>
        public async Task WaitReadyAsync(TimeSpan? timeout = null)
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            var until = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
            while (DateTime.UtcNow < until)
            {
                if (process.HasExited) throw new InvalidOperationException($"nasd serve exited with {process.ExitCode}: {Log}");
                try { if ((await http.GetAsync($"{Url}/health")).IsSuccessStatusCode) return; }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
                await Task.Delay(200);
            }
            throw new TimeoutException($"nasd serve at {Url} did not answer: {Log}");
        }

        public void Kill()
        {
            if (!process.HasExited) process.Kill();   // SIGKILL: no shutdown code runs
            process.WaitForExit();
        }

        public void Dispose()
        {
            Kill();
            process.Dispose();
        }
    }

    /// <summary>A WAV file's samples as 16-bit PCM bytes, without the header.</summary>
    public static byte[] PcmOf(string wav) => File.ReadAllBytes(wav)[44..];

    /// <summary>
    /// Streams raw 16-bit PCM (16 kHz mono) to a machine over the WebSocket API, in 0.1 s messages, at real time when
    /// <paramref name="realTime"/>; returns the reading lines (and the summary line last). <paramref name="onLine"/> sees each line as it arrives.
    /// </summary>
    public static async Task<List<string>> StreamAsync(string url, string machine, byte[] pcm, bool realTime, Action<string>? onLine = null, CancellationToken cancel = default)
    {
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"{url.Replace("http://", "ws://")}/machines/{machine}/stream?rate=16000&channels=1"), cancel);
        var lines = new List<string>();
        var receive = Task.Run(() => StreamLines.ReceiveAsync(socket, line =>
        {
            lock (lines) lines.Add(line);
            onLine?.Invoke(line);
        }, cancel), cancel);
        const int chunk = 3200;   // 0.1 s at 16 kHz, 16-bit
        var clock = Stopwatch.StartNew();
        for (int offset = 0, i = 0; offset < pcm.Length; offset += chunk, i++)
        {
            if (realTime)
            {
                var due = TimeSpan.FromMilliseconds(100 * i) - clock.Elapsed;
                if (due > TimeSpan.Zero) await Task.Delay(due, cancel);
            }
            await socket.SendAsync(pcm.AsMemory(offset, Math.Min(chunk, pcm.Length - offset)), WebSocketMessageType.Binary, true, cancel);
        }
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "end", cancel);
        await receive;
        return lines;
    }

    public static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;
}
