using NativeASD.Weights.Keras;
using NativeASD.Weights.Onnx;
using NativeASD.Weights.Safetensors;
using NativeASD.Weights.Tflite;
using NativeASD.Weights.Torch;

namespace NativeASD.Weights;

/// <summary>One weight file format: how to recognise its first bytes and how to open it (null: recognised, reader not built in).</summary>
public sealed record WeightFormat(string Name, Func<ReadOnlySpan<byte>, string, bool> Sniff, Func<string, IWeightSource>? Open);

/// <summary>Opens any supported weight file by its magic bytes.</summary>
public static class WeightFiles
{
    /// <summary>Bytes of the file start handed to every sniffer.</summary>
    public const int HeadBytes = 16;

    static readonly byte[] Hdf5Magic = [0x89, (byte)'H', (byte)'D', (byte)'F', (byte)'\r', (byte)'\n', 0x1a, (byte)'\n'];

    /// <summary>
    /// The registration point: formats in the order they are tried.
    /// </summary>
    public static readonly List<WeightFormat> Formats =
    [
        new("torch-zip", (h, _) => h.Length >= 4 && h[0] == (byte)'P' && h[1] == (byte)'K' && h[2] == 3 && h[3] == 4, TorchZipReader.Open),
        new("torch-legacy", (h, _) => TorchLegacyReader.Sniff(h), TorchLegacyReader.Open),
        new("keras-h5", (h, _) => h.Length >= 8 && h[..8].SequenceEqual(Hdf5Magic), KerasH5File.Open),
        new("tflite", (h, _) => h.Length >= 8 && h[4..8].SequenceEqual("TFL3"u8), TfliteFile.Open),
        new("safetensors", (h, _) => SafetensorsFile.Sniff(h), SafetensorsFile.Open),
        // ONNX has no magic: a ModelProto starts with field 1 (ir_version, varint, tag 0x08); the extension confirms it.
        new("onnx", (h, p) => h.Length >= 2 && h[0] == 0x08 && p.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase), OnnxFile.Open),
    ];

    /// <summary>Opens <paramref name="path"/> with the reader its magic bytes select; throws <see cref="WeightFormatException"/> for unknown or unusable files.</summary>
    public static IWeightSource Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file", path);
        var head = new byte[HeadBytes];
        int n;
        using (var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1))
            n = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        var format = Detect(head.AsSpan(0, n), path)
            ?? throw new WeightFormatException(path, "unrecognised weight file format (supported: torch zip and legacy .pt/.pth, safetensors, tflite, onnx, keras .h5)");
        if (format.Open is null)
            throw new WeightFormatException(path, $"format recognised as {format.Name}, but its reader is not built into this binary");
        return format.Open(path);
    }

    public static WeightFormat? Detect(ReadOnlySpan<byte> head, string path)
    {
        foreach (var f in Formats)
            if (f.Sniff(head, path)) return f;
        return null;
    }

    /// <summary>
    /// Reads a format from an open file: on any failure the file is closed, and a read past its end becomes
    /// "file ends early (truncated)" naming <paramref name="path"/>.
    /// </summary>
    internal static T ParseOrClose<T>(string path, FileStream file, Func<T> parse)
    {
        try { return parse(); }
        catch (EndOfStreamException e)
        {
            file.Dispose();
            throw new WeightFormatException(path, "file ends early (truncated)", e);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }
}
