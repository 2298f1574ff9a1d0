using System.Diagnostics;

namespace NativeASD.Tests.Support;

/// <summary>Runs the built nasd (nasd.dll beside the test assembly) as a real process, the way users and scripts do.</summary>
public static class NasdProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(params string[] args) => RunWithInput(null, args);

    /// <summary>Runs nasd with <paramref name="stdin"/> (when not null) written to its standard input, then closed.</summary>
    public static Result RunWithInput(byte[]? stdin, params string[] args) => Start(stdin, null, args);

    /// <summary>Runs nasd with the environment variable <paramref name="name"/> set to <paramref name="value"/>.</summary>
    public static Result RunWithVariable(string name, string value, params string[] args) => Start(null, (name, value), args);

    static Result Start(byte[]? stdin, (string Name, string Value)? variable, string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null, UseShellExecute = false };
        if (variable is var (name, value)) psi.Environment[name] = value;
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "nasd.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            try
            {
                p.StandardInput.BaseStream.Write(stdin);
                p.StandardInput.Close();
            }
            catch (IOException) { }   // nasd stopped reading (an error): its exit code and stderr tell the test why
        }
        if (!p.WaitForExit(120_000)) { p.Kill(true); throw new TimeoutException($"nasd {string.Join(' ', args)} did not finish in 120 s"); }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}
