using System.Globalization;
using System.Text.Json;
using NativeASD.Engine;

namespace NativeASD.Cli.Commands;

/// <summary><c>nasd tag</c>: the classifier head's top classes for a WAV file (YAMNet 521, PANNs and EfficientAT 527, honk 12).</summary>
public static class TagCommand
{
    /// <summary>honk's Speech Commands labels (castorini/honk: silence, unknown, then the ten wanted words).</summary>
    public static readonly string[] HonkLabels = ["__silence__", "__unknown__", "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"];

    /// <summary>The class map each model is distributed with, looked for beside the weights when --labels is not given.</summary>
    public static string? SiblingLabelFile(string arch) => arch switch
    {
        "yamnet" => "yamnet_class_map.csv",
        "panns-resnet22" or "panns-resnet38" or "efficientat-mn" => "class_labels_indices.csv",
        _ => null,
    };

    public static readonly CommandSpec Spec = new(
        "tag",
        "top classes of a WAV file from a pretrained classifier (YAMNet, PANNs, EfficientAT, honk)",
        "tag --backbone W IN.wav [--top 5] [--labels FILE] [--channel N|mean] [--json]",
        [
            new("--backbone", "W", "weight file of a PANNs ResNet22/38, YAMNet, EfficientAT MobileNetV3 or honk res8 (.safetensors, .pth/.pt, .tflite)"),
            new("--arch", "NAME", "architecture, when the tensor names do not tell"),
            Backbone.FloatActivations,
            new("--top", "K", "how many classes to print", "5"),
            new("--labels", "FILE", "class names: a CSV with a display_name column (AudioSet class maps) or one name per line; default: yamnet_class_map.csv (YAMNet) or class_labels_indices.csv (PANNs, EfficientAT) beside W, honk's built-in 12"),
            new("--channel", "N|mean", "channel of a multi-channel file, or the mean of all channels", "0"),
            .. CommandSpec.ComputeOptions,
            CommandSpec.Json,
        ],
        [
            "nasd tag --backbone yamnet_spectra_in.tflite speech.wav",
            "nasd tag --backbone resnet38.safetensors --labels class_labels_indices.csv --top 10 clip.wav",
            "nasd tag --backbone mn04_as_mAP_432.pt --labels class_labels_indices.csv clip.wav",
        ],
        Run, MinPositionals: 1, MaxPositionals: 1);

    static int Run(ParsedArgs args)
    {
        string weights = args.String("--backbone") ?? throw new UsageException("tag: --backbone W is required");
        int top = args.Int("--top", 5, 1, 100000);
        var backend = Compute.OpenBackend(args);
        using var loaded = Backbone.Load(weights, args.String("--arch"), backend, !args.Flag("--float-activations"));
        string classifier = loaded.ClassifierTap
            ?? throw new UsageException($"tag: {weights} ({loaded.Arch}) is a backbone without a classifier", "use nasd embed for its taps");
        string input = args.Positionals[0];
        using var x = Backbone.Input(loaded, input, args.String("--channel"), backend, out var clip);
        using var result = Backbone.Run(loaded, x, [classifier], input);
        var output = result[classifier];
        int classes = output.Dim(1);
        // Clip score: mean over patches (YAMNet's clip-level rule); honk's logits become softmax probabilities.
        var scores = new double[classes];
        var rows = output.ToArray();
        int n = output.Dim(0);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < classes; k++) scores[k] += rows[i * classes + k] / (double)n;
        if (classifier == "logits") Softmax(scores);

        var labels = Labels(args.String("--labels"), weights, loaded.Arch, classes);
        var ranked = Enumerable.Range(0, classes).OrderByDescending(k => scores[k]).ThenBy(k => k).Take(top).ToList();
        if (args.Flag("--json"))
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                input, backbone = weights, arch = loaded.Arch, frontend = loaded.Frontend.Name, int8_activations = loaded.Int8Activations, classes, patches = n,
                seconds = Math.Round(clip.Seconds, 6),
                top = ranked.Select((k, r) => new { rank = r + 1, index = k, label = labels?[k], score = Math.Round(scores[k], 6) }),
            }));
            return ExitCode.Ok;
        }
        var ic = CultureInfo.InvariantCulture;
        Console.Out.WriteLine($"{input}: {loaded.Arch}{(loaded.Int8Activations ? " (int8 activations)" : "")}, {classes} classes, {clip.Seconds.ToString("F2", ic)} s{(n > 1 ? $", mean of {n} patches" : "")}");
        for (int r = 0; r < ranked.Count; r++)
        {
            int k = ranked[r];
            Console.Out.WriteLine(string.Create(ic, $"{r + 1,3}  {k,4}  {scores[k]:F4}  {labels?[k] ?? $"class {k}"}"));
        }
        return ExitCode.Ok;
    }

    static void Softmax(double[] v)
    {
        double max = v.Max(), sum = 0;
        for (int i = 0; i < v.Length; i++) sum += v[i] = Math.Exp(v[i] - max);
        for (int i = 0; i < v.Length; i++) v[i] /= sum;
    }

    /// <summary>Class names from --labels, a known file beside the weights, or honk's built-in list; null when none is found.</summary>
    static string[]? Labels(string? path, string weights, string arch, int classes)
    {
        if (path is null)
        {
            if (arch == "honk-res8") return classes == HonkLabels.Length ? HonkLabels : null;
            string? sibling = SiblingLabelFile(arch) is { } name ? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(weights)) ?? ".", name) : null;
            if (sibling is null || !File.Exists(sibling)) return null;
            path = sibling;
        }
        if (!File.Exists(path)) throw new InputException($"{path}: no such labels file");
        var names = ReadLabels(path);
        if (names.Length != classes) throw new InputException($"{path}: {names.Length} labels for a {classes}-class model");
        return names;
    }

    /// <summary>A CSV with a header naming display_name (AudioSet's class maps), or plain lines.</summary>
    public static string[] ReadLabels(string path)
    {
        var lines = File.ReadAllLines(path).Where(l => l.Length > 0).ToList();
        if (lines.Count == 0) return [];
        var header = SplitCsv(lines[0]);
        int column = header.FindIndex(h => h.Trim() is "display_name" or "name");
        if (column < 0) return lines.Select(l => l.Trim()).ToArray();
        return lines.Skip(1).Select(l =>
        {
            var cells = SplitCsv(l);
            if (column >= cells.Count) throw new InputException($"{path}: line '{l}' has no column {column + 1} (display_name)");
            return cells[column];
        }).ToArray();
    }

    /// <summary>Comma-separated cells with "quoted, cells" and "" escapes.</summary>
    static List<string> SplitCsv(string line)
    {
        var cells = new List<string>();
        var cell = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char ch = line[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < line.Length && line[i + 1] == '"') { cell.Append('"'); i++; }
                else if (ch == '"') quoted = false;
                else cell.Append(ch);
            }
            else if (ch == '"') quoted = true;
            else if (ch == ',') { cells.Add(cell.ToString()); cell.Clear(); }
            else cell.Append(ch);
        }
        cells.Add(cell.ToString());
        return cells;
    }
}
