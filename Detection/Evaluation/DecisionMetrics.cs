namespace NativeASD.Detection.Evaluation;

/// <summary>
/// How usable the yes/no decisions are (the <c>decision_result</c> files), beside AUC/pAUC which only judge the ranking:
/// on normal test clips the false-alarm rate (decided anomalous / normal clips), on anomalous ones the detection rate
/// (decided anomalous / anomalous clips, which is the recall), and precision (anomalous among the clips decided
/// anomalous) and F1. A rate is NaN when its denominator is 0 (e.g. no anomalous test clips).
/// </summary>
public sealed record DecisionMetrics(int NormalClips, int AnomalousClips, int FalseAlarms, int Detections,
    double FalseAlarmRate, double DetectionRate, double Precision, double F1)
{
    public double Recall => DetectionRate;

    /// <summary>Counts over labelled clips (unlabelled ones are ignored).</summary>
    public static DecisionMetrics Of(IEnumerable<ScoredClip> clips)
    {
        int normal = 0, anomalous = 0, falseAlarms = 0, detections = 0;
        foreach (var c in clips)
        {
            if (c.Anomalous == false) { normal++; if (c.Decision) falseAlarms++; }
            else if (c.Anomalous == true) { anomalous++; if (c.Decision) detections++; }
        }
        double far = Ratio(falseAlarms, normal), recall = Ratio(detections, anomalous);
        double precision = Ratio(detections, detections + falseAlarms);
        double f1 = anomalous == 0 ? double.NaN : detections == 0 ? 0 : 2 * precision * recall / (precision + recall);
        return new(normal, anomalous, falseAlarms, detections, far, recall, precision, f1);
    }

    /// <summary>The mean of each rate over groups (NaN rates left out), counts summed: how a machine type or a whole run is summarised.</summary>
    public static DecisionMetrics Mean(IReadOnlyCollection<DecisionMetrics> groups) => new(
        groups.Sum(g => g.NormalClips), groups.Sum(g => g.AnomalousClips), groups.Sum(g => g.FalseAlarms), groups.Sum(g => g.Detections),
        MeanOf(groups.Select(g => g.FalseAlarmRate)), MeanOf(groups.Select(g => g.DetectionRate)),
        MeanOf(groups.Select(g => g.Precision)), MeanOf(groups.Select(g => g.F1)));

    static double Ratio(int count, int total) => total == 0 ? double.NaN : (double)count / total;

    static double MeanOf(IEnumerable<double> values)
    {
        var finite = values.Where(double.IsFinite).ToList();
        return finite.Count == 0 ? double.NaN : finite.Average();
    }
}
