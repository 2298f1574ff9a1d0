using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using NativeASD.Engine.Audio;

namespace NativeASD.Cli.Commands;

/// <summary>
/// <c>nasd normalise</c>: copies of WAV clips brought to one loudness (channel 0 at an RMS level in dBFS), so that a
/// benchmark cannot be won by level alone. One gain per clip for all its channels; 32-bit float output, never clipped.
/// </summary>
public static class NormaliseCommand
{
    /// <summary>Channel-0 levels below this are silence: no gain can give them a meaningful level.</summary>
    public const double SilentBelowDbfs = -200;

    public static readonly CommandSpec Spec = new(
        "normalise",
        "copy WAV clips scaled so that channel 0 has one RMS level (loudness-normalised benchmark data)",
        "normalise --out OUT_DIR [--rms-dbfs -30] [--skip-bad] [--json] IN_DIR|FILE…",
        [
            new("--out", "OUT_DIR", "where the copies go: a folder's WAVs (found recursively) keep their path below that folder, a file goes to OUT_DIR/<name>"),
            new("--rms-dbfs", "X", "RMS level of channel 0 in dBFS (20·log10 rms, full scale 1.0 = 16-bit 32768), between -120 and 0", "-30"),
            new("--skip-bad", null, "warn about and skip silent, non-finite or unreadable clips instead of refusing the whole run"),
            CommandSpec.Json,
        ],
        [
            "nasd normalise --out normalised/machine-tools ../shared/data/machine-tools",
            "nasd normalise --rms-dbfs -26 --out quiet a.wav b.wav",
            "nasd normalise --skip-bad --out norm recordings/",
        ],
        Run, MinPositionals: 1, MaxPositionals: int.MaxValue);

    sealed record Clip(string Input, string Output);

    sealed record Level(double RmsDbfs, double Gain);

    static int Run(ParsedArgs args)
    {
        string outDir = args.String("--out") ?? throw new UsageException("normalise: --out OUT_DIR is required");
        double target = args.Double("--rms-dbfs", -30);
        if (target < -120 || target > 0) throw new UsageException($"normalise: --rms-dbfs must be between -120 and 0, got {target}");
        bool skipBad = args.Flag("--skip-bad");
        var clock = Stopwatch.StartNew();
        var clips = Plan(args.Positionals, outDir);

        // Measure every clip before writing any, so a refused run leaves nothing behind.
        var levels = new Level?[clips.Count];
        var skipped = new List<(string File, string Reason)>();
        for (int i = 0; i < clips.Count; i++)
        {
            string? problem;
            (levels[i], problem) = Measure(clips[i].Input, target);
            if (problem is null) continue;
            if (!skipBad) throw new InputException($"{clips[i].Input}: {problem}", "fix or remove the clip, or pass --skip-bad to leave it out");
            Console.Error.WriteLine($"nasd: warning: {clips[i].Input}: {problem}; skipped");
            skipped.Add((clips[i].Input, problem));
        }
        int written = 0;
        for (int i = 0; i < clips.Count; i++)
        {
            if (levels[i] is not Level level) continue;
            var (interleaved, rate, channels) = ReadAllChannels(clips[i].Input);
            for (int k = 0; k < interleaved.Length; k++) interleaved[k] = (float)(interleaved[k] * level.Gain);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(clips[i].Output))!);
            WavWriter.Write(clips[i].Output, interleaved, rate, 32, channels, WavSampleFormat.IeeeFloat);
            written++;
        }

        if (args.Flag("--json"))
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                @out = outDir, rms_dbfs = target, written, format = "float32",
                skipped = skipped.Select(s => new { file = s.File, reason = s.Reason }),
                clips = clips.Select((c, i) => (c, levels[i])).Where(p => p.Item2 is not null).Select(p => new
                {
                    input = p.c.Input, output = p.c.Output, input_rms_dbfs = p.Item2!.RmsDbfs, gain_db = 20 * Math.Log10(p.Item2.Gain),
                }),
                elapsed_s = clock.Elapsed.TotalSeconds,
            }));
        else
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote {written} clips (channel 0 RMS {target} dBFS, 32-bit float) to {outDir} in {clock.Elapsed.TotalSeconds:F1} s{(skipped.Count > 0 ? $"; skipped {skipped.Count}" : "")}"));
        return ExitCode.Ok;
    }

    /// <summary>Input and output path of every clip; refuses outputs that would overwrite an input or each other.</summary>
    static List<Clip> Plan(IReadOnlyList<string> inputs, string outDir)
    {
        string outFull = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outDir));
        var clips = new List<Clip>();
        foreach (string input in inputs)
        {
            if (Directory.Exists(input))
            {
                string inFull = Path.TrimEndingDirectorySeparator(Path.GetFullPath(input));
                if (outFull == inFull || outFull.StartsWith(inFull + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                    throw new UsageException($"normalise: --out {outDir} lies inside the input folder {input}", "write the copies outside the folders they are read from");
                var found = Directory.EnumerateFiles(input, "*", SearchOption.AllDirectories)
                    .Where(f => f.EndsWith(".wav", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal).ToList();
                if (found.Count == 0) throw new InputException($"{input}: folder has no .wav files (searched recursively)");
                clips.AddRange(found.Select(f => new Clip(f, Path.Combine(outDir, Path.GetRelativePath(input, f)))));
            }
            else if (File.Exists(input)) clips.Add(new Clip(input, Path.Combine(outDir, Path.GetFileName(input))));
            else throw new FileNotFoundException($"{input}: no such file or folder", input);
        }
        var byOutput = new Dictionary<string, string>();
        foreach (var c in clips)
        {
            string target = Path.GetFullPath(c.Output);
            if (target == Path.GetFullPath(c.Input))
                throw new UsageException($"normalise: {c.Input} would be overwritten by its own copy", "choose another --out");
            if (byOutput.TryGetValue(target, out string? other) && other != Path.GetFullPath(c.Input))
                throw new UsageException($"normalise: {other} and {c.Input} would both be written to {c.Output}", "normalise them into different --out folders");
            byOutput[target] = Path.GetFullPath(c.Input);
        }
        return clips.DistinctBy(c => Path.GetFullPath(c.Output)).ToList();
    }

    /// <summary>The clip's level and gain, or why it cannot be normalised.</summary>
    static (Level? Level, string? Problem) Measure(string path, double target)
    {
        float[] interleaved;
        int channels;
        try { (interleaved, _, channels) = ReadAllChannels(path); }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException)
        {
            string message = e.Message.StartsWith(path + ": ", StringComparison.Ordinal) ? e.Message[(path.Length + 2)..] : e.Message;
            return (null, $"unreadable ({message})");
        }
        var channel0 = new float[interleaved.Length / channels];
        for (int t = 0; t < channel0.Length; t++) channel0[t] = interleaved[t * channels];
        double level = Loudness.RmsDbfs(channel0);
        if (!(level >= SilentBelowDbfs))
            return (null, string.Create(CultureInfo.InvariantCulture, $"silent (channel 0 RMS {level:F1} dBFS, below {SilentBelowDbfs} dBFS): no gain gives it a level"));
        double gain = Loudness.GainBetween(level, target);
        foreach (float x in interleaved)
            if (!float.IsFinite((float)(x * gain)))
                return (null, string.Create(CultureInfo.InvariantCulture, $"a sample scaled by {gain:G4} is not finite in 32-bit float"));
        return (new Level(level, gain), null);
    }

    /// <summary>All channels of the file, interleaved frame by frame, at the file's own rate (full scale 1.0).</summary>
    static (float[] Interleaved, int Rate, int Channels) ReadAllChannels(string path)
    {
        var info = AudioFile.Probe(path);
        float[]? interleaved = null;
        int rate = info.SampleRate;
        for (int c = 0; c < info.Channels; c++)
        {
            var clip = AudioFile.Read(path, new ChannelMix(c));
            interleaved ??= new float[clip.Samples.Length * info.Channels];
            for (int t = 0; t < clip.Samples.Length; t++) interleaved[t * info.Channels + c] = clip.Samples[t];
        }
        return (interleaved ?? [], rate, info.Channels);
    }
}
