namespace NativeASD.Detection.Evaluation;

/// <summary>
/// ROC-based metrics of DCASE Task 2, computed exactly as scikit-learn does: <see cref="Auc"/> equals
/// <c>roc_auc_score(y, s)</c> and <see cref="PartialAuc"/> equals <c>roc_auc_score(y, s, max_fpr=p)</c>
/// (McClish-standardised), ties included. Label true = anomalous (positive), higher score = more anomalous.
/// </summary>
public static class RocMetrics
{
    /// <summary>ROC points (FPR, TPR) from (0,0) to (1,1), one per distinct score (tied scores form one step).</summary>
    public static (double[] Fpr, double[] Tpr) Curve(ReadOnlySpan<double> scores, ReadOnlySpan<bool> anomalous)
    {
        if (scores.Length != anomalous.Length)
            throw new ArgumentException($"roc: {scores.Length} scores but {anomalous.Length} labels");
        int positives = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            if (!double.IsFinite(scores[i])) throw new ArgumentException($"roc: score {i} is {scores[i]}");
            if (anomalous[i]) positives++;
        }
        int negatives = scores.Length - positives;
        if (positives == 0 || negatives == 0)
            throw new ArgumentException($"roc: needs both normal and anomalous clips (got {negatives} normal, {positives} anomalous)");

        // Descending by score; a run of equal scores moves the curve diagonally in one step, as sklearn's thresholds do.
        var order = new int[scores.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        var s = scores.ToArray();
        Array.Sort(order, (a, b) => s[b].CompareTo(s[a]));

        var fpr = new List<double> { 0 };
        var tpr = new List<double> { 0 };
        int tp = 0, fp = 0;
        for (int i = 0; i < order.Length; i++)
        {
            if (anomalous[order[i]]) tp++; else fp++;
            if (i + 1 < order.Length && s[order[i + 1]] == s[order[i]]) continue;
            fpr.Add((double)fp / negatives);
            tpr.Add((double)tp / positives);
        }
        return (fpr.ToArray(), tpr.ToArray());
    }

    /// <summary>Area under the ROC curve (trapezoids; ties count one half).</summary>
    public static double Auc(ReadOnlySpan<double> scores, ReadOnlySpan<bool> anomalous)
    {
        var (fpr, tpr) = Curve(scores, anomalous);
        return Trapezoid(fpr, tpr, fpr.Length);
    }

    /// <summary>
    /// Standardised partial AUC over FPR ∈ [0, maxFpr]: the area up to maxFpr (the curve interpolated linearly at
    /// maxFpr) mapped by McClish's correction 0.5·(1 + (A − maxFpr²/2) / (maxFpr − maxFpr²/2)), so 0.5 is chance and 1 perfect.
    /// </summary>
    public static double PartialAuc(ReadOnlySpan<double> scores, ReadOnlySpan<bool> anomalous, double maxFpr = 0.1)
    {
        if (!(maxFpr > 0 && maxFpr <= 1)) throw new ArgumentOutOfRangeException(nameof(maxFpr), $"pauc: max FPR must be in (0, 1], got {maxFpr}");
        var (fpr, tpr) = Curve(scores, anomalous);
        if (maxFpr == 1) return Trapezoid(fpr, tpr, fpr.Length);
        int stop = UpperBound(fpr, maxFpr); // first index with fpr > maxFpr; ≥ 1 because fpr[0] = 0, < Length because fpr[^1] = 1
        double x0 = fpr[stop - 1], x1 = fpr[stop], y0 = tpr[stop - 1], y1 = tpr[stop];
        double yAtMax = y0 + (y1 - y0) * (maxFpr - x0) / (x1 - x0); // x1 > maxFpr ≥ x0
        double area = Trapezoid(fpr, tpr, stop) + (maxFpr - x0) * (yAtMax + y0) / 2;
        double minArea = 0.5 * maxFpr * maxFpr;
        return 0.5 * (1 + (area - minArea) / (maxFpr - minArea));
    }

    static double Trapezoid(double[] x, double[] y, int count)
    {
        double area = 0;
        for (int i = 1; i < count; i++) area += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2;
        return area;
    }

    static int UpperBound(double[] sorted, double value)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (sorted[mid] <= value) lo = mid + 1; else hi = mid;
        }
        return lo;
    }
}
