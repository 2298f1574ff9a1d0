namespace NativeASD.Engine.Audio;

/// <summary>An audio file that cannot be read: not a WAV, truncated, an encoding we do not decode, bad samples. The message is "PATH: problem".</summary>
public sealed class AudioFormatException(string path, string problem) : IOException($"{path}: {problem}")
{
    public string Path { get; } = path;
    public string Problem { get; } = problem;
}
