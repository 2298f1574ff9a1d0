using System.Globalization;

namespace NativeASD.Cli;

/// <summary>A command's arguments after parsing against its <see cref="CommandSpec"/>: typed getters that fail as usage errors.</summary>
public sealed class ParsedArgs : NativeASD.Detection.Detectors.IOptionValues
{
    readonly Dictionary<string, string?> _options;
    readonly string _command;

    public IReadOnlyList<string> Positionals { get; }

    /// <summary>The command name, for messages.</summary>
    public string Command => _command;

    ParsedArgs(string command, Dictionary<string, string?> options, List<string> positionals)
    {
        _command = command; _options = options; Positionals = positionals;
    }

    /// <summary>Parses <c>--name value</c>, <c>--name=value</c>, flags, and positionals (everything after <c>--</c> is positional).</summary>
    public static ParsedArgs Parse(CommandSpec spec, IReadOnlyList<string> args)
    {
        var known = spec.Options.ToDictionary(o => o.Name);
        var options = new Dictionary<string, string?>();
        var positionals = new List<string>();
        bool onlyPositionals = false;
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (onlyPositionals || !a.StartsWith("--", StringComparison.Ordinal) || a == "-")
            {
                positionals.Add(a);
                continue;
            }
            if (a == "--") { onlyPositionals = true; continue; }
            string name = a;
            string? value = null;
            int eq = a.IndexOf('=');
            if (eq > 0) { name = a[..eq]; value = a[(eq + 1)..]; }
            if (!known.TryGetValue(name, out var o))
                throw new UsageException($"{spec.Name}: unknown option '{name}'", $"see 'nasd {spec.Name} --help'");
            if (o.ValueName is null)
            {
                if (value is not null) throw new UsageException($"{spec.Name}: option {name} takes no value");
            }
            else if (value is null)
            {
                if (i + 1 >= args.Count) throw new UsageException($"{spec.Name}: option {name} needs a value ({o.ValueName})");
                // "--model --csv x.csv" forgot the model: refuse an option as a value (a value that starts with "--" goes as --name=VALUE).
                if (args[i + 1].StartsWith("--", StringComparison.Ordinal) && args[i + 1].Length > 2)
                    throw new UsageException($"{spec.Name}: option {name} needs a value ({o.ValueName}), got option '{args[i + 1]}'",
                        $"give {name} its value, or write {name}=VALUE for a value that starts with --");
                value = args[++i];
            }
            if (!options.TryAdd(name, value)) throw new UsageException($"{spec.Name}: option {name} given twice");
        }
        if (positionals.Count < spec.MinPositionals || positionals.Count > spec.MaxPositionals)
            throw new UsageException($"{spec.Name}: expected {Describe(spec)} argument(s), got {positionals.Count}", $"usage: nasd {spec.Usage}");
        return new ParsedArgs(spec.Name, options, positionals);
    }

    static string Describe(CommandSpec s) =>
        s.MinPositionals == s.MaxPositionals ? s.MinPositionals.ToString(CultureInfo.InvariantCulture)
        : s.MaxPositionals == int.MaxValue ? $"at least {s.MinPositionals}" : $"{s.MinPositionals} to {s.MaxPositionals}";

    public bool Flag(string name) => _options.ContainsKey(name);

    public string? String(string name) => _options.TryGetValue(name, out var v) ? v : null;

    public int Int(string name, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        if (!_options.TryGetValue(name, out var v) || v is null) return fallback;
        if (!int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int x))
            throw new UsageException($"{_command}: {name} expects an integer, got '{v}'");
        if (x < min || x > max)
            throw new UsageException($"{_command}: {name} must be between {min} and {max}, got {x}");
        return x;
    }

    /// <summary>A finite number, or <paramref name="fallback"/> when the option is absent.</summary>
    public double Double(string name, double fallback)
    {
        string? text = String(name);
        if (text is null) return fallback;
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v)
            ? v : throw new UsageException($"{name} takes a number, got '{text}'");
    }
}
