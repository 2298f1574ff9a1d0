using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using NativeASD.Serve;

namespace NativeASD.Cli.Commands;

/// <summary><c>nasd serve</c>: many machines, one service (API, dashboard, alarm store); <c>nasd serve add-machine</c> registers one.</summary>
public static class ServeCommand
{
    public static readonly CommandSpec Spec = new(
        "serve",
        "one service for many machines: a model per machine, audio in over HTTP/WebSocket, every alarm kept with its clip, a live dashboard; scales out on Orleans",
        "serve [--data DIR] [--urls URL] [--cluster localhost|adonet --connection STRING] | serve add-machine NAME --model M [--url URL]",
        [
            new("--data", "DIR", "folder of the store (nasd-serve.db: machines, model files, readings, alarms with clips)", "./nasd-serve"),
            new("--urls", "URL", "where the API and dashboard listen (several separated by ';')", "http://localhost:5000"),
            new("--cluster", "localhost|adonet", "localhost: this server alone; adonet: join the servers that share --connection's membership table", "localhost"),
            new("--connection", "STRING", "adonet membership database: \"Data Source=/path/cluster.db\" (SQLite, servers on one host) or \"Host=…;Database=…;Username=…\" (PostgreSQL)"),
            new("--silo-port", "N", "port the servers of a cluster talk on (one per server on a host)", "11111"),
            new("--gateway-port", "N", "Orleans client gateway port (one per server on a host)", "30000"),
            new("--address", "IP", "address other servers reach this one at (adonet)", "127.0.0.1"),
            new("--threads", "N", "worker threads for scoring", "all cores"),
            new("--model", "MODEL", "add-machine: the machine's model file (written by 'nasd fit')"),
            new("--url", "URL", "add-machine: the server", "http://localhost:5000"),
            new("--window", "DURATION", "add-machine: window scored each hop", "10s"),
            new("--hop", "DURATION", "add-machine: time between scores", "1s"),
            new("--consecutive", "N", "add-machine: anomalous windows in a row that raise an alarm", "3"),
            new("--threshold", "X", "add-machine: decision threshold", "the model's"),
        ],
        [
            "nasd serve --data /var/lib/nasd --urls http://0.0.0.0:5000",
            "nasd serve add-machine pump-3 --model pump3.safetensors",
            "arecord -q -f S16_LE -c 1 -r 16000 | nasd monitor --to http://server:5000 --machine pump-3",
            "nasd serve --data /srv/nasd --cluster adonet --connection \"Data Source=/srv/nasd/cluster.db\" --urls http://localhost:5001 --silo-port 11112 --gateway-port 30001",
        ],
        Run, MinPositionals: 0, MaxPositionals: 2);

    static readonly string[] AddMachineOnly = ["--model", "--url", "--window", "--hop", "--consecutive", "--threshold"];
    static readonly string[] ServeOnly = ["--data", "--urls", "--cluster", "--connection", "--silo-port", "--gateway-port", "--address", "--threads"];

    static int Run(ParsedArgs args)
    {
        var p = args.Positionals;
        if (p.Count == 0)
        {
            if (AddMachineOnly.FirstOrDefault(args.Flag) is string o) throw new UsageException($"serve: {o} belongs to 'nasd serve add-machine'");
            return Serve(args);
        }
        if (p[0] != "add-machine") throw new UsageException($"serve: unknown subcommand '{p[0]}'", "nasd serve, or nasd serve add-machine NAME --model M");
        if (p.Count != 2) throw new UsageException("serve add-machine: give the machine's NAME", "nasd serve add-machine NAME --model M");
        if (ServeOnly.FirstOrDefault(args.Flag) is string s) throw new UsageException($"serve add-machine: {s} belongs to 'nasd serve'");
        return AddMachine(args, p[1]);
    }

    static int Serve(ParsedArgs args)
    {
        var cluster = (args.String("--cluster") ?? "localhost") switch
        {
            "localhost" => ClusterKind.Localhost,
            "adonet" => ClusterKind.AdoNet,
            var c => throw new UsageException($"serve: --cluster takes localhost or adonet, got '{c}'"),
        };
        string? connection = args.String("--connection");
        if (cluster == ClusterKind.AdoNet && connection is null) throw new UsageException("serve: --cluster adonet needs --connection STRING", "e.g. --connection \"Data Source=/srv/nasd/cluster.db\"");
        if (cluster == ClusterKind.Localhost && connection is not null) throw new UsageException("serve: --connection is for --cluster adonet");
        IPAddress? address = null;
        if (args.String("--address") is string a && !IPAddress.TryParse(a, out address)) throw new UsageException($"serve: --address takes an IP address, got '{a}'");
        var options = new ServeOptions(args.String("--data") ?? "nasd-serve", args.String("--urls") ?? "http://localhost:5000", cluster, connection,
            args.Int("--silo-port", 11111, 1, 65535), args.Int("--gateway-port", 30000, 1, 65535), address, Compute.Threads(args));
        Microsoft.AspNetCore.Builder.WebApplication app;
        try { app = ServeHost.Build(options); }
        catch (Microsoft.Data.Sqlite.SqliteException e) { throw new InputException($"{options.DataFolder}: the store cannot be opened: {e.Message}"); }
        catch (ArgumentException e) { throw new InputException($"serve: {e.Message}"); }
        Console.Error.WriteLine($"nasd serve: store {Path.GetFullPath(options.DataFolder)}, dashboard and API on {options.Urls}, cluster {options.Cluster.ToString().ToLowerInvariant()} (silo port {options.SiloPort})");
        app.Run();
        return ExitCode.Ok;
    }

    static int AddMachine(ParsedArgs args, string name)
    {
        string model = args.String("--model") ?? throw new UsageException("serve add-machine: --model MODEL is required", "train one with 'nasd fit'");
        if (!File.Exists(model)) throw new InputException($"{model}: no such model file", "train one with 'nasd fit'");
        string url = (args.String("--url") ?? "http://localhost:5000").TrimEnd('/');
        var query = new List<string> { $"name={Uri.EscapeDataString(name)}" };
        if (args.String("--window") is not null) query.Add(Invariant($"window={MonitorCommand.Duration(args, "--window", 10)}"));
        if (args.String("--hop") is not null) query.Add(Invariant($"hop={MonitorCommand.Duration(args, "--hop", 1)}"));
        if (args.String("--consecutive") is not null) query.Add(Invariant($"consecutive={args.Int("--consecutive", 3, 1, 1_000_000)}"));
        if (args.String("--threshold") is not null) query.Add(Invariant($"threshold={args.Double("--threshold", 0)}"));
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
        using var body = new ByteArrayContent(File.ReadAllBytes(model));
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        HttpResponseMessage response;
        try { response = http.PostAsync($"{url}/machines?{string.Join('&', query)}", body).GetAwaiter().GetResult(); }
        catch (HttpRequestException e) { throw new InputException($"{url}: cannot reach the server: {e.Message}", "start it with 'nasd serve'"); }
        string text = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
        if (!response.IsSuccessStatusCode) throw new InputException($"{url}: {(int)response.StatusCode} {ServerError(text)}");
        Console.Out.WriteLine(text);
        return ExitCode.Ok;
    }

    /// <summary>The "error" of a JSON error body, else the body.</summary>
    internal static string ServerError(string body)
    {
        try { return JsonDocument.Parse(body).RootElement.GetProperty("error").GetString() ?? body; }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException) { return body; }
    }

    static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
