using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using NativeASD.Engine.Audio;
using NativeASD.Engine.Frontend;
using NativeASD.Engine.IO;

namespace NativeASD.Cli.Commands;

/// <summary><c>nasd features</c>: a WAV file through a frontend preset into a float32 .npy [frames, bins].</summary>
public static class FeaturesCommand
{
    public static readonly CommandSpec Spec = new(
        "features",
        "compute frontend features (log-mel, MFCC) of a WAV file into a .npy",
        "features --preset NAME IN.wav OUT.npy [--channel N|mean] [--stack K | --patches] [--json]\n       nasd features --list [--json]",
        [
            new("--preset", "NAME", "frontend preset: panns, panns16k, dcase2020, vae60, yamnet, honk, efficientat (see --list)"),
            new("--channel", "N|mean", "channel of a multi-channel file, or the mean of all channels", "0"),
            new("--stack", "K", "concatenate K consecutive frames per row (the DCASE baseline's 5 × 128 = 640)", "1"),
            new("--patches", null, "write [patches, frames, bins] windows as the preset defines (yamnet: 96 frames, hop 48)"),
            new("--precision", "single|double", "STFT/mel arithmetic (double meets the torch references to 1e-3 dB everywhere)", "single"),
            .. CommandSpec.ComputeOptions,
            new("--list", null, "print the presets and their parameters"),
            CommandSpec.Json,
        ],
        [
            "nasd features --preset dcase2020 normal_id_00_00000000.wav logmel.npy",
            "nasd features --preset dcase2020 --stack 5 clip.wav vectors.npy",
            "nasd features --preset yamnet --patches --channel mean mimii_8ch.wav patches.npy",
            "nasd features --preset panns --device cuda clip.wav logmel.npy",
            "nasd features --list",
        ],
        Run, MinPositionals: 0, MaxPositionals: 2);

    static int Run(ParsedArgs args)
    {
        if (args.Flag("--list")) return List(args.Flag("--json"));
        string name = args.String("--preset") ?? throw new UsageException("features: --preset NAME is required", "see 'nasd features --list'");
        if (args.Positionals.Count != 2) throw new UsageException($"features: expected IN.wav and OUT.npy, got {args.Positionals.Count} argument(s)", $"usage: nasd {Spec.Usage}");
        FrontendPreset preset;
        try { preset = FrontendPreset.Get(name); }
        catch (ArgumentException e) { throw new UsageException(e.Message, "see 'nasd features --list'"); }
        ChannelMix mix;
        try { mix = ChannelMix.Parse(args.String("--channel") ?? "0"); }
        catch (ArgumentException e) { throw new UsageException($"features: --channel: {e.Message}"); }
        int stack = args.Int("--stack", 1, 1, 1000);
        bool patches = args.Flag("--patches");
        if (patches && stack > 1) throw new UsageException("features: --stack and --patches exclude each other");
        if (patches && preset.PatchFrames == 0) throw new UsageException($"features: preset '{preset.Name}' defines no patches", "use --stack K, or a preset with patches (yamnet)");
        var precision = (args.String("--precision") ?? "single") switch
        {
            "single" => FrontendPrecision.Single,
            "double" => FrontendPrecision.Double,
            var other => throw new UsageException($"features: --precision takes single or double, got '{other}'"),
        };
        string input = args.Positionals[0], output = args.Positionals[1];

        var info = AudioFile.Probe(input);
        AudioClip clip;
        try { clip = AudioFile.Read(input, mix, preset.SampleRate); }
        catch (ArgumentException e) { throw new InputException(e.Message); }
        using var backend = Compute.OpenBackend(args);
        var sw = Stopwatch.StartNew();
        using var frontend = new AudioFrontend(preset, backend, precision);
        var features = frontend.Compute(clip);
        double ms = sw.Elapsed.TotalMilliseconds;
        int frames = features.GetLength(0), bins = features.GetLength(1);

        float[] data;
        int[] shape;
        if (patches)
        {
            var p = FrameStacking.Patches(features, preset.PatchFrames, preset.PatchHop);
            if (p.GetLength(0) == 0)
                throw new InputException($"{input}: {frames} frames are fewer than one {preset.PatchFrames}-frame patch");
            shape = [p.GetLength(0), p.GetLength(1), p.GetLength(2)];
            data = Flatten(p);
        }
        else
        {
            var rows = stack > 1 ? FrameStacking.Stack(features, stack) : features;
            if (rows.GetLength(0) == 0) throw new InputException($"{input}: {frames} frames are fewer than the {stack} stacked frames");
            shape = [rows.GetLength(0), rows.GetLength(1)];
            data = Flatten(rows);
        }
        RefuseNonFinite(data, shape[^1], input, mix);
        NpyFile.Write(output, data, shape);

        var ic = CultureInfo.InvariantCulture;
        if (args.Flag("--json"))
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                input, output, preset = preset.Name,
                shape, frames, bins,
                stack = stack > 1 ? (int?)stack : null,
                patches = patches ? (int?)shape[0] : null,
                channel = mix.ToString(), channels = info.Channels,
                file_rate = info.SampleRate, sample_rate = preset.SampleRate, resampled = info.SampleRate != preset.SampleRate,
                seconds = Math.Round(clip.Seconds, 6),
                precision = precision.ToString().ToLowerInvariant(),
                device = backend.Description,
                min = data.Min(), max = data.Max(), mean = Math.Round(data.Average(v => (double)v), 6),
                ms = Math.Round(ms, 3),
            }));
        }
        else
        {
            string resampled = info.SampleRate != preset.SampleRate ? $" resampled from {info.SampleRate} Hz" : "";
            Console.Out.WriteLine(string.Create(ic,
                $"{output}: [{string.Join(", ", shape)}] float32 ({preset.Name}, {clip.Seconds:F2} s at {preset.SampleRate} Hz{resampled}, channel {mix} of {info.Channels}, {frames} frames x {bins} bins, {ms:F1} ms)"));
        }
        return ExitCode.Ok;
    }

    /// <summary>NaN or ±Inf features (e.g. from float samples far outside [-1, 1] whose power overflows) are an input error: no file is written.</summary>
    static void RefuseNonFinite(float[] data, int width, string input, ChannelMix mix)
    {
        int bad = Array.FindIndex(data, v => !float.IsFinite(v));
        if (bad < 0) return;
        float peak = 0;
        try
        {
            using var reader = AudioFile.OpenStream(input, mix);
            var block = new float[8192];
            int n;
            while ((n = reader.Read(block)) > 0)
                foreach (float v in block.AsSpan(0, n)) peak = Math.Max(peak, MathF.Abs(v));
        }
        catch (Exception e) when (e is IOException or ArgumentException) { }
        throw new InputException(string.Create(CultureInfo.InvariantCulture,
            $"{input}: features are not finite (row {bad / width}, column {bad % width} is {data[bad]}); the samples reach {peak:G4}, far outside [-1, 1]"),
            "scale the recording to [-1, 1] (e.g. sox IN -b 16 OUT.wav gain -n)");
    }

    static float[] Flatten(Array a)
    {
        var data = new float[a.Length];
        Buffer.BlockCopy(a, 0, data, 0, data.Length * sizeof(float));
        return data;
    }

    static int List(bool json)
    {
        if (json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(FrontendPreset.All.Select(p => new
            {
                name = p.Name, description = p.Description, sample_rate = p.SampleRate, pre_emphasis = p.PreEmphasis, n_fft = p.NFft, win_length = p.EffectiveWinLength,
                hop = p.Hop, window = p.Window.ToString().ToLowerInvariant(), periodic = p.PeriodicWindow, center = p.Center,
                pad_mode = p.PadMode.ToString().ToLowerInvariant(), alignment = p.Alignment.ToString().ToLowerInvariant(),
                spectrum = p.Spectrum.ToString().ToLowerInvariant(), mel_bins = p.MelBins, fmin = p.FMin, fmax = p.EffectiveFMax,
                mel_scale = p.MelScale.ToString().ToLowerInvariant(), mel_norm = p.MelNorm.ToString().ToLowerInvariant(),
                mel_shape = p.MelShape.ToString().ToLowerInvariant(), log = p.Log.ToString().ToLowerInvariant(), log_offset = p.LogOffset,
                amin = p.Amin, reference = p.Ref, reference_max = p.RefMax, top_db = p.TopDb, norm_offset = p.NormOffset, norm_divisor = p.NormDivisor, mfcc = p.Mfcc, bins = p.Bins, stack_frames = p.StackFrames,
                patch_frames = p.PatchFrames, patch_hop = p.PatchHop,
            })));
            return ExitCode.Ok;
        }
        var sb = new StringBuilder();
        foreach (var p in FrontendPreset.All)
        {
            sb.AppendLine($"{p.Name,-10} {p.Description}");
            sb.AppendLine($"{"",-10} {p.Summary()}; output [frames, {p.Bins}]");
        }
        Console.Out.Write(sb.ToString());
        return ExitCode.Ok;
    }
}
