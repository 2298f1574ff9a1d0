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

    /// <exception cref="InvalidDataException">The text is none of the three forms.</exception>
    public static FeatureConfiguration Parse(string text)
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
