using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using NativeASD.Detection.Monitoring;
using NativeASD.Serve.Api;

namespace NativeASD.Cli.Commands;

/// <summary>The edge side of <c>nasd serve</c> in <c>nasd monitor</c>: <c>--to</c> forwards the stream and prints the server's
/// readings; <c>--report-to</c> sends locally scored readings.</summary>
public static class ServeClient
{
    static readonly string[] ScoringOptions = ["--model", "--backbone", "--window", "--hop", "--consecutive", "--threshold", "--json", "--report-to", "--device", "--threads"];

    /// <summary>monitor --to URL --machine NAME: the input's bytes (WAV or raw PCM) over a WebSocket; the readings lines that come back go to standard output.</summary>
    public static int StreamTo(ParsedArgs args)
    {
        string url = args.String("--to")!.TrimEnd('/');
        string machine = args.String("--machine") ?? throw new UsageException("monitor: --to needs --machine NAME", "register it with 'nasd serve add-machine NAME --model M'");
        if (ScoringOptions.FirstOrDefault(args.Flag) is string o)
            throw new UsageException($"monitor: {o} does not apply with --to: the server scores with the machine's model and settings", "set them with 'nasd serve add-machine'");
        string input = args.String("--input") ?? "-";
        if (input != "-" && (args.String("--rate") ?? args.String("--channels")) is not null)
            throw new UsageException("monitor: --rate and --channels apply to raw PCM on standard input; a WAV file carries its own", "drop them, or use --input -");
        if (input != "-" && !File.Exists(input)) throw new InputException($"{input}: no such file");
        var query = string.Create(CultureInfo.InvariantCulture,
            $"rate={args.Int("--rate", 16000, 1, 10_000_000)}&channels={args.Int("--channels", 1, 1, 1024)}&channel={Uri.EscapeDataString(args.String("--channel") ?? "0")}");
        var http = Uri.TryCreate(url, UriKind.Absolute, out var u) && u.Scheme is "http" or "https" ? u
            : throw new UsageException($"monitor: --to takes the server's http:// or https:// URL, got '{url}'");
        CheckMachine(http, machine);

        using var socket = new ClientWebSocket();
        var ws = new UriBuilder(http) { Scheme = http.Scheme == "https" ? "wss" : "ws", Path = $"{http.AbsolutePath.TrimEnd('/')}/machines/{Uri.EscapeDataString(machine)}/stream", Query = query }.Uri;
        try { socket.ConnectAsync(ws, CancellationToken.None).GetAwaiter().GetResult(); }
        catch (WebSocketException e) { throw new InputException($"{url}: cannot open the stream of {machine}: {e.Message}"); }
        string? error = null;
        var receive = Task.Run(async () =>
        {
            string? broken = await StreamLines.ReceiveAsync(socket, line =>
            {
                if (!line.StartsWith("{\"end\":", StringComparison.Ordinal)) { Console.Out.WriteLine(line); return; }
                var e = JsonDocument.Parse(line).RootElement.GetProperty("error");
                if (e.ValueKind == JsonValueKind.String) error = $"{url}: machine {machine}: {e.GetString()}";
            });
            if (broken is not null) error ??= $"{url}: the stream of {machine} broke: {broken}";
        });
        using (var source = input == "-" ? Console.OpenStandardInput() : File.OpenRead(input))
        {
            var chunk = new byte[8192];
            int n;
            while (!receive.IsCompleted && (n = source.Read(chunk)) > 0)
            {
                try { socket.SendAsync(chunk.AsMemory(0, n), WebSocketMessageType.Binary, true, CancellationToken.None).AsTask().GetAwaiter().GetResult(); }
                catch (WebSocketException) { break; }   // the server closed the stream: its summary says why
            }
        }
        if (socket.State == WebSocketState.Open)
            socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "end of input", CancellationToken.None).GetAwaiter().GetResult();
        receive.GetAwaiter().GetResult();
        if (error is not null) throw new InputException(error);
        return ExitCode.Ok;
    }

    /// <summary>A clear error for an unreachable server or an unknown machine, before any audio is sent.</summary>
    static void CheckMachine(Uri server, string machine)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        HttpResponseMessage response;
        try { response = http.GetAsync(new Uri(server, $"{server.AbsolutePath.TrimEnd('/')}/machines/{Uri.EscapeDataString(machine)}")).GetAwaiter().GetResult(); }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { throw new InputException($"{server}: cannot reach the server: {e.Message}", "is 'nasd serve' running there?"); }
        if (!response.IsSuccessStatusCode)
            throw new InputException($"{server}: {(int)response.StatusCode} {ServeCommand.ServerError(response.Content.ReadAsStringAsync().GetAwaiter().GetResult())}");
    }

    /// <summary>The reporter for monitor --report-to URL --machine NAME, or null without --report-to.</summary>
    public static ReadingReporter? ReporterFor(ParsedArgs args, double threshold)
    {
        if (args.String("--report-to") is not string url)
            return args.Flag("--machine") ? throw new UsageException("monitor: --machine goes with --to or --report-to") : null;
        string machine = args.String("--machine") ?? throw new UsageException("monitor: --report-to needs --machine NAME");
        if (!Uri.TryCreate(url.TrimEnd('/'), UriKind.Absolute, out var server) || server.Scheme is not ("http" or "https"))
            throw new UsageException($"monitor: --report-to takes the server's http:// or https:// URL, got '{url}'");
        return new ReadingReporter(server, machine, threshold);
    }
}

/// <summary>
/// Sends each reading (its monitor line with "threshold") to the server as it is made. While the server cannot be
/// reached, readings wait (up to <see cref="MaxWaiting"/>) and go with the next one; one warning per outage.
/// </summary>
public sealed class ReadingReporter(Uri server, string machine, double threshold) : IDisposable
{
    const int MaxWaiting = 100_000;
    readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(5) };
    readonly Uri target = new(server, $"{server.AbsolutePath.TrimEnd('/')}/machines/{Uri.EscapeDataString(machine)}/readings");
    readonly List<string> waiting = [];
    bool warned;

    public void Send(MonitorReading reading, double latencyMs)
    {
        string line = MonitorReadingJson.Line(reading, latencyMs);
        waiting.Add(string.Create(CultureInfo.InvariantCulture, $"{line[..^1]},\"threshold\":{JsonSerializer.Serialize(threshold)}}}"));
        if (waiting.Count > MaxWaiting) waiting.RemoveAt(0);
        Flush();
    }

    void Flush()
    {
        try
        {
            using var body = new StringContent(string.Join('\n', waiting), Encoding.UTF8, "application/x-ndjson");
            using var response = http.PostAsync(target, body).GetAwaiter().GetResult();
            if (!response.IsSuccessStatusCode)
            {
                string error = ServeCommand.ServerError(response.Content.ReadAsStringAsync().GetAwaiter().GetResult());
                if ((int)response.StatusCode is >= 400 and < 500) throw new InputException($"{target}: {(int)response.StatusCode} {error}");
                Warn($"{(int)response.StatusCode} {error}");
                return;
            }
            waiting.Clear();
            warned = false;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { Warn(e.Message); }
    }

    void Warn(string problem)
    {
        if (warned) return;
        warned = true;
        Console.Error.WriteLine($"nasd: warning: {target}: readings not delivered ({problem}); keeping them and retrying with the next reading");
    }

    public void Dispose()
    {
        if (waiting.Count > 0) Flush();
        http.Dispose();
    }
}
