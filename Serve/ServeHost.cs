using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NativeASD.Kernels;
using NativeASD.Serve.Api;
using NativeASD.Serve.Cluster;
using NativeASD.Serve.Store;
using Orleans.Configuration;

namespace NativeASD.Serve;

/// <summary>How servers find each other: "localhost" (one server, nothing to set up) or "adonet" (a membership table in a database).</summary>
public enum ClusterKind { Localhost, AdoNet }

/// <summary>Everything <c>nasd serve</c> is started with.</summary>
public sealed record ServeOptions(string DataFolder, string Urls = "http://localhost:5000", ClusterKind Cluster = ClusterKind.Localhost,
    string? Connection = null, int SiloPort = 11111, int GatewayPort = 30000, IPAddress? Address = null, int Threads = 0, bool Quiet = false);

/// <summary>The compute backend every machine of this server scores on, and the server's silo name for /health.</summary>
public sealed class ServeCompute(IBackend backend, string siloName)
{
    public IBackend Backend { get; } = backend;
    public string SiloName { get; } = siloName;
}

/// <summary>
/// Builds one <c>nasd serve</c> process: Kestrel with the API and the dashboard, an Orleans silo holding machine
/// grains, and the SQLite store. With <see cref="ClusterKind.AdoNet"/> several such processes form one cluster: each
/// machine's grain lives on one of them and moves when its server dies.
/// </summary>
public static class ServeHost
{
    public static WebApplication Build(ServeOptions options)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(options.Urls);
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        builder.Logging.SetMinimumLevel(options.Quiet ? LogLevel.Warning : LogLevel.Information);
        builder.Logging.AddFilter("Orleans", LogLevel.Warning);
        builder.Logging.AddFilter("Orleans.Runtime.Silo", LogLevel.Error);   // the ServerGC note, on every start
        builder.Logging.AddFilter("Polly", LogLevel.Warning);
        builder.Logging.AddFilter("Orleans.Runtime.Scheduler", LogLevel.Error);   // "took longer than 1 s": scoring a window is one long turn by design
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        // Logs go to standard error: standard output stays for what scripts read.
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);

        var store = new ServeStore(options.DataFolder);
        var address = options.Address ?? IPAddress.Loopback;
        string siloName = $"{address}:{options.SiloPort}";
        builder.Services.AddSingleton(store);
        builder.Services.AddSingleton(new ServeCompute(Backends.Open(DeviceKind.Cpu, options.Threads), siloName));
        builder.Services.AddSingleton<AudioIngest>();
        builder.Host.UseOrleans(silo =>
        {
            silo.Configure<ClusterOptions>(o => { o.ClusterId = "nasd"; o.ServiceId = "nasd"; });
            if (options.Cluster == ClusterKind.Localhost)
                silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort);
            else
            {
                string connection = options.Connection ?? throw new ArgumentException("--cluster adonet needs --connection");
                string invariant = AdoNetMembership.Prepare(connection);
                silo.UseAdoNetClustering(o => { o.Invariant = invariant; o.ConnectionString = connection; });
                silo.ConfigureEndpoints(address, options.SiloPort, options.GatewayPort, listenOnAnyHostAddress: false);
            }
            // A killed server is declared dead within seconds (3 probes of 2 s missed), so its machines resume elsewhere
            // quickly; 1 s probes, tried first, declared a live but starved server dead on a machine at load 79.
            silo.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = TimeSpan.FromSeconds(2);
                o.NumMissedProbesLimit = 3;
                o.NumVotesForDeathDeclaration = 1;
                o.TableRefreshTimeout = TimeSpan.FromSeconds(2);
                o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(5);
            });
            // An overloaded machine answers late rather than being asked twice; a dead server's calls fail at once anyway.
            silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(30));
        });
        var app = builder.Build();
        app.UseWebSockets();
        ServeApi.Map(app);
        app.Lifetime.ApplicationStopped.Register(() => store.DisposeAsync().AsTask().GetAwaiter().GetResult());
        return app;
    }
}
