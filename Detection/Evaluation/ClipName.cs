using System.Text.RegularExpressions;

namespace NativeASD.Detection.Evaluation;

/// <summary>
/// What a DCASE-style file name says about a clip: normal or anomalous, the machine ID or section, and for
/// DCASE 2021–2023 names the domain. Recognised names:
/// <list type="bullet">
/// <item>DCASE 2020: <c>normal_id_00_00000000.wav</c>, <c>anomaly_id_02_00000012.wav</c> → group <c>id_00</c>.</item>
/// <item>DCASE 2021–2023: <c>[type_]section_00_source_test_anomaly_0022[_attributes].wav</c> → group <c>section_00</c>.</item>
/// <item>Anything else starting with <c>normal</c> or <c>anomaly</c> (e.g. <c>anomaly_blade_fault_…wav</c>) → group <c>id_00</c>.</item>
/// </list>
/// </summary>
public sealed partial record ClipName(string File, bool? Anomalous, string Group, string? Domain)
{
    [GeneratedRegex(@"^(normal|anomaly)_id_(\d+)_\w*\.wav$", RegexOptions.IgnoreCase)]
    private static partial Regex Dcase2020();

    [GeneratedRegex(@"section_(\d+)_(source|target)_(?:train|test)_(normal|anomaly)_\d+", RegexOptions.IgnoreCase)]
    private static partial Regex Dcase2021();

    [GeneratedRegex(@"^(normal|anomaly)[_.\-]", RegexOptions.IgnoreCase)]
    private static partial Regex Prefixed();

    /// <summary>Parses a path's file name; <see cref="Anomalous"/> is null when the name carries no label.</summary>
    public static ClipName Parse(string path)
    {
        string name = Path.GetFileName(path);
        var m = Dcase2020().Match(name);
        if (m.Success) return new(path, IsAnomaly(m.Groups[1].Value), $"id_{m.Groups[2].Value}", null);
        m = Dcase2021().Match(name);
        if (m.Success) return new(path, IsAnomaly(m.Groups[3].Value), $"section_{m.Groups[1].Value}", m.Groups[2].Value.ToLowerInvariant());
        m = Prefixed().Match(name);
        if (m.Success) return new(path, IsAnomaly(m.Groups[1].Value), "id_00", null);
        return new(path, null, "id_00", null);
    }

    static bool IsAnomaly(string word) => word.Equals("anomaly", StringComparison.OrdinalIgnoreCase);
}
