using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using NativeASD.Engine;
using NativeASD.Engine.Audio;
using NativeASD.Engine.Frontend;
using NativeASD.Engine.IO;
using NativeASD.Engine.Architectures;
using NativeASD.Weights;
using NativeASD.Detection.Backbones;

namespace NativeASD.Cli.Commands;

/// <summary><c>nasd embed</c>: a WAV file through a pretrained backbone's own frontend and network into tap features (.npy).</summary>
public static class EmbedCommand
{
    public static readonly CommandSpec Spec = new(
        "embed",
        "pretrained-network features of a WAV file (pooled tap outputs) into a .npy",
        "embed --backbone W --tap NAME[,NAME...] IN.wav OUT.npy [--per-frame] [--channel N|mean] [--json]",
        [
            new("--backbone", "W", "weight file of a PANNs ResNet22/38, YAMNet, EfficientAT MobileNetV3 or honk res8 (.safetensors, .pth/.pt, .tflite)"),
            new("--arch", "NAME", "architecture, when the tensor names do not tell (panns-resnet22, panns-resnet38, yamnet, honk-res8, efficientat-mn)"),
            Backbone.FloatActivations,
            new("--tap", "NAME[,NAME...]", "tap points to read, e.g. layer2,layer3 (PANNs), layer10,embedding (YAMNet), features.12 (EfficientAT); 'list' prints them"),
            new("--per-frame", null, "write [frames, channels] (mean over frequency only) instead of one globally averaged vector"),
            new("--channel", "N|mean", "channel of a multi-channel file, or the mean of all channels", "0"),
            .. CommandSpec.ComputeOptions,
            Compute.ClipBatchOption,
            Compute.BatchOption,
            CommandSpec.Json,
        ],
        [
            "nasd embed --backbone resnet38.safetensors --tap layer2,layer3 normal_id_00_00000000.wav feats.npy",
            "nasd embed --backbone yamnet_spectra_in.tflite --tap embedding --per-frame clip.wav patches.npy",
            "nasd embed --backbone resnet38.safetensors --tap list",
            "nasd embed --backbone mn04_as_mAP_432.pt --tap features.12,embedding clip.wav feats.npy",
        ],
        Run, MinPositionals: 0, MaxPositionals: 2);

    static int Run(ParsedArgs args)
    {
        string weights = args.String("--backbone") ?? throw new UsageException("embed: --backbone W is required");
        string tapList = args.String("--tap") ?? throw new UsageException("embed: --tap NAME[,NAME...] is required", "'--tap list' prints the model's taps");
        var backend = Compute.OpenBackend(args);
        Compute.ClipBatch(args, batchIsClipBatch: true);   // checked like every feature command's; one file is one clip
        using var loaded = Backbone.Load(weights, args.String("--arch"), backend, !args.Flag("--float-activations"));
        var model = loaded.Model;
        if (tapList == "list")
        {
            if (args.Flag("--json")) Console.Out.WriteLine(JsonSerializer.Serialize(new { arch = loaded.Arch, taps = model.TapNames }));
            else Console.Out.WriteLine($"{loaded.Arch} taps: {string.Join(", ", model.TapNames)}");
            return ExitCode.Ok;
        }
        var taps = tapList.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        foreach (var t in taps)
            if (!model.TapNames.Contains(t))
                throw new UsageException($"embed: {loaded.Arch} has no tap '{t}'", $"taps: {string.Join(", ", model.TapNames)}");
        if (args.Positionals.Count != 2) throw new UsageException($"embed: expected IN.wav and OUT.npy, got {args.Positionals.Count} argument(s)", $"usage: nasd {Spec.Usage}");
        string input = args.Positionals[0], output = args.Positionals[1];
        bool perFrame = args.Flag("--per-frame");

        var sw = Stopwatch.StartNew();
        using var x = Backbone.Input(loaded, input, args.String("--channel"), backend, out var clip);
        using var result = Backbone.Run(loaded, x, taps, input);
        float[] data;
        int[] shape;
        var channels = taps.Select(t => result[t].Dim(1)).ToArray();
        if (perFrame)
        {
            var rows = taps.Select(t => (Tap: t, Rows: TapFeatures.PerFrame(result[t]))).ToList();
            int n = rows[0].Rows.Rows;
            if (rows.Any(r => r.Rows.Rows != n))
                throw new UsageException($"embed: --per-frame taps differ in frames: {string.Join(", ", rows.Select(r => $"{r.Tap} {r.Rows.Rows}"))}", "choose taps of one time resolution");
            int width = rows.Sum(r => r.Rows.Channels);
            data = new float[n * width];
            int at = 0;
            foreach (var (_, (values, _, c)) in rows)
            {
                for (int i = 0; i < n; i++) Array.Copy(values, i * c, data, i * width + at, c);
                at += c;
            }
            shape = [n, width];
        }
        else
        {
            data = taps.SelectMany(t => TapFeatures.GlobalMean(result[t])).ToArray();
            shape = [data.Length];
        }
        NpyFile.Write(output, data, shape);
        double ms = sw.Elapsed.TotalMilliseconds;

        if (args.Flag("--json"))
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                input, output, backbone = weights, arch = loaded.Arch, frontend = loaded.Frontend.Name, taps, channels, shape,
                per_frame = perFrame, input_shape = x.ShapeArray(), seconds = Math.Round(clip.Seconds, 6), ms = Math.Round(ms, 3),
            }));
        else
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{output}: [{string.Join(", ", shape)}] float32 ({loaded.Arch}, taps {string.Join("+", taps.Zip(channels, (t, c) => $"{t}[{c}]"))}, {(perFrame ? "per frame" : "global mean")}, input [{string.Join(",", x.ShapeArray())}], {ms:F0} ms)"));
        return ExitCode.Ok;
    }
}

/// <summary>Loading a backbone and preparing one clip for it, shared by <c>embed</c> and <c>tag</c>.</summary>
static class Backbone
{
    /// <summary>Models converted from int8 files emulate int8 activations (as the int8 runtime computes) unless this is given.</summary>
    public static readonly OptionSpec FloatActivations = new("--float-activations", null,
        "models from int8 files (YAMNet's TFLite): compute activations in float instead of emulating the int8 runtime");

    public static LoadedModel Load(string path, string? arch, Kernels.IBackend backend, bool int8Activations = true)
    {
        if (!File.Exists(path)) throw new InputException($"{path}: no such file");
        try { return ModelFiles.Load(path, backend, arch, int8Activations); }
        catch (WeightFormatException e) { throw new InputException(e.Message, "convert or check the file with 'nasd inspect'"); }
    }

    /// <summary>Reads the WAV at the model frontend's rate (resampling as needed) and builds the model input on
    /// <paramref name="backend"/> (on a device its frontend runs there too).</summary>
    public static Tensor Input(LoadedModel loaded, string path, string? channel, Kernels.IBackend backend, out AudioClip clip)
    {
        ChannelMix mix;
        try { mix = ChannelMix.Parse(channel ?? "0"); }
        catch (ArgumentException e) { throw new UsageException($"--channel: {e.Message}"); }
        try
        {
            clip = AudioFile.Read(path, mix, loaded.Frontend.SampleRate);
            using var frontend = new AudioFrontend(loaded.Frontend, backend);
            using var spectrogram = frontend.ComputeTensor([clip.Samples], clip.SampleRate, backend, [path]);
            return TapFeatures.Input(loaded.Frontend, spectrogram, path);
        }
        catch (ArgumentException e) { throw new InputException(e.Message); }
    }

    /// <summary>The forward pass; a clip the network cannot take (e.g. too short for its poolings) is an input error.</summary>
    public static TapOutputs Run(LoadedModel loaded, Tensor x, IReadOnlyCollection<string> taps, string path)
    {
        try { return loaded.Model.Forward(x, taps); }
        catch (ArgumentException e) { throw new InputException($"{path}: {e.Message}"); }
    }
}
