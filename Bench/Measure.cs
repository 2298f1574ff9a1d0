using System.Diagnostics;
using System.Text.Json;

namespace NativeASD.Bench;

/// <summary>Wall and process CPU time of single runs, and Debian torch peers (Bench/torch_*.py) run as child processes.</summary>
internal static class Measure
{
    /// <summary>Runs <paramref name="run"/> once and adds its wall and process CPU milliseconds to the lists.</summary>
    public static void Once(Action run, List<double> wall, List<double> cpu)
    {
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpu0 = process.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        run();
        wall.Add(sw.Elapsed.TotalMilliseconds);
        process.Refresh();
        cpu.Add((process.TotalProcessorTime - cpu0).TotalMilliseconds);
    }

    /// <summary>Runs Bench/<paramref name="script"/> (found above the working directory) with /usr/bin/python3, prints its output and returns its last line as JSON.</summary>
    public static JsonElement TorchPeer(string script, params string[] args)
    {
        string path = Path.Combine(RepoRoot(), "Bench", script);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path} not found", path);
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true };
        psi.ArgumentList.Add(path);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"Bench/{script} exited with {p.ExitCode} (needs Debian python3-torch and python3-torchaudio)");
        Console.WriteLine($"torch: {output.Trim()}");
        return JsonDocument.Parse(output.Trim().Split('\n')[^1]).RootElement.Clone();
    }

    /// <summary>The checkout (the folder holding NativeASD.sln) above the working directory.</summary>
    public static string RepoRoot()
    {
        string? root = Directory.GetCurrentDirectory();
        while (root is not null && !File.Exists(Path.Combine(root, "NativeASD.sln"))) root = Path.GetDirectoryName(root);
        return root ?? throw new FileNotFoundException("NativeASD.sln not found above the working directory; run from the repository");
    }
}
