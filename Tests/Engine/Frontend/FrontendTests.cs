using NativeASD.Engine.Frontend;
using FE = NativeASD.Engine.Frontend.AudioFrontend;

namespace NativeASD.Tests.Engine.Frontend;

public class FrontendTests
{
    static float[] Noise(int n, int seed = 3)
    {
        var r = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(r.NextDouble() * 2 - 1);
        return x;
    }

    [Fact]
    public void PresetsAreNamedValidAndListed()
    {
        Assert.Equal(["panns", "panns16k", "dcase2020", "vae60", "yamnet", "honk", "st-aed", "efficientat"], FrontendPreset.All.Select(p => p.Name));
        foreach (var p in FrontendPreset.All) { p.Validate(); Assert.False(string.IsNullOrWhiteSpace(p.Summary())); }
        Assert.Same(FrontendPreset.Yamnet, FrontendPreset.Get("YAMNet"));
        var e = Assert.Throws<ArgumentException>(() => FrontendPreset.Get("nope"));
        Assert.Contains("dcase2020", e.Message);
        Assert.Equal(640, FrontendPreset.Dcase2020.Bins * FrontendPreset.Dcase2020.StackFrames);
        Assert.Equal(660, FrontendPreset.Vae60.Bins * FrontendPreset.Vae60.StackFrames);
        Assert.Equal(40, FrontendPreset.Honk.Bins);
    }

    [Fact]
    public void FrameCountsFollowTorchAndTensorFlow()
    {
        using var dcase = new FE(FrontendPreset.Dcase2020, 1);
        Assert.Equal(313, dcase.FrameCount(160000));        // 1 + 160000 / 512
        using var yam = new FE(FrontendPreset.Yamnet, 1);
        Assert.Equal(96, yam.FrameCount(15600));            // 1 + (15600 − 400) / 160
        Assert.Equal(0, yam.FrameCount(399));
        using var panns = new FE(FrontendPreset.Panns, 1);
        Assert.Equal(1001, panns.FrameCount(320000));
        using var honk = new FE(FrontendPreset.Honk, 1);
        Assert.Equal(101, honk.FrameCount(16000));
    }

    [Fact]
    public void ResultsDoNotDependOnThreadsOrBatching()
    {
        var clips = new[] { Noise(16000, 1), Noise(7001, 2), Noise(24000, 3), Noise(3000, 4), Noise(9999, 5) };  // ≥ 2·threads: one task per clip
        using var one = new FE(FrontendPreset.Dcase2020, 1);
        using var two = new FE(FrontendPreset.Dcase2020, 2);
        var batch = two.ComputeBatch(clips, 16000);
        var few = two.ComputeBatch(clips[..3], 16000);   // fewer clips: frames split across threads
        for (int i = 0; i < clips.Length; i++)
        {
            var single = one.Compute(clips[i], 16000);
            Assert.Equal(single.Cast<float>(), batch[i].Cast<float>());
            if (i < 3) Assert.Equal(single.Cast<float>(), few[i].Cast<float>());
        }
    }

    [Fact]
    public void RejectsShortClipsNonFiniteSamplesAndWrongRates()
    {
        using var yam = new FE(FrontendPreset.Yamnet, 1);
        var e = Assert.Throws<InvalidDataException>(() => yam.Compute(new float[300], 16000, "short.wav"));
        Assert.Contains("short.wav", e.Message);
        Assert.Contains("shorter than one frame", e.Message);
        var x = Noise(4000);
        x[1234] = float.NaN;
        e = Assert.Throws<InvalidDataException>(() => yam.Compute(x, 16000, "nan.wav"));
        Assert.Contains("nan.wav", e.Message);
        Assert.Contains("sample 1234", e.Message);
        x[1234] = float.PositiveInfinity;
        Assert.Throws<InvalidDataException>(() => yam.Compute(x, 16000, "inf.wav"));
        var r = Assert.Throws<ArgumentException>(() => yam.Compute(Noise(4000), 44100, "rate.wav"));
        Assert.Contains("16000", r.Message);
        using var dcase = new FE(FrontendPreset.Dcase2020, 1);
        e = Assert.Throws<InvalidDataException>(() => dcase.Compute(new float[100], 16000, "tiny.wav"));
        Assert.Contains("tiny.wav", e.Message);
    }

    [Fact]
    public void DecibelsFollowPowerToDbWithRefAndTopDb()
    {
        var x = Noise(8000);
        for (int i = 4000; i < 8000; i++) x[i] *= 1e-5f;   // second half 100 dB quieter
        var plain = FrontendPreset.Panns with { SampleRate = 16000, FMax = 8000 };
        using var a = new FE(plain, 1, FrontendPrecision.Double);
        using var b = new FE(plain with { Ref = 10.0, TopDb = 80 }, 1, FrontendPrecision.Double);
        var da = a.Compute(x, 16000);
        var db = b.Compute(x, 16000);
        float max = da.Cast<float>().Max();
        for (int t = 0; t < da.GetLength(0); t++)
            for (int m = 0; m < da.GetLength(1); m++)
                Assert.Equal(Math.Max(da[t, m] - 10.0, max - 10.0 - 80.0), db[t, m], 3);
    }

    [Fact]
    public void StackingConcatenatesConsecutiveFramesLikeTheDcaseBaseline()
    {
        var f = new float[7, 3];
        for (int t = 0; t < 7; t++) for (int b = 0; b < 3; b++) f[t, b] = 10 * t + b;
        var s = FrameStacking.Stack(f, 5);
        Assert.Equal(3, s.GetLength(0));
        Assert.Equal(15, s.GetLength(1));
        for (int t = 0; t < 3; t++)
            for (int j = 0; j < 5; j++)
                for (int b = 0; b < 3; b++) Assert.Equal(10 * (t + j) + b, s[t, 3 * j + b]);
        Assert.Equal(0, FrameStacking.Stack(new float[4, 3], 5).GetLength(0));
    }

    [Fact]
    public void PatchesTakeWholeWindows()
    {
        var f = new float[200, 2];
        for (int t = 0; t < 200; t++) f[t, 1] = t;
        var p = FrameStacking.Patches(f, 96, 48);
        Assert.Equal(3, p.GetLength(0));   // starts 0, 48, 96
        Assert.Equal(96f + 95f, p[2, 95, 1]);
    }

    [Fact]
    public void MelFilterbankIsSparseAndMatchesTheDenseMatrix()
    {
        var fb = MelFilterbank.Create(FrontendPreset.Dcase2020);
        var dense = MelFilterbank.Dense(513, 16000, 128, 0, 8000, MelScale.Slaney, MelNorm.Slaney, MelShape.Librosa);
        Assert.True(fb.Weights.Sum(w => w.Length) < 2 * 513 + 2 * 128);
        for (int b = 0; b < fb.Bands; b++)
            for (int j = 0; j < fb.Weights[b].Length; j++) Assert.Equal(dense[fb.Start[b] + j, b], fb.Weights[b][j]);
        Assert.Equal(1000.0, MelFilterbank.MelToHz(MelFilterbank.HzToMel(1000, MelScale.Slaney), MelScale.Slaney), 9);
        Assert.Equal(15.0, MelFilterbank.HzToMel(1000, MelScale.Slaney), 12);
        Assert.Equal(2595.0 * Math.Log10(1 + 440.0 / 700), MelFilterbank.HzToMel(440, MelScale.Htk), 9);
    }

    [Fact]
    public void DctIsOrthonormal()
    {
        var d = Dct.OrthoMatrix(40, 40);
        for (int i = 0; i < 40; i++)
            for (int j = 0; j < 40; j++)
            {
                double dot = 0;
                for (int n = 0; n < 40; n++) dot += d[i, n] * d[j, n];
                Assert.Equal(i == j ? 1.0 : 0.0, dot, 12);
            }
    }

    /// <summary>
    /// ../shared/weights/yamnet_test_spectra.bin was made by a frontend that divides the int16 samples by their peak
    /// (8078 here) instead of 32768 and uses ln(mel + 0.01) instead of ln(mel + 0.001); everything else is the
    /// standard YAMNet frontend. So spectra = ln(G·(e^L − 0.001) + 0.01), G = 32768/peak, L the standard patch:
    /// about +1.41 (= ln 4.06 plus the offset change) where the mel is large, less where it is small.
    /// </summary>
    [SkippableFact]
    public void YamnetGoldenPatchIsPeakNormalisedWithOffset001()
    {
        var audioBytes = File.ReadAllBytes(SharedData.Require("weights/yamnet_test_audio.bin"));
        var spectraBytes = File.ReadAllBytes(SharedData.Require("weights/yamnet_test_spectra.bin"));
        Assert.Equal(15600 * 2, audioBytes.Length);
        Assert.Equal(96 * 64 * 4, spectraBytes.Length);
        var pcm = new short[15600];
        Buffer.BlockCopy(audioBytes, 0, pcm, 0, audioBytes.Length);
        var golden = new float[96 * 64];
        Buffer.BlockCopy(spectraBytes, 0, golden, 0, spectraBytes.Length);
        int peak = pcm.Max(s => Math.Abs((int)s));
        Assert.Equal(8078, peak);

        using var standard = new FE(FrontendPreset.Yamnet, 1, FrontendPrecision.Double);
        var l = standard.Compute([.. pcm.Select(s => s / 32768f)], 16000, "yamnet_test_audio.bin");
        Assert.Equal(96, l.GetLength(0));
        double gain = 32768.0 / peak, worst = 0, shift = 0;
        for (int i = 0; i < golden.Length; i++)
        {
            double standardValue = l[i / 64, i % 64];
            double predicted = Math.Log(gain * (Math.Exp(standardValue) - 0.001) + 0.01);
            worst = Math.Max(worst, Math.Abs(predicted - golden[i]));
            shift += (golden[i] - standardValue) / golden.Length;
        }
        Assert.True(worst < 1e-4, $"relation off by {worst:G3}");
        Assert.InRange(shift, 1.40, 1.42);   // the "+1.41 after the log" seen when comparing naively

        // The same thing stated as a frontend: the yamnet preset with offset 0.01 on peak-normalised samples.
        using var other = new FE(FrontendPreset.Yamnet with { LogOffset = 0.01 }, 1);
        var m = other.Compute([.. pcm.Select(s => s / (float)peak)], 16000);
        for (int i = 0; i < golden.Length; i++) Assert.True(Math.Abs(m[i / 64, i % 64] - golden[i]) < 1e-4, $"patch [{i / 64}, {i % 64}]");
    }
}

/// <summary>The ILGPU spectrogram kernels (run on ilgpu-cpu here) against the torch references, at small sizes.</summary>
public class FrontendDeviceTests
{
    public static TheoryData<string> Cases => FrontendManifest.Ids(c =>
        c.Get("signal") is { } s && (s.Contains("noise") || s.Contains("chirp")) && (c.Kind == "stft" || c.Id.StartsWith("preset/dcase2020") || c.Id.StartsWith("preset/yamnet") || c.Id.StartsWith("preset/honk")));

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void IlgpuKernelsMatchTorch(string id)
    {
        var c = FrontendManifest.Get(id);
        Skip.If(c.Kind == "mfcc" && id.EndsWith("/chirp"),
            "MFCCs of a chirp mix in bands below float32's FFT noise floor, as in the single-precision test: checked in double only");
        var backend = TestBackends.Get("ilgpu-cpu");
        using var fe = new AudioFrontend(c.Preset, backend);
        FrontendManifest.Check(c, fe.Compute(c.Signal, c.Rate, id), $"{id} (ilgpu-cpu)", dynamicRangeDb: 70, maxAbs: c.Kind switch { "ln" => 1e-3, "mfcc" => 1e-2, _ => null });
    }
}
