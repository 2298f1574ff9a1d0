using System.Text.RegularExpressions;

namespace NativeASD.Detection.Evaluation;

/// <summary>
/// What a DCASE-style file name says about a clip: normal or anomalous, the machine ID or section, and for
/// DCASE 2021–2024 names the domain, the split and the attribute string. Recognised names:
/// <list type="bullet">
/// <item>DCASE 2020: <c>normal_id_00_00000000.wav</c>, <c>anomaly_id_02_00000012.wav</c> → group <c>id_00</c>.</item>
/// <item>DCASE 2021–2024 development sets: <c>section_00_source_train_normal_0000[_attributes].wav</c>,
/// <c>section_01_target_test_anomaly_0022_vel_8_loc_G.wav</c> → group <c>section_00</c>, domain, split, label.</item>
/// <item>DCASE 2021 evaluation test clips <c>section_03_target_test_0000.wav</c> (domain, no label) and DCASE 2022–2024
/// evaluation test clips <c>section_00_0000.wav</c> (neither).</item>
/// <item>Any of these with a type prefix, as some copies add: <c>fan_section_00_…</c>, <c>fan_test_section_00_…</c>.</item>
/// <item>Anything else starting with <c>normal</c> or <c>anomaly</c> (e.g. <c>anomaly_blade_fault_…wav</c>) → group <c>id_00</c>.</item>
/// </list>
/// A name that mentions <c>section_</c> or starts with <c>normal_id_</c>/<c>anomaly_id_</c> but does not fit its form is
/// refused (<see cref="InvalidDataException"/>, one line naming the file), so a typo never silently moves a clip to
/// another section, domain or label.
/// </summary>
public sealed partial record ClipName(string File, bool? Anomalous, string Group, string? Domain)
{
    /// <summary>"train" or "test" when the name says so (2021–2024 names), otherwise null.</summary>
    public string? Split { get; init; }

    /// <summary>The attribute string after the clip number (e.g. <c>vel_8_loc_G</c>), or null.</summary>
    public string? Attributes { get; init; }

    /// <summary>The form DCASE 2021–2024 names follow, as error messages show it.</summary>
    public const string SectionForm = "[type_][train_|test_]section_XX_{source|target}_{train|test}_{normal|anomaly}_NNNN[_attributes].wav";

    [GeneratedRegex(@"^(normal|anomaly)_id_(\d+)_\w*\.wav$", RegexOptions.IgnoreCase)]
    private static partial Regex Dcase2020();

    [GeneratedRegex(@"^(normal|anomaly)_id_", RegexOptions.IgnoreCase)]
    private static partial Regex Dcase2020Start();

    // [type_][train_|test_]section_XX_ then domain_split_label_NNNN (development), domain_test_NNNN (2021 evaluation) or
    // NNNN (2022–2024 evaluation), then _attributes.
    [GeneratedRegex(@"^(?:[A-Za-z0-9][A-Za-z0-9\-]*_(?:(?:train|test)_)?)?section_(?<section>\d{2})_" +
        @"(?:(?<domain>source|target)_(?<split>train|test)_(?:(?<label>normal|anomaly)_)?)?" +
        @"(?<number>\d{4,})(?:_(?<attributes>[^/\\]+?))?\.wav$", RegexOptions.IgnoreCase)]
    private static partial Regex Dcase2021();

    [GeneratedRegex(@"(?:^|_)section_", RegexOptions.IgnoreCase)]
    private static partial Regex MentionsSection();

    [GeneratedRegex(@"^(normal|anomaly)[_.\-]", RegexOptions.IgnoreCase)]
    private static partial Regex Prefixed();

    /// <summary>Parses a path's file name; <see cref="Anomalous"/> is null when the name carries no label.</summary>
    /// <exception cref="InvalidDataException">A DCASE-looking name that does not fit its year's form.</exception>
    public static ClipName Parse(string path)
    {
        string name = Path.GetFileName(path);
        var m = Dcase2020().Match(name);
        if (m.Success) return new(path, IsAnomaly(m.Groups[1].Value), $"id_{m.Groups[2].Value}", null);
        if (Dcase2020Start().IsMatch(name))
            throw new InvalidDataException($"{path}: malformed DCASE 2020 clip name (expected normal_id_XX_NNNNNNNN.wav or anomaly_id_XX_NNNNNNNN.wav)");
        m = Dcase2021().Match(name);
        if (m.Success)
        {
            var label = m.Groups["label"];
            return new(path, label.Success ? IsAnomaly(label.Value) : null, $"section_{m.Groups["section"].Value}",
                m.Groups["domain"].Success ? m.Groups["domain"].Value.ToLowerInvariant() : null)
            {
                Split = m.Groups["split"].Success ? m.Groups["split"].Value.ToLowerInvariant() : null,
                Attributes = m.Groups["attributes"].Success ? m.Groups["attributes"].Value : null,
            };
        }
        if (MentionsSection().IsMatch(name))
            throw new InvalidDataException($"{path}: malformed DCASE 2021–2024 clip name (expected {SectionForm})");
        m = Prefixed().Match(name);
        if (m.Success) return new(path, IsAnomaly(m.Groups[1].Value), "id_00", null);
        return new(path, null, "id_00", null);
    }

    static bool IsAnomaly(string word) => word.Equals("anomaly", StringComparison.OrdinalIgnoreCase);
}
