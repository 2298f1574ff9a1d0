using System.Buffers.Binary;
using NativeASD.Engine.Audio;
using NativeASD.Detection.Backbones;
using NativeASD.Detection.Detectors;
using NativeASD.Detection.Synth;

namespace NativeASD.Tests.Cli.Commands;

/// <summary>
/// nasd monitor with the default model (metric head on the shipped backbone's features, as 'nasd fit' makes it): on a
/// WAV file, a WAV stream on standard input (header read, not taken for samples), raw stereo PCM at another rate, --json.
/// </summary>
public sealed class MonitorCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-monitor-cli").FullName;
    readonly string _model;
    readonly float[] _stream;

    public MonitorCommandTests()
    {
        var options = new SynthOptions(Seed: 5, Seconds: 2);
        var generator = new MachineSoundGenerator(options);
        string train = Directory.CreateDirectory(Path.Combine(_dir, "train")).FullName;
        for (int i = 0; i < 6; i++)
        {
            var clip = new SynthClip("fan", 0, "train", i, AnomalyKind.None);
            WavWriter.Write(Path.Combine(train, clip.FileName), generator.Generate(clip), 16000);
        }
        _model = Path.Combine(_dir, "default.safetensors");
        DetectorRunner.Fit(DetectorRunner.CollectWavs([train]), _model, new FitSettings("metric", Metric: new MetricOptions(Epochs: 2),
            Backbone: ShippedBackbone.Locate(), Taps: ShippedBackbone.DefaultTaps));
        _stream = [.. Enumerable.Range(0, 3).SelectMany(i => generator.Generate(new SynthClip("fan", 0, "test", i, AnomalyKind.None)))
            .Select(x => (float)(Math.Round(x * 32767.0) / 32768))];
    }

    public void Dispose() => Directory.Delete(_dir, true);

    static string[] Lines(NasdProcess.Result r)
    {
        Assert.True(r.ExitCode == 0, r.Stderr);
        return r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    [Fact]
    public void TheDefaultModelMonitorsAWavFileAndTheSameWavOnStandardInput()
    {
        string wav = Path.Combine(_dir, "stream.wav");
        WavWriter.Write(wav, _stream, 16000);
        string[] args = ["monitor", "--model", _model, "--window", "2s", "--hop", "1s", "--threads", "1"];
        var fromFile = Lines(NasdProcess.Run([.. args, "--input", wav]));
        Assert.Equal(5, fromFile.Length);                          // 6 s of audio: windows ending at 2, 3, 4, 5, 6 s
        Assert.Matches(@"^\{""time"":2,""score"":[0-9.E+-]+,""decision"":[01],""alarm"":(true|false),""consecutive"":\d+\}$", fromFile[0]);
        var fromStdin = Lines(NasdProcess.RunWithInput(File.ReadAllBytes(wav), [.. args, "--input", "-"]));
        Assert.Equal(fromFile, fromStdin);

        // Raw stereo PCM at 32 kHz, the signal on channel 1: resampled to the model's rate, same readings as the 32 kHz WAV.
        var up = Resampler.Resample(_stream, 16000, 32000);
        var stereo = new float[2 * up.Length];
        for (int i = 0; i < up.Length; i++) stereo[2 * i + 1] = up[i];
        var raw = new byte[2 * stereo.Length];
        RawPcmReader.Encode(stereo, raw);
        string wav32 = Path.Combine(_dir, "stream32.wav");
        WavWriter.Write(wav32, stereo, 32000, channels: 2);
        var rawLines = Lines(NasdProcess.RunWithInput(raw, [.. args, "--rate", "32000", "--channels", "2", "--channel", "1"]));
        Assert.Equal(Lines(NasdProcess.Run([.. args, "--input", wav32, "--channel", "1"])), rawLines);
    }

    [Fact]
    public void ALogMelModelOfAnotherPresetMonitorsToo()
    {
        // vae: 11 stacked frames of the vae60 preset (60 mel bins, 1024-point FFT).
        string vae = Path.Combine(_dir, "vae.safetensors");
        DetectorRunner.Fit(DetectorRunner.CollectWavs([Path.Combine(_dir, "train")]), vae, new FitSettings("vae", Vae: new VaeOptions(Epochs: 1)));
        var raw = new byte[2 * _stream.Length];
        RawPcmReader.Encode(_stream, raw);
        var lines = Lines(NasdProcess.RunWithInput(raw, "monitor", "--model", vae, "--window", "2s", "--hop", "1s", "--threads", "1"));
        Assert.Equal(5, lines.Length);
    }

    [Fact]
    public void JsonReadingsCarryTheirLatency()
    {
        var raw = new byte[2 * _stream.Length];
        RawPcmReader.Encode(_stream, raw);
        var lines = Lines(NasdProcess.RunWithInput(raw, "monitor", "--model", _model, "--window", "2s", "--hop", "2s", "--threads", "1", "--json"));
        Assert.Equal(3, lines.Length);
        // An anomalous window also names its top band, last.
        Assert.All(lines, l => Assert.Matches(@"""consecutive"":\d+,""latency_ms"":[0-9.]+(,""band"":\{[^}]*\})?\}$", l));
    }

    [Fact]
    public void AWavHeaderOnStandardInputIsNotReadAsSamples()
    {
        // A header that declares 8 kHz: read as 16 kHz samples it would give twice as many windows.
        string wav = Path.Combine(_dir, "eight.wav");
        WavWriter.Write(wav, _stream.AsSpan(0, 8000 * 4), 8000);
        var lines = Lines(NasdProcess.RunWithInput(File.ReadAllBytes(wav), "monitor", "--model", _model, "--window", "2s", "--hop", "1s", "--threads", "1"));
        Assert.Equal(3, lines.Length);                             // 4 s at 8 kHz
        var bytes = File.ReadAllBytes(wav);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(34), 12);   // 12-bit PCM: refused, naming standard input
        var bad = NasdProcess.RunWithInput(bytes, "monitor", "--model", _model, "--window", "2s");
        Assert.Equal(2, bad.ExitCode);
        Assert.StartsWith("nasd: error: standard input: ", bad.Stderr);
    }
}
