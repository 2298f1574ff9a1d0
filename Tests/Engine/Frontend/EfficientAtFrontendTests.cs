using NativeASD.Engine.Frontend;
using Xunit.Abstractions;

namespace NativeASD.Tests.Engine.Frontend;

/// <summary>
/// The <c>efficientat</c> preset against EfficientAT's AugmentMelSTFT (evaluation mode) computed by torch on real clips
/// (the YAMNet test clip and two DCASE 2020 clips, resampled to 32 kHz): at most 1e-4 absolute everywhere.
/// </summary>
public class EfficientAtFrontendTests(ITestOutputHelper output)
{
    public static TheoryData<string> AllClips => new(EfficientAtFixtures.Manifest.GetProperty("clips").EnumerateArray().Select(c => c.GetProperty("id").GetString()!));

    [SkippableTheory]
    [MemberData(nameof(AllClips))]
    public void Matches_torch_on_real_clips(string id)
    {
        var c = EfficientAtFixtures.Clip(id);
        var clip = EfficientAtFixtures.Samples(c);
        using var fe = new AudioFrontend(FrontendPreset.EfficientAt);
        var features = fe.Compute(clip);
        int frames = features.GetLength(0), bins = features.GetLength(1);
        Assert.Equal(c.GetProperty("frames").GetInt32(), frames);
        Assert.Equal(128, bins);
        int every = c.TryGetProperty("frontend_every", out var e) ? e.GetInt32() : 1;
        var (expected, shape) = EfficientAtFixtures.Npy(c.GetProperty("frontend").GetString()!);
        Assert.Equal((frames + every - 1) / every, shape[0]);
        var actual = new float[expected.Length];
        for (int r = 0; r < shape[0]; r++)
            for (int b = 0; b < bins; b++) actual[r * bins + b] = features[r * every, b];
        double maxAbs = EfficientAtFixtures.MaxAbs(expected, actual);
        output.WriteLine($"{id}: max abs error {maxAbs:G3}");
        Assert.True(maxAbs <= 1e-4, $"{id}: max abs error {maxAbs:G3} over {shape[0]} frames × {bins} bands (limit 1e-4)");
    }

    /// <summary>The ILGPU spectrogram kernels (on ilgpu-cpu) with the same preset: pre-emphasis, symmetric window, Kaldi banks and normalisation all reach the device path.</summary>
    [SkippableFact]
    public void Ilgpu_frontend_matches_torch_on_the_speech_clip()
    {
        var c = EfficientAtFixtures.Clip("speech");
        using var fe = new AudioFrontend(FrontendPreset.EfficientAt, TestBackends.Get("ilgpu-cpu"));
        var features = fe.Compute(EfficientAtFixtures.Samples(c));
        var (expected, shape) = EfficientAtFixtures.Npy(c.GetProperty("frontend").GetString()!);
        Assert.Equal(shape, new[] { features.GetLength(0), features.GetLength(1) });
        var actual = new float[expected.Length];
        Buffer.BlockCopy(features, 0, actual, 0, actual.Length * sizeof(float));
        double maxAbs = EfficientAtFixtures.MaxAbs(expected, actual);
        output.WriteLine($"speech (ilgpu-cpu): max abs error {maxAbs:G3}");
        Assert.True(maxAbs <= 1e-4, $"ilgpu-cpu: max abs error {maxAbs:G3} (limit 1e-4)");
    }

    [Fact]
    public void Kaldi_banks_leave_the_nyquist_column_empty_and_stop_at_fmax()
    {
        var fb = MelFilterbank.Create(FrontendPreset.EfficientAt);
        Assert.Equal(513, fb.LinearBins);
        Assert.All(Enumerable.Range(0, fb.Bands), b => Assert.True(fb.Start[b] + fb.Weights[b].Length <= 481,
            $"band {b} reaches bin {fb.Start[b] + fb.Weights[b].Length - 1} (15000 Hz is bin 480)"));
        Assert.Equal(0, fb.Start[0] > 0 ? 0 : fb.Weights[0][0]);   // bin 0 lies on band 0's lower edge (fmin 0)
    }

    [Fact]
    public void Pre_emphasis_drops_one_sample()
    {
        using var fe = new AudioFrontend(FrontendPreset.EfficientAt);
        Assert.Equal(1 + 31199 / 320, fe.FrameCount(31200));
        Assert.Equal(1 + 320 / 320, fe.FrameCount(321));
    }
}
