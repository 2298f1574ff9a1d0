using System.Text;

namespace NativeASD.Cli;

/// <summary>One option of a command: <c>--name VALUE</c>, or a flag when <see cref="ValueName"/> is null.</summary>
public sealed record OptionSpec(string Name, string? ValueName, string Description, string? Default = null);

/// <summary>
/// A command's name, help text, options and examples, and its action. Help is generated from this, so
/// every command documents itself the same way.
/// </summary>
public sealed record CommandSpec(
    string Name,
    string Summary,
    string Usage,
    OptionSpec[] Options,
    string[] Examples,
    Func<ParsedArgs, int> Run,
    int MinPositionals = 0,
    int MaxPositionals = 0)
{
    /// <summary>Options every compute command accepts.</summary>
    public static readonly OptionSpec[] ComputeOptions =
    [
        new("--device", "cpu|cuda|opencl|ilgpu-cpu", "compute device", "cpu"),
        new("--threads", "N", "worker threads on the CPU backend", "all cores"),
    ];

    public static readonly OptionSpec Json = new("--json", null, "print one machine-readable JSON object instead of text");

    public string Help()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"nasd {Name} — {Summary}");
        sb.AppendLine();
        sb.AppendLine($"Usage: nasd {Usage}");
        if (Options.Length > 0)
        {
            sb.AppendLine();
            sb.AppendLine("Options:");
            int width = Options.Max(o => Label(o).Length) + 2;
            foreach (var o in Options)
                sb.AppendLine($"  {Label(o).PadRight(width)}{o.Description}{(o.Default is null ? "" : $" (default: {o.Default})")}");
            sb.AppendLine($"  {"--help".PadRight(width)}show this help");
        }
        if (Examples.Length > 0)
        {
            sb.AppendLine();
            sb.AppendLine("Examples:");
            foreach (var e in Examples) sb.AppendLine($"  {e}");
        }
        return sb.ToString();
    }

    static string Label(OptionSpec o) => o.ValueName is null ? o.Name : $"{o.Name} {o.ValueName}";
}
