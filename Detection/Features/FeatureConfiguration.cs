using System.Globalization;
using NativeASD.Engine.Audio;

namespace NativeASD.Detection.Features;

/// <summary>
/// The feature configuration string that model files store and the feature cache is keyed by, written and read here
/// only: <c>logmel-stats:PRESET:chN</c>, <c>stacked:PRESET:FRAMES:chN</c>, <c>backbone:SHA256:TAPS[:int8]:chN</c>
/// (N a channel index or <c>mean</c>; <c>:int8</c> when the backbone emulates int8 activations).
/// </summary>
public sealed record FeatureConfiguration(string Kind, ChannelMix Mix, string? Preset = null, int Frames = 0,
    string? BackboneSha256 = null, IReadOnlyList<string>? Taps = null, bool Int8Activations = false)
{
    public const string LogMelStatistics = "logmel-stats", StackedFrames = "stacked", Backbone = "backbone";

    public override string ToString()
    {
        string channel = "ch" + (Mix.IsMean ? "mean" : Mix.Channel.ToString(CultureInfo.InvariantCulture));
        return Kind switch
        {
            LogMelStatistics => $"{Kind}:{Preset}:{channel}",
            StackedFrames => $"{Kind}:{Preset}:{Frames.ToString(CultureInfo.InvariantCulture)}:{channel}",
            _ => $"{Kind}:{BackboneSha256}:{string.Join(",", Taps ?? [])}{(Int8Activations ? ":int8" : "")}:{channel}",
        };
    }

    /// <summary>Longest frame stack accepted (the features command's --stack bound): a file decides what gets allocated.</summary>
    public const int MaxFrames = 1000;

    /// <exception cref="InvalidDataException">The text is none of the three forms, or names an unknown preset, a stack
    /// outside 1..<see cref="MaxFrames"/>, a malformed SHA-256 or no taps.</exception>
    public static FeatureConfiguration Parse(string text)
    {
        var c = ParseForm(text);
        if (c.Preset is string preset && !Engine.Frontend.FrontendPreset.All.Any(p => p.Name == preset))
            throw new InvalidDataException($"feature configuration '{text}' names an unknown frontend preset '{preset}'");
        if (c.Kind == StackedFrames && c.Frames is < 1 or > MaxFrames)
            throw new InvalidDataException($"feature configuration '{text}' stacks {c.Frames} frames (1 to {MaxFrames})");
        if (c.Kind == Backbone && (c.BackboneSha256 is not { Length: 64 } sha || !sha.All(char.IsAsciiHexDigitLower) || c.Taps is not { Count: > 0 }))
            throw new InvalidDataException($"feature configuration '{text}' needs a SHA-256 and at least one tap");
        return c;
    }

    static FeatureConfiguration ParseForm(string text)
    {
        try
        {
            return text.Split(':') switch
            {
                [LogMelStatistics, var preset, var ch] => new(LogMelStatistics, Channel(ch), preset),
                [StackedFrames, var preset, var k, var ch] => new(StackedFrames, Channel(ch), preset, int.Parse(k, CultureInfo.InvariantCulture)),
                [Backbone, var sha, var taps, var ch] => new(Backbone, Channel(ch), BackboneSha256: sha, Taps: Split(taps)),
                [Backbone, var sha, var taps, "int8", var ch] => new(Backbone, Channel(ch), BackboneSha256: sha, Taps: Split(taps), Int8Activations: true),
                _ => throw new FormatException(),
            };
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            throw new InvalidDataException($"unknown feature configuration '{text}'");
        }
    }

    static ChannelMix Channel(string part) => ChannelMix.Parse(part.StartsWith("ch", StringComparison.Ordinal) ? part[2..] : part);

    static string[] Split(string taps) => taps.Split(',', StringSplitOptions.RemoveEmptyEntries);
}
