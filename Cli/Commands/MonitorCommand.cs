using System.Globalization;
using System.Text.Json;
using NativeASD.Engine.Audio;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Monitoring;

namespace NativeASD.Cli.Commands;

/// <summary><c>nasd monitor</c>: score a live stream (WAV file or raw PCM on standard input) with a sliding window.</summary>
public static class MonitorCommand
{
    public static readonly CommandSpec Spec = new(
        "monitor",
        "score a live stream with a sliding window: one JSON line per hop (anomalous ones name the band that contributed most), alarm after N anomalous windows",
        "monitor --model MODEL [--input FILE.wav|-] [--rate HZ] [--channels N] [--window 10s] [--hop 1s] [--consecutive N] [--channel N|mean] [--json] [--threads N] [--device D] [--report-to URL --machine NAME] | monitor --to URL --machine NAME [--input FILE.wav|-] [--rate HZ] [--channels N] [--channel N|mean]",
        [
            new("--model", "MODEL", "model file written by 'nasd fit' (any detector, any features: log-mel or a backbone)"),
            new("--backbone", "W", "the model's backbone file, when it moved since fitting (must have the same SHA-256)"),
            new("--input", "FILE|-", "a WAV file (read as a stream), or - for standard input: a WAV stream (its header is read), else raw 16-bit little-endian PCM", "-"),
            new("--rate", "HZ", "sample rate of raw PCM on standard input (a WAV header carries its own); resampled to the model's rate", "16000"),
            new("--channels", "N", "interleaved channels of raw PCM on standard input (a WAV header carries its own)", "1"),
            new("--window", "DURATION", "window scored each hop: 10s, 2.5s, 500ms", "10s"),
            new("--hop", "DURATION", "time between scores (at most the window)", "1s"),
            new("--consecutive", "N", "anomalous windows in a row that raise the alarm", "3"),
            new("--threshold", "X", "decision threshold: a window is anomalous when its score exceeds it", "the model's (see 'nasd calibrate')"),
            new("--channel", "N|mean", "channel of a multi-channel input, or their mean", "0"),
            .. CommandSpec.ComputeOptions,
            new("--json", null, "readings with their per-hop latency (latency_ms: features and score of the window)"),
            new("--to", "URL", "send the stream to 'nasd serve' at URL instead of scoring here (the server holds the machine's model); its readings are printed"),
            new("--report-to", "URL", "score here and also send each reading to 'nasd serve' at URL (little bandwidth: readings only)"),
            new("--machine", "NAME", "the machine registered on the server (with --to or --report-to)"),
        ],
        [
            "arecord -q -f S16_LE -c 1 -r 16000 | nasd monitor --model fan.safetensors --input -",
            "arecord -q -t wav -f S16_LE -c 2 -r 48000 | nasd monitor --model fan.safetensors --channel mean --json",
            "nasd monitor --model fan.safetensors --input line_recording.wav --window 10s --hop 1s",
            "nasd monitor --model pump.safetensors --input - --rate 48000 --consecutive 5 < capture.raw",
            "nasd monitor --model fan.safetensors --input long.wav --threshold 24.5 | grep '\"alarm\":true'",
            "arecord -q -f S16_LE -c 1 -r 16000 | nasd monitor --to http://server:5000 --machine pump-3",
            "arecord -q -f S16_LE -c 1 -r 16000 | nasd monitor --model pump3.safetensors --report-to http://server:5000 --machine pump-3",
        ],
        Run);

    static int Run(ParsedArgs args)
    {
        if (args.String("--to") is not null) return ServeClient.StreamTo(args);
        string model = args.String("--model") ?? throw new UsageException("monitor: --model MODEL is required", "train one with 'nasd fit'");
        string input = args.String("--input") ?? "-";
        int rate = args.Int("--rate", 16000, 1, 10_000_000), channels = args.Int("--channels", 1, 1, 1024);
        if (input != "-" && (args.String("--rate") ?? args.String("--channels")) is not null)
            throw new UsageException("monitor: --rate and --channels apply to raw PCM on standard input; a WAV file carries its own", "drop them, or use --input -");
        ChannelMix mix;
        try { mix = ChannelMix.Parse(args.String("--channel") ?? "0"); }
        catch (ArgumentException e) { throw new UsageException($"monitor: --channel: {e.Message}"); }
        double windowSeconds = Duration(args, "--window", 10), hopSeconds = Duration(args, "--hop", 1);
        int consecutive = args.Int("--consecutive", 3, 1, 1_000_000);
        double? threshold = null;
        if (args.String("--threshold") is string t)
            threshold = double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) && double.IsFinite(x)
                ? x : throw new UsageException($"monitor: --threshold takes a number, got '{t}'");
        if (!File.Exists(model)) throw new InputException($"{model}: no such model file", "train one with 'nasd fit'");
        bool json = args.Flag("--json");

        using var backend = Compute.OpenBackend(args);
        var (detector, info) = DetectorFile.Load(model, backend);
        try
        {
            using var extractor = DetectorRunner.ExtractorFor(model, info, backend, args.String("--backbone"));
            int fs = extractor.SampleRate;
            int window = (int)Math.Round(windowSeconds * fs), hop = (int)Math.Round(hopSeconds * fs);
            if (window < 1 || hop < 1 || hop > window)
                throw new UsageException($"monitor: --hop ({hopSeconds} s) must be positive and at most --window ({windowSeconds} s)");
            var settings = new MonitorSettings(window, hop, threshold ?? info.Threshold.Threshold, consecutive);
            var monitor = new SlidingWindowMonitor(detector, extractor, settings, input == "-" ? "standard input" : input);
            var output = Console.Out;
            using var report = ServeClient.ReporterFor(args, settings.Threshold);
            void Print(MonitorReading r)
            {
                output.WriteLine(MonitorReadingJson.Line(r, json ? monitor.LastLatencyMs : null));
                report?.Send(r, monitor.LastLatencyMs);
                // A reading's garbage is collected with it (well under a millisecond): the process stays the same size for
                // hours, instead of growing and shrinking with the runtime's gen0 budget (±20 MB).
                GC.Collect(0);
            }

            var block = new float[8192];
            if (input == "-")
            {
                using var stdin = Console.OpenStandardInput();
                var reader = RawPcmReader.Open(stdin, PcmFormat.Pcm16(rate, channels), mix, fs, "standard input");
                if (reader.HasHeader && (args.String("--rate") ?? args.String("--channels")) is not null)
                    Console.Error.WriteLine($"nasd: note: standard input has a WAV header ({reader.Format.SampleRate} Hz, {reader.Format.Channels} channel(s)); --rate and --channels are ignored");
                int n;
                while ((n = reader.Read(block)) > 0) monitor.Push(block.AsSpan(0, n), Print);
            }
            else
            {
                using var reader = AudioFile.OpenStream(input, mix, fs);
                int n;
                while ((n = reader.Read(block)) > 0) monitor.Push(block.AsSpan(0, n), Print);
            }
            if (monitor.SamplesReceived < window)
                throw new InputException(string.Create(CultureInfo.InvariantCulture,
                    $"{(input == "-" ? "standard input" : input)}: the stream ended after {(double)monitor.SamplesReceived / fs:0.###} s, shorter than one window ({windowSeconds:0.###} s)"),
                    "give a longer input or a shorter --window");
        }
        catch (ArgumentException e) when (e.Message.StartsWith(input == "-" ? "standard input" : input, StringComparison.Ordinal))
        {
            throw new InputException(e.Message, "see 'nasd monitor --help'");
        }
        finally { (detector as IDisposable)?.Dispose(); }
        return ExitCode.Ok;
    }

    /// <summary>Parses 10s, 2.5s, 500ms, 1min or a bare number of seconds.</summary>
    internal static double Duration(ParsedArgs args, string name, double fallback)
    {
        string? text = args.String(name);
        if (text is null) return fallback;
        string t = text.Trim().ToLowerInvariant();
        double scale = 1;
        if (t.EndsWith("ms", StringComparison.Ordinal)) { scale = 1e-3; t = t[..^2]; }
        else if (t.EndsWith("min", StringComparison.Ordinal)) { scale = 60; t = t[..^3]; }
        else if (t.EndsWith('s')) t = t[..^1];
        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v) || v <= 0 || v * scale > 24 * 3600)
            throw new UsageException($"monitor: {name} takes a positive duration such as 10s, 2.5s or 500ms, got '{text}'");
        return v * scale;
    }
}
