using System.Diagnostics;

namespace NativeASD.Tests.Support;

/// <summary>Debian's chromium in headless mode, for tests that look at a page as a user would. Missing chromium skips
/// the test outside CI and fails it under CI (.ci/run installs it).</summary>
public static class HeadlessChromium
{
    public static string Require()
    {
        string? chromium = new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome" }.FirstOrDefault(File.Exists);
        if (chromium is null && SharedData.InCi) throw new InvalidOperationException("chromium is not installed (CI=true: .ci/run installs it)");
        Skip.If(chromium is null, "chromium is not installed (Debian: apt-get install chromium)");
        return chromium!;
    }

    /// <summary>Runs chromium on <paramref name="url"/> with <paramref name="arguments"/> (e.g. --screenshot=PATH or --dump-dom); its standard output.</summary>
    public static string Run(string url, string profile, params string[] arguments)
    {
        var psi = new ProcessStartInfo(Require()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["--headless", "--disable-gpu", "--no-sandbox", $"--user-data-dir={profile}", .. arguments, url])
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(90_000)) { p.Kill(true); throw new TimeoutException("chromium did not finish in 90 s"); }
        return stdout.Result;
    }
}
