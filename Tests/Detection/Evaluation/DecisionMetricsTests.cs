using NativeASD.Detection.Evaluation;

namespace NativeASD.Tests.Detection.Evaluation;

public sealed class DecisionMetricsTests
{
    static ScoredClip Clip(bool decision, bool? anomalous) => new("x.wav", 0, decision, anomalous);

    [Fact]
    public void CountsFalseAlarmsDetectionsPrecisionAndF1()
    {
        // 10 normal clips with 2 false alarms; 5 anomalous with 4 detected; 1 unlabelled (ignored).
        var clips = Enumerable.Range(0, 10).Select(i => Clip(i < 2, false))
            .Concat(Enumerable.Range(0, 5).Select(i => Clip(i < 4, true))).Append(Clip(true, null)).ToList();
        var d = DecisionMetrics.Of(clips);
        Assert.Equal((10, 5, 2, 4), (d.NormalClips, d.AnomalousClips, d.FalseAlarms, d.Detections));
        Assert.Equal(0.2, d.FalseAlarmRate, 12);
        Assert.Equal(0.8, d.DetectionRate, 12);
        Assert.Equal(d.DetectionRate, d.Recall);
        Assert.Equal(4.0 / 6, d.Precision, 12);
        Assert.Equal(2 * (4.0 / 6) * 0.8 / (4.0 / 6 + 0.8), d.F1, 12);
    }

    [Fact]
    public void UndefinedRatesAreNaNAndMeansSkipThem()
    {
        var onlyNormal = DecisionMetrics.Of([Clip(false, false), Clip(true, false)]);
        Assert.Equal(0.5, onlyNormal.FalseAlarmRate);
        Assert.True(double.IsNaN(onlyNormal.DetectionRate));
        Assert.True(double.IsNaN(onlyNormal.F1));
        var nothingFlagged = DecisionMetrics.Of([Clip(false, false), Clip(false, true)]);
        Assert.True(double.IsNaN(nothingFlagged.Precision));
        Assert.Equal(0, nothingFlagged.F1);
        var mean = DecisionMetrics.Mean([onlyNormal, nothingFlagged]);
        Assert.Equal(0.25, mean.FalseAlarmRate, 12);
        Assert.Equal(0, mean.DetectionRate);
        Assert.Equal((3, 1), (mean.NormalClips, mean.AnomalousClips));
    }
}
