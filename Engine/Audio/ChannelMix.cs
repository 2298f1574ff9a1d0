using System.Globalization;

namespace NativeASD.Engine.Audio;

/// <summary>
/// Which channel of a multi-channel file becomes the mono signal: one channel by index (the default,
/// <c>default(ChannelMix)</c>, is channel 0) or the mean of all channels (<see cref="Mean"/>).
/// </summary>
public readonly record struct ChannelMix(int Channel)
{
    /// <summary>The arithmetic mean of all channels, frame by frame.</summary>
    public static ChannelMix Mean => new(-1);

    public bool IsMean => Channel < 0;

    /// <summary>Parses "0", "3", … (a channel index) or "mean" (case-insensitive).</summary>
    /// <exception cref="ArgumentException">Anything else, with a message saying what is accepted.</exception>
    public static ChannelMix Parse(string text)
    {
        string t = (text ?? "").Trim();
        if (t.Equals("mean", StringComparison.OrdinalIgnoreCase)) return Mean;
        if (int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out int channel)) return new ChannelMix(channel);
        throw new ArgumentException($"channel '{text}' is neither a channel index (0, 1, …) nor 'mean'");
    }

    public override string ToString() => IsMean ? "mean" : Channel.ToString(CultureInfo.InvariantCulture);
}
