namespace NativeASD.Engine.Audio;

/// <summary>
/// What a WAV header says. <see cref="Encoding"/> is "pcm" (8-bit unsigned, 16/24/32-bit signed), "float"
/// (IEEE 32/64-bit), "mulaw" or "alaw" (G.711, 8-bit); WAVE_FORMAT_EXTENSIBLE files report their sub-format.
/// <see cref="Frames"/> counts samples per channel.
/// </summary>
public sealed record AudioInfo(string Path, int SampleRate, int Channels, int BitsPerSample, string Encoding, long Frames)
{
    public double Seconds => (double)Frames / SampleRate;
}

/// <summary>A mono clip: float32 samples in [-1, 1] at <see cref="SampleRate"/>; <see cref="Source"/> is the file it came from.</summary>
public sealed record AudioClip(float[] Samples, int SampleRate, string Source)
{
    public double Seconds => (double)Samples.Length / SampleRate;
}

/// <summary>
/// Reads WAV files (container parsed by NAudio's <c>WaveFileReader</c>, samples decoded here) into mono float32.
/// <para>Supported: PCM 8 (unsigned), 16, 24, 32-bit; IEEE float 32 and 64-bit; G.711 mu-law and A-law; plain or
/// WAVE_FORMAT_EXTENSIBLE headers; RF64; any sample rate and channel count. Scaling divides by 2^(bits−1)
/// (16-bit 16384 → 0.5, 8-bit 192 → 0.5), so PCM lands in [-1, 1); float samples are passed through and must be finite.</para>
/// <para>Rejected with an <see cref="AudioFormatException"/> ("PATH: problem"): empty files, files that are not RIFF/WAVE
/// (text, MP3, …), a data chunk longer than the file (both numbers are reported), compressed encodings (ADPCM,
/// MP3-in-WAV, GSM, …), zero channels, a block size that does not match channels × bits, NaN or ±Inf float samples
/// (with the sample's index).</para>
/// </summary>
public static class AudioFile
{
    /// <summary>Reads and validates the header only.</summary>
    public static AudioInfo Probe(string path)
    {
        using var reader = OpenStream(path);
        return reader.Info;
    }

    /// <summary>
    /// Reads the whole file as one mono clip: channel <paramref name="mix"/> (default channel 0) or the mean of all channels,
    /// resampled with <see cref="Resampler"/> when <paramref name="targetRate"/> differs from the file's rate.
    /// </summary>
    public static AudioClip Read(string path, ChannelMix mix = default, int? targetRate = null)
    {
        using var reader = OpenStream(path, mix, targetRate);
        if (reader.Length > Array.MaxLength)
            throw new AudioFormatException(path, $"{reader.Length} samples are too many to load at once; read it with AudioFile.OpenStream");
        var samples = new float[reader.Length];
        int filled = 0;
        while (filled < samples.Length)
        {
            int n = reader.Read(samples.AsSpan(filled));
            if (n == 0) break;
            filled += n;
        }
        if (filled != samples.Length)
            throw new AudioFormatException(path, $"the data ended after {filled} of {samples.Length} samples");
        return new AudioClip(samples, reader.SampleRate, path);
    }

    /// <summary>Opens the file for block-wise reading (constant memory however long the file is).</summary>
    public static AudioStreamReader OpenStream(string path, ChannelMix mix = default, int? targetRate = null)
        => new(path, mix, targetRate);
}
