using System.Diagnostics;
using System.Text.Json;

namespace NativeASD.Tests.Cli.Commands;

/// <summary>
/// scripts/device_check.sh, the one prepared run for a lent GPU, dry-run here so that run cannot fail on a typo: on
/// ILGPU's CPU simulator with its tiny sizes (NASD_CHECK_SMALL=1), ResNet38 on the CPU backend, the built nasd instead of
/// the published archive. Every step must succeed and write the files the device run brings back.
/// </summary>
public sealed class DeviceCheckScriptTests : IDisposable
{
    readonly string _out = Directory.CreateTempSubdirectory("nasd-device-check-").FullName;

    public void Dispose() => Directory.Delete(_out, true);

    static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "NativeASD.sln"))) return d.FullName;
        throw new DirectoryNotFoundException($"no NativeASD.sln above {AppContext.BaseDirectory}");
    }

    [Fact]
    public async Task DryRunOnTheSimulatorWritesEveryResult()
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(RepositoryRoot(), "scripts", "device_check.sh"));
        psi.Environment["OUT"] = _out;
        psi.Environment["NASD_CHECK_DEVICE"] = "ilgpu-cpu";
        psi.Environment["NASD_CHECK_RESNET_DEVICE"] = "cpu";
        psi.Environment["NASD_CHECK_SMALL"] = "1";
        psi.Environment["NASD_CHECK_VARIANTS"] = "32x32k4";
        psi.Environment["NASD_CHECK_BINARY"] = $"dotnet {Path.Combine(AppContext.BaseDirectory, "nasd.dll")}";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using (var limit = new CancellationTokenSource(TimeSpan.FromSeconds(300))) await p.WaitForExitAsync(limit.Token);
        string log = File.ReadAllText(Path.Combine(_out, "log.txt"));
        Assert.True(p.ExitCode == 0, await stderr + log);

        Assert.Equal(["conv.jsonl", "gemm.jsonl", "log.txt", "parity.json", "resnet38.json", "summary.txt"],
            Directory.GetFiles(_out).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(6, log.Split('\n').Count(l => l.StartsWith("   exit 0 after", StringComparison.Ordinal)));
        Assert.DoesNotContain("skipped", log);

        using var parity = JsonDocument.Parse(File.ReadAllText(Path.Combine(_out, "parity.json")));
        Assert.Equal(0, parity.RootElement.GetProperty("failed").GetInt32());
        Assert.Equal(2, parity.RootElement.GetProperty("results").GetArrayLength());
        var gemm = File.ReadAllLines(Path.Combine(_out, "gemm.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(2, gemm.Length);
        Assert.All(gemm, g => Assert.Equal("32x32k4", g.GetProperty("variant").GetString()));
        Assert.All(gemm, g => Assert.Equal("not found", g.GetProperty("cublas").GetProperty("status").GetString()));
        Assert.Equal(2, File.ReadAllLines(Path.Combine(_out, "conv.jsonl")).Length);
        using var resnet = JsonDocument.Parse(File.ReadAllText(Path.Combine(_out, "resnet38.json")));
        Assert.Equal(1, resnet.RootElement.GetProperty("results")[0].GetProperty("batch").GetInt32());

        string summary = await stdout;
        Assert.Contains("parity \"failed\":0", summary);
        Assert.Contains("gemm 32x32k4:", summary);
        Assert.Contains("conv 32x32k4: forward", summary);
        Assert.Contains("resnet38 \"batch\":1", summary);
    }
}
