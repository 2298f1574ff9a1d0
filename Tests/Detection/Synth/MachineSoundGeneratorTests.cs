using NativeASD.Detection.Evaluation;
using NativeASD.Detection.Synth;

namespace NativeASD.Tests.Detection.Synth;

public class MachineSoundGeneratorTests
{
    static readonly SynthOptions Short = new(Seed: 7, Seconds: 2);

    [Fact]
    public void SameSeedSameSamplesBitForBit()
    {
        var clip = new SynthClip("pump", 2, "test", 5, AnomalyKind.Clogging);
        Assert.Equal(new MachineSoundGenerator(Short).Generate(clip), new MachineSoundGenerator(Short).Generate(clip));
        Assert.NotEqual(new MachineSoundGenerator(Short).Generate(clip), new MachineSoundGenerator(Short with { Seed = 8 }).Generate(clip));
    }

    [Theory]
    [InlineData("fan")]
    [InlineData("pump")]
    [InlineData("slider")]
    [InlineData("valve")]
    public void EveryClipHasTheSameLoudnessAndStaysInRange(string type)
    {
        var generator = new MachineSoundGenerator(Short);
        var kinds = MachineSoundGenerator.AnomaliesOf(type).Prepend(AnomalyKind.None);
        double target = Math.Pow(10, Short.LoudnessDbfs / 20);
        foreach (var kind in kinds)
        {
            var x = generator.Generate(new SynthClip(type, 0, "test", 1, kind));
            Assert.Equal(2 * 16000, x.Length);
            Assert.All(x, v => Assert.True(float.IsFinite(v) && Math.Abs(v) <= 1f));
            double rms = Math.Sqrt(x.Sum(v => (double)v * v) / x.Length);
            Assert.True(Math.Abs(20 * Math.Log10(rms / target)) < 0.1, $"{type}/{kind}: RMS {20 * Math.Log10(rms):F2} dBFS");
        }
    }

    [Fact]
    public void LevelAloneDoesNotRevealAnomalies()
    {
        var generator = new MachineSoundGenerator(Short);
        var scores = new List<double>();
        var labels = new List<bool>();
        foreach (string type in MachineSoundGenerator.MachineTypes)
            for (int i = 0; i < 6; i++)
            {
                var kinds = MachineSoundGenerator.AnomaliesOf(type);
                foreach (var kind in new[] { AnomalyKind.None, kinds[i % kinds.Count] })
                {
                    var x = generator.Generate(new SynthClip(type, 0, "test", i, kind));
                    scores.Add(Math.Sqrt(x.Sum(v => (double)v * v) / x.Length));
                    labels.Add(kind != AnomalyKind.None);
                }
            }
        double auc = RocMetrics.Auc(scores.ToArray(), labels.ToArray());
        Assert.InRange(auc, 0.4, 0.6);
    }

    [Fact]
    public void MachineIdsSoundDifferent()
    {
        var generator = new MachineSoundGenerator(Short);
        var a = generator.Generate(new SynthClip("fan", 0, "train", 0, AnomalyKind.None));
        var b = generator.Generate(new SynthClip("fan", 1, "train", 0, AnomalyKind.None));
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void UnknownTypeIsAClearError() =>
        Assert.Contains("unknown machine type 'drill'", Assert.Throws<ArgumentException>(() => MachineSoundGenerator.AnomaliesOf("drill")).Message);
}
