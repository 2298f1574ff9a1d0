using System.Text.Json;
using NativeASD.Engine.Audio;
using NativeASD.Engine.Frontend;
using NativeASD.Engine.IO;
using NativeASD.Engine.Architectures;
using NativeASD.Tests.Engine.Architectures;
using NativeASD.Weights;
using NativeASD.Detection.Backbones;
using NativeASD.Weights.Safetensors;

namespace NativeASD.Tests.Cli.Commands;

/// <summary><c>nasd embed</c> and <c>nasd tag</c> as processes: outputs equal the library's, errors have the right exit codes.</summary>
public sealed class EmbedTagCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-embed-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The narrow ResNet22 fixture as a safetensors file in the checkpoint layout (zero frontend tensors included).</summary>
    string NarrowPanns()
    {
        var c = ArchFixtures.Get("resnet22_w32");
        var tensors = c.StateTensors("weights").Select(t => t.Name.EndsWith("num_batches_tracked")
            ? SafetensorsTensor.Int64(t.Name, [], [(long)t.Read()[0]])
            : SafetensorsTensor.Float32(t.Name, t.Shape, t.Read())).ToList();
        tensors.Add(SafetensorsTensor.Float32("spectrogram_extractor.stft.conv_real.weight", [513, 1, 1024], new float[513 * 1024]));
        tensors.Add(SafetensorsTensor.Float32("spectrogram_extractor.stft.conv_imag.weight", [513, 1, 1024], new float[513 * 1024]));
        tensors.Add(SafetensorsTensor.Float32("logmel_extractor.melW", [513, 64], new float[513 * 64]));
        string path = Path.Combine(_dir, "resnet22_w32.safetensors");
        AtomicFile.Write(path, s => SafetensorsWriter.Write(s, path, tensors));
        return path;
    }

    string Noise(double seconds, int rate = 16000)
    {
        var rng = new Random(7);
        var samples = new float[(int)(seconds * rate)];
        for (int i = 0; i < samples.Length; i++) samples[i] = (float)(0.1 * (rng.NextDouble() * 2 - 1) + 0.2 * Math.Sin(2 * Math.PI * 440 * i / rate));
        string path = Path.Combine(_dir, $"noise_{seconds}.wav");
        WavWriter.Write(path, samples, rate);
        return path;
    }

    [Fact]
    public void EmbedWritesTheLibrarysPooledTaps()
    {
        string weights = NarrowPanns(), wav = Noise(1.5), output = Path.Combine(_dir, "e.npy");
        var r = NasdProcess.Run("embed", "--backbone", weights, "--tap", "layer2,embedding", wav, output, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var json = JsonDocument.Parse(r.Stdout);
        Assert.Equal("panns-resnet22", json.RootElement.GetProperty("arch").GetString());
        var (data, shape) = NpyFile.Read(output);

        using var loaded = ModelFiles.Load(weights);
        using var frontend = new NativeASD.Engine.Frontend.AudioFrontend(loaded.Frontend);
        var features = frontend.Compute(AudioFile.Read(wav, default, loaded.Frontend.SampleRate));
        using var x = TapFeatures.Input(loaded.Frontend, features, wav);
        using var taps = loaded.Model.Forward(x, ["layer2", "embedding"]);
        float[] expected = [.. TapFeatures.GlobalMean(taps["layer2"]), .. TapFeatures.GlobalMean(taps["embedding"])];
        Assert.Equal([expected.Length], shape);
        Assert.Equal(expected, data);
    }

    [Fact]
    public void EmbedPerFrameGivesOneRowPerTimeStep()
    {
        string weights = NarrowPanns(), wav = Noise(2.0), output = Path.Combine(_dir, "f.npy");
        var r = NasdProcess.Run("embed", "--backbone", weights, "--tap", "layer3", "--per-frame", wav, output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var (_, shape) = NpyFile.Read(output);
        // 2 s at 32 kHz, hop 320, centred: 201 frames → /2 (conv_block1) → /2 (layer2) → /2 (layer3) = 25
        Assert.Equal([25, 8], shape);
    }

    [Fact]
    public void EmbedErrorsHaveUsageAndInputExitCodes()
    {
        string weights = NarrowPanns();
        var unknown = NasdProcess.Run("embed", "--backbone", weights, "--tap", "layer9", Noise(1.0), Path.Combine(_dir, "x.npy"));
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("layer9", unknown.Stderr);
        Assert.Contains("conv_block_after1", unknown.Stderr);

        var tooShort = NasdProcess.Run("embed", "--backbone", weights, "--tap", "layer1", Noise(0.2), Path.Combine(_dir, "y.npy"));
        Assert.Equal(2, tooShort.ExitCode);
        Assert.Contains("frames", tooShort.Stderr);

        var missing = NasdProcess.Run("embed", "--backbone", Path.Combine(_dir, "none.safetensors"), "--tap", "layer1", Noise(1.0), Path.Combine(_dir, "z.npy"));
        Assert.Equal(2, missing.ExitCode);
    }

    /// <summary>YAMNet's golden clip (15600 samples at 16 kHz, ../shared) tagged through the whole pipeline: Speech first, p = 0.97 ± 0.02.</summary>
    [SkippableFact]
    public void TagYamNetGoldenAudioIsSpeech()
    {
        string tflite = SharedData.Require("weights/yamnet_spectra_in.tflite");
        var raw = File.ReadAllBytes(SharedData.Require("weights/yamnet_test_audio.bin"));
        var samples = new float[raw.Length / 2];
        for (int i = 0; i < samples.Length; i++) samples[i] = BitConverter.ToInt16(raw, 2 * i) / 32768f;
        string wav = Path.Combine(_dir, "speech.wav");
        WavWriter.Write(wav, samples, 16000);
        var r = NasdProcess.Run("tag", "--backbone", tflite, wav, "--top", "3", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var json = JsonDocument.Parse(r.Stdout);
        var top = json.RootElement.GetProperty("top")[0];
        Assert.Equal("Speech", top.GetProperty("label").GetString());
        // int8 activation emulation is the default for the int8 file: the 0.97 ± 0.02 (measured 0.96875)
        Assert.True(json.RootElement.GetProperty("int8_activations").GetBoolean());
        Assert.InRange(top.GetProperty("score").GetDouble(), 0.95, 0.99);

        var plain = NasdProcess.Run("tag", "--backbone", tflite, wav, "--top", "1", "--json", "--float-activations");
        Assert.True(plain.ExitCode == 0, plain.Stderr);
        using var plainJson = JsonDocument.Parse(plain.Stdout);
        Assert.False(plainJson.RootElement.GetProperty("int8_activations").GetBoolean());
        Assert.Equal("Speech", plainJson.RootElement.GetProperty("top")[0].GetProperty("label").GetString());
    }

    [SkippableFact]
    public void TagHonkUsesItsBuiltInLabels()
    {
        string res8 = SharedData.Require("weights/res8.pt");
        var r = NasdProcess.Run("tag", "--backbone", res8, Noise(1.0), "--top", "12");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("__silence__", r.Stdout);
        Assert.Contains("stop", r.Stdout);
    }
}
