using NativeASD.Cli;

namespace NativeASD.Tests.Cli.Framework;

/// <summary>The option parser: an option is never taken as another option's value.</summary>
public sealed class ParsedArgsTests
{
    static readonly CommandSpec Spec = new("score", "", "score", [new("--model", "MODEL", ""), new("--csv", "OUT", ""), new("--threshold", "X", ""), new("--json", null, "")],
        [], _ => 0, MaxPositionals: int.MaxValue);

    [Fact]
    public void AnOptionIsRefusedAsTheValueOfAnother()
    {
        var e = Assert.Throws<UsageException>(() => ParsedArgs.Parse(Spec, ["--model", "--csv", "x.csv", "a.wav"]));
        Assert.Equal("score: option --model needs a value (MODEL), got option '--csv'", e.Message);
        Assert.Contains("--model=VALUE", e.Hint);
        Assert.Throws<UsageException>(() => ParsedArgs.Parse(Spec, ["--csv", "--json"]));
        Assert.Throws<UsageException>(() => ParsedArgs.Parse(Spec, ["--csv", "--unknown-thing"]));
    }

    [Fact]
    public void ValuesThatLookLikeOptionsGoAfterAnEqualsSign()
    {
        var a = ParsedArgs.Parse(Spec, ["--csv=--odd.csv", "--threshold", "-3.5", "--model", "-", "a.wav"]);
        Assert.Equal("--odd.csv", a.String("--csv"));
        Assert.Equal("-3.5", a.String("--threshold"));
        Assert.Equal("-", a.String("--model"));
        Assert.Equal(["a.wav"], a.Positionals);
    }
}
