using NativeASD.Cli;

namespace NativeASD.Tests.Cli.Commands;

/// <summary>Every registered command answers --help with its options and at least one example of itself, exit code 0.</summary>
public sealed class HelpTests
{
    public static IEnumerable<object[]> CommandNames => Nasd.Commands.Select(c => new object[] { c.Name });

    [Theory]
    [MemberData(nameof(CommandNames))]
    public void HelpShowsUsageAndExamples(string command)
    {
        var r = NasdProcess.Run(command, "--help");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains($"Usage: nasd {command}", r.Stdout);
        int examples = r.Stdout.IndexOf("Examples:", StringComparison.Ordinal);
        Assert.True(examples > 0, $"nasd {command} --help has no examples:\n{r.Stdout}");
        Assert.Contains($"nasd {command}", r.Stdout[examples..]);
    }

    [Fact]
    public void OverviewListsEveryCommandAndTheExitCodes()
    {
        var r = NasdProcess.Run("--help");
        Assert.Equal(0, r.ExitCode);
        foreach (var c in Nasd.Commands) Assert.Contains(c.Name, r.Stdout);
        Assert.Contains("Exit codes: 0 ok, 1 usage error, 2 input error, 3 internal error", r.Stdout);
        var unknown = NasdProcess.Run("no-such-command");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Single(unknown.Stderr.Trim().Split('\n'));
    }
}
