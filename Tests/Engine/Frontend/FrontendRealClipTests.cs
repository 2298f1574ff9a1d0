using NativeASD.Engine.Audio;
using NativeASD.Engine.Frontend;
using FE = NativeASD.Engine.Frontend.AudioFrontend;

namespace NativeASD.Tests.Engine.Frontend;

/// <summary>
/// Real recordings through AudioFile and the frontend against torch references: DCASE clips from ../shared (the
/// fixture holds only the expected output; the first `samples` samples are used), an 8-channel 16 kHz WAV
/// (channel 3, and the channel mean) and a 32 kHz WAV for panns, both made by make_frontend_references.py.
/// </summary>
public class FrontendRealClipTests
{
    public static TheoryData<string> SharedClips => FrontendManifest.Ids(c => c.Get("shared") is not null);
    public static TheoryData<string> MadeFiles => FrontendManifest.Ids(c => c.Get("file") is not null);

    [SkippableTheory]
    [MemberData(nameof(SharedClips))]
    public void SharedClipsMatchTorch(string id)
    {
        var c = FrontendManifest.Get(id);
        var clip = AudioFile.Read(SharedData.Require(c.Get("shared")!), targetRate: c.Rate);
        var samples = clip.Samples.AsSpan(0, int.Parse(c.Get("samples")!)).ToArray();
        foreach (var precision in new[] { FrontendPrecision.Single, FrontendPrecision.Double })
        {
            using var fe = new FE(c.Preset, 2, precision);
            FrontendManifest.Check(c, fe.Compute(samples, clip.SampleRate, clip.Source), $"{id} ({precision})");
        }
    }

    [Theory]
    [MemberData(nameof(MadeFiles))]
    public void MadeFilesMatchTorch(string id)
    {
        var c = FrontendManifest.Get(id);
        using var fe = new FE(c.Preset, 2);
        var features = fe.ComputeFile(Fixtures.PathOf("frontend", c.Get("file")!), ChannelMix.Parse(c.Get("channel")!));
        FrontendManifest.Check(c, features, id);
    }
}
