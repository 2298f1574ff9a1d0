using System.Buffers.Binary;

namespace NativeASD.Tests.Cli.Commands;

/// <summary>nasd features never writes non-finite features: huge (finite) float samples overflow the power spectrum.</summary>
public sealed class FeaturesNonFiniteTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-features-nonfinite").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void HugeFloatSamplesAreRefusedAndNoFileIsWritten()
    {
        const int n = 16000;
        var wav = new byte[44 + 4 * n];
        "RIFF"u8.CopyTo(wav);
        BinaryPrimitives.WriteInt32LittleEndian(wav.AsSpan(4), 36 + 4 * n);
        "WAVEfmt "u8.CopyTo(wav.AsSpan(8));
        BinaryPrimitives.WriteInt32LittleEndian(wav.AsSpan(16), 16);
        BinaryPrimitives.WriteInt16LittleEndian(wav.AsSpan(20), 3);            // IEEE float
        BinaryPrimitives.WriteInt16LittleEndian(wav.AsSpan(22), 1);
        BinaryPrimitives.WriteInt32LittleEndian(wav.AsSpan(24), 16000);
        BinaryPrimitives.WriteInt32LittleEndian(wav.AsSpan(28), 64000);
        BinaryPrimitives.WriteInt16LittleEndian(wav.AsSpan(32), 4);
        BinaryPrimitives.WriteInt16LittleEndian(wav.AsSpan(34), 32);
        "data"u8.CopyTo(wav.AsSpan(36));
        BinaryPrimitives.WriteInt32LittleEndian(wav.AsSpan(40), 4 * n);
        for (int i = 0; i < n; i++) BinaryPrimitives.WriteSingleLittleEndian(wav.AsSpan(44 + 4 * i), i % 2 == 0 ? 3e38f : -3e38f);
        string input = Path.Combine(_dir, "huge.wav"), output = Path.Combine(_dir, "huge.npy");
        File.WriteAllBytes(input, wav);

        var r = NasdProcess.Run("features", "--preset", "dcase2020", input, output);
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith($"nasd: error: {input}: features are not finite", r.Stderr);
        Assert.Contains("far outside [-1, 1]", r.Stderr);
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
    }
}
