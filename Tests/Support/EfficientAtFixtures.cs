using System.Text.Json;
using NativeASD.Engine.Audio;

namespace NativeASD.Tests;

/// <summary>
/// Tests/Fixtures/efficientat (written by Tests/Reference/make_efficientat_references.py): torch's frontend, taps and
/// scores of mn04_as_mAP_432.pt on real clips, one fine-tuning step, and layer cases; plus the clips' 32 kHz samples as
/// the engine reads them (the script resamples with a float64 port of the same resampler).
/// </summary>
public static class EfficientAtFixtures
{
    public const string Weights = "weights/mn04_as_mAP_432.pt";

    static readonly Lazy<JsonElement> Root = new(() =>
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.PathOf("efficientat", "manifest.json")));
        return doc.RootElement.Clone();
    });

    public static JsonElement Manifest => Root.Value;

    public static JsonElement Clip(string id) => Manifest.GetProperty("clips").EnumerateArray().Single(c => c.GetProperty("id").GetString() == id);

    public static TheoryData<string> ClipIds(bool whole)
    {
        var data = new TheoryData<string>();
        foreach (var c in Manifest.GetProperty("clips").EnumerateArray())
            if (c.TryGetProperty("frontend_every", out _) != whole) data.Add(c.GetProperty("id").GetString()!);
        return data;
    }

    public static (float[] Data, int[] Shape) Npy(string name) => Fixtures.Npy("efficientat", name);

    /// <summary>A clip's samples at 32 kHz as the engine reads them: the raw int16 YAMNet test clip, or a WAV, resampled from 16 kHz.</summary>
    public static AudioClip Samples(JsonElement clip)
    {
        string source = clip.GetProperty("source").GetString()!;
        string path = SharedData.Require(source);
        if (!source.EndsWith(".bin", StringComparison.Ordinal)) return AudioFile.Read(path, default, 32000);
        return new AudioClip(Resampler.Resample(Speech16k(), 16000, 32000), 32000, path);
    }

    /// <summary>yamnet_test_audio.bin (../shared/weights): 15600 little-endian int16 samples of speech at 16 kHz, as floats / 32768.</summary>
    public static float[] Speech16k()
    {
        var raw = File.ReadAllBytes(SharedData.Require("weights/yamnet_test_audio.bin"));
        var pcm = new float[raw.Length / 2];
        for (int i = 0; i < pcm.Length; i++) pcm[i] = BitConverter.ToInt16(raw, 2 * i) / 32768f;
        return pcm;
    }

    /// <summary>‖actual − expected‖ / ‖expected‖ in double.</summary>
    public static double RelL2(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double err = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = (double)actual[i] - expected[i];
            err += d * d;
            norm += (double)expected[i] * expected[i];
        }
        return Math.Sqrt(err / Math.Max(norm, 1e-300));
    }

    public static double MaxAbs(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double m = 0;
        for (int i = 0; i < expected.Length; i++) m = Math.Max(m, Math.Abs((double)actual[i] - expected[i]));
        return m;
    }
}
