using NativeASD.Engine;
using NativeASD.Engine.Architectures;
using NativeASD.Engine.Frontend;
using NativeASD.Tests.Support;
using Xunit;

namespace NativeASD.Tests.Engine.Frontend;

/// <summary>
/// <see cref="AudioFrontend.ComputeTensor"/>: a batch of clips of one length as the network's input. On ilgpu-cpu the
/// STFT, mel and log of the whole batch run as device kernels (log kinds of every shipped preset; a log of the whole clip
/// or an MFCC finished on the host); each clip's slice must match the CPU frontend's features of that clip alone.
/// </summary>
public class FrontendBatchTests
{
    /// <summary>Two different clips (noise at two levels and a tone), so a swapped or shifted slice shows.</summary>
    static float[][] Clips(int rate, double seconds)
    {
        var random = new Random(7);
        int n = (int)(rate * seconds);
        return
        [
            [.. Enumerable.Range(0, n).Select(i => (float)(0.3 * (random.NextDouble() - 0.5) + 0.2 * Math.Sin(2 * Math.PI * 440 * i / rate)))],
            [.. Enumerable.Range(0, n).Select(_ => (float)(0.01 * (random.NextDouble() - 0.5)))],
        ];
    }

    public static TheoryData<string> Presets => new("panns16k", "yamnet", "efficientat", "dcase2020", "st-aed", "honk");

    [Theory]
    [MemberData(nameof(Presets))]
    public void A_device_batch_matches_the_cpu_clip_by_clip(string name)
    {
        var preset = FrontendPreset.Get(name);
        var clips = Clips(preset.SampleRate, 0.3);
        using var cpu = new AudioFrontend(preset, TestBackends.Reference);
        var device = TestBackends.Get("ilgpu-cpu");
        using var onDevice = new AudioFrontend(preset, device);
        using var batch = onDevice.ComputeTensor(clips, preset.SampleRate, device);
        var values = batch.ToArray();
        int frames = batch.Dim(2), bins = batch.Dim(3);
        Assert.Equal([clips.Length, 1, frames, bins], batch.ShapeArray());
        for (int c = 0; c < clips.Length; c++)
        {
            var expected = cpu.Compute(clips[c], preset.SampleRate);
            Assert.Equal(frames, expected.GetLength(0));
            double worst = 0;
            for (int t = 0; t < frames; t++)
                for (int b = 0; b < bins; b++)
                    worst = Math.Max(worst, Math.Abs(expected[t, b] - values[(c * frames + t) * bins + b]));
            // Log units (dB, ln): the device accumulates the mel bands in double, the CPU in float.
            Assert.True(worst < 2e-3, $"{name} clip {c}: max |device − cpu| = {worst}");
        }
    }

    [Fact]
    public void On_the_cpu_a_batch_is_the_clips_features_bit_for_bit()
    {
        var preset = FrontendPreset.Panns16k;
        var clips = Clips(preset.SampleRate, 0.3);
        using var fe = new AudioFrontend(preset, TestBackends.Reference);
        using var batch = fe.ComputeTensor(clips, preset.SampleRate, TestBackends.Reference);
        var values = batch.ToArray();
        var first = fe.Compute(clips[0], preset.SampleRate);
        var second = fe.Compute(clips[1], preset.SampleRate);
        Assert.Equal([.. first.Cast<float>(), .. second.Cast<float>()], values);
    }

    [Fact]
    public void A_batch_needs_clips_of_one_length()
    {
        using var fe = new AudioFrontend(FrontendPreset.Panns16k, TestBackends.Reference);
        var e = Assert.Throws<ArgumentException>(() => fe.ComputeTensor([new float[4000], new float[5000]], 16000, TestBackends.Reference));
        Assert.Contains("clips of one length", e.Message);
    }

    [Fact]
    public void Patches_gathered_on_the_backend_are_the_frame_stacking_patches()
    {
        var preset = FrontendPreset.Yamnet;
        var clips = Clips(preset.SampleRate, 1.5);
        using var fe = new AudioFrontend(preset, TestBackends.Reference);
        using var batch = fe.ComputeTensor(clips, preset.SampleRate, TestBackends.Reference);
        using var input = TapFeatures.Input(preset, batch, "clips");
        var expected = clips.SelectMany(c => FrameStacking.Patches(fe.Compute(c, preset.SampleRate), preset.PatchFrames, preset.PatchHop).Cast<float>()).ToArray();
        int perClip = TapFeatures.PatchCount(batch.Dim(2), preset);
        Assert.Equal([clips.Length * perClip, 1, preset.PatchFrames, preset.Bins], input.ShapeArray());
        Assert.Equal(expected, input.ToArray());
    }
}
