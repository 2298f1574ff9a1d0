namespace NativeASD.Detection.Synth;

/// <summary>
/// A long recording of one machine for monitoring tests: <see cref="Seconds"/> of consecutive generated clips of
/// <see cref="ClipSeconds"/> each, and from <see cref="AnomalyStart"/> for <see cref="AnomalySeconds"/> clips with the
/// fault <see cref="Anomaly"/>. The anomaly bounds must fall on clip boundaries, so the insertion time is exact.
/// </summary>
public sealed record MachineSoundStreamPlan(
    string MachineType, int Id, double Seconds, double AnomalyStart, double AnomalySeconds, AnomalyKind Anomaly,
    double ClipSeconds = 10, string Split = "stream");

/// <summary>
/// Generates a <see cref="MachineSoundStreamPlan"/> block by block (one clip at a time, so an hour needs the memory of one
/// clip). Consecutive clips overlap by <see cref="CrossfadeSeconds"/> with an equal-power crossfade, so there is no click
/// at a boundary that a detector could mistake for a fault; an anomalous clip starts fading in at its start time.
/// Deterministic: same options and plan, same samples.
/// </summary>
public static class MachineSoundStream
{
    public const double CrossfadeSeconds = 0.05;

    /// <summary>The stream's samples in blocks of one clip (the last may be shorter), mono float32 at the options' rate.</summary>
    public static IEnumerable<float[]> Blocks(SynthOptions options, MachineSoundStreamPlan plan)
    {
        int rate = options.SampleRate;
        int clip = (int)Math.Round(plan.ClipSeconds * rate), fade = (int)Math.Round(CrossfadeSeconds * rate);
        long total = (long)Math.Round(plan.Seconds * rate);
        if (clip <= fade) throw new ArgumentException($"stream: clips of {plan.ClipSeconds} s are shorter than the {CrossfadeSeconds} s crossfade");
        if (total <= 0) throw new ArgumentException($"stream: length {plan.Seconds} s gives no samples");
        double startClips = plan.AnomalyStart / plan.ClipSeconds, lengthClips = plan.AnomalySeconds / plan.ClipSeconds;
        if (plan.AnomalySeconds > 0 && (Math.Abs(startClips - Math.Round(startClips)) > 1e-9 || Math.Abs(lengthClips - Math.Round(lengthClips)) > 1e-9))
            throw new ArgumentException($"stream: anomaly start {plan.AnomalyStart} s and length {plan.AnomalySeconds} s must be multiples of the clip length {plan.ClipSeconds} s");
        long firstAnomalous = (long)Math.Round(startClips), endAnomalous = plan.AnomalySeconds > 0 ? firstAnomalous + (long)Math.Round(lengthClips) : firstAnomalous;

        // Each clip is generated fade samples longer: its tail crossfades into the next clip's head.
        var generator = new MachineSoundGenerator(options with { Seconds = (double)(clip + fade) / rate });
        var gainIn = new float[fade];
        for (int i = 0; i < fade; i++) gainIn[i] = (float)Math.Sin(0.5 * Math.PI * (i + 0.5) / fade);
        float[]? previousTail = null;
        for (long k = 0; k * clip < total; k++)
        {
            var kind = k >= firstAnomalous && k < endAnomalous ? plan.Anomaly : AnomalyKind.None;
            var samples = generator.Generate(new SynthClip(plan.MachineType, plan.Id, plan.Split, checked((int)k), kind));
            int length = (int)Math.Min(clip, total - k * clip);
            var block = samples[..length];
            if (previousTail is not null)
                for (int i = 0; i < Math.Min(fade, length); i++)
                {
                    float up = gainIn[i], down = gainIn[fade - 1 - i];
                    block[i] = up * block[i] + down * previousTail[i];
                }
            previousTail = samples[clip..];
            yield return block;
        }
    }
}
