using System.Diagnostics;
using System.Globalization;
using NativeASD.Detection.Detectors;

namespace NativeASD.Tests.Cli.Commands;

/// <summary>
/// <c>nasd demo</c> as a smoke run on a tiny synthetic set (<c>--data</c>; the full demo generates 320 clips of 10 s):
/// the default detector, the printed table, results.csv and report.html; and scripts/demo_table.sh, which writes the
/// README's demo table, on the results.csv it produced.
/// </summary>
public sealed class DemoCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-demo-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "NativeASD.sln"))) return d.FullName;
        throw new DirectoryNotFoundException($"no NativeASD.sln above {AppContext.BaseDirectory}");
    }

    [Fact]
    public void Demo_on_a_tiny_set_prints_the_table_and_writes_results_and_report()
    {
        string data = Path.Combine(_dir, "tiny"), output = Path.Combine(_dir, "out");
        var synth = NasdProcess.Run("synth", "--out", data, "--types", "fan,pump", "--ids", "1", "--train", "6", "--test", "3", "--seconds", "1.5");
        Assert.True(synth.ExitCode == 0, synth.Stderr);

        var demo = NasdProcess.Run("demo", "--data", data, "--out", output);
        Assert.True(demo.ExitCode == 0, demo.Stderr);
        Assert.Matches(@"fan\s+id_00\s+[01]\.\d{4}\s+[01]\.\d{4}", demo.Stdout);
        Assert.Matches(@"all\s+average\s+[01]\.\d{4}\s+[01]\.\d{4}", demo.Stdout);
        Assert.Contains("2 IDs (0 resumed from an earlier run)", demo.Stdout);
        string html = File.ReadAllText(Path.Combine(output, "report.html"));
        Assert.Contains($"nasd demo: {DetectorCatalog.DefaultName} on tiny", html);   // the default detector, on the shipped YAMNet
        Assert.True(File.Exists(Path.Combine(output, "anomaly_score_pump_id_00.csv")));

        string csv = Path.Combine(output, "results.csv");
        var rows = File.ReadAllLines(csv).Skip(1).Select(l => l.Split(',')).ToDictionary(f => f[0] + " " + f[1]);
        string Cell(string key, int column) => double.Parse(rows[key][column], CultureInfo.InvariantCulture).ToString("F3", CultureInfo.InvariantCulture);
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(RepositoryRoot(), "scripts", "demo_table.sh"), "--from", csv }) psi.ArgumentList.Add(a);
        using var script = Process.Start(psi)!;
        string table = script.StandardOutput.ReadToEnd(), errors = script.StandardError.ReadToEnd();
        script.WaitForExit();
        Assert.True(script.ExitCode == 0, errors);
        Assert.Equal(
            $"| | fan | pump | mean |\n|---|---|---|---|\n" +
            $"| AUC | {Cell("fan average", 2)} | {Cell("pump average", 2)} | {Cell("all average", 2)} |\n" +
            $"| pAUC | {Cell("fan average", 3)} | {Cell("pump average", 3)} | {Cell("all average", 3)} |\n", table);
    }
}
