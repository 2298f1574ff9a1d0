using System.Security.Cryptography;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Features;
using NativeASD.Kernels;
using NativeASD.Weights;

namespace NativeASD.Serve.Machines;

/// <summary>A machine's model as loaded from a file <c>nasd fit</c> wrote: its detector, its feature extractor and its metadata.</summary>
public sealed class MachineModel : IDisposable
{
    MachineModel(IAnomalyDetector detector, FeatureExtractor extractor, DetectorModelInfo info)
    {
        Detector = detector; Extractor = extractor; Info = info;
    }

    public IAnomalyDetector Detector { get; }
    public FeatureExtractor Extractor { get; }
    public DetectorModelInfo Info { get; }

    /// <summary>Loads the model and its features (a backbone must be where the model says, with the same SHA-256).</summary>
    /// <exception cref="ModelLoadException">the file is missing, damaged or not a model; the message names the file and the problem.</exception>
    public static MachineModel Load(string path, IBackend backend)
    {
        IAnomalyDetector? detector = null;
        try
        {
            (detector, var info) = DetectorFile.Load(path, backend);
            var extractor = DetectorRunner.ExtractorFor(path, info, backend);
            return new MachineModel(detector, extractor, info);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException
            or WeightFormatException or FormatException or KeyNotFoundException or NotSupportedException)
        {
            (detector as IDisposable)?.Dispose();
            throw new ModelLoadException(e.Message, e);
        }
    }

    /// <summary>Checks that <paramref name="bytes"/> are a model this server can run, then keeps them under <paramref name="folder"/>
    /// as NAME-SHA12.safetensors (written atomically); the file name (relative to the folder) and the SHA-256.</summary>
    public static (string File, string Sha256) Import(string folder, string machine, byte[] bytes, IBackend backend)
    {
        string sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        string file = $"{machine}-{sha[..12]}.safetensors";
        string path = Path.Combine(folder, file);
        string temp = Path.Combine(folder, $".{file}.{Environment.ProcessId}.tmp");
        try
        {
            File.WriteAllBytes(temp, bytes);
            // The file is loaded where it will live: a backbone named by a relative path resolves the same way later.
            Load(temp, backend).Dispose();
            File.Move(temp, path, overwrite: true);
        }
        catch (ModelLoadException e) { throw new ModelLoadException(e.Message.Replace(temp, $"the model for {machine}", StringComparison.Ordinal), e); }
        finally { File.Delete(temp); }
        return (file, sha);
    }

    public void Dispose()
    {
        (Detector as IDisposable)?.Dispose();
        Extractor.Dispose();
    }
}

/// <summary>A model file that cannot be run; the message names the file and the problem.</summary>
public sealed class ModelLoadException(string message, Exception inner) : Exception(message, inner);
