namespace NativeASD.Detection.Evaluation;

/// <summary>The clips of one machine type, split into training (normal only) and test clips.</summary>
public sealed record MachineData(string MachineType, IReadOnlyList<ClipName> Train, IReadOnlyList<ClipName> Test)
{
    /// <summary>Machine IDs / sections present in the test clips, sorted.</summary>
    public IReadOnlyList<string> Groups => Test.Select(c => c.Group).Concat(Train.Select(c => c.Group)).Distinct().Order(StringComparer.Ordinal).ToList();
}

/// <summary>
/// Finds machine types and their clips under a dataset root. Two layouts:
/// <list type="bullet">
/// <item>DCASE: <c>ROOT/&lt;type&gt;/train/*.wav</c> and <c>ROOT/&lt;type&gt;/test/*.wav</c> (also one type given directly as ROOT).</item>
/// <item>Flat (e.g. the "lite" sets): <c>ROOT/&lt;type&gt;/*.wav</c> mixing normal and anomalous clips. Then, per machine ID,
/// the normal clips sorted by name alternate between train and test (first to train), and every anomalous clip goes
/// to test — a deterministic half/half protocol that never trains on an anomaly. Clips whose names say their split
/// (DCASE 2021–2024 copies such as <c>fan_train_section_00_source_train_normal_0040_m-n_X.wav</c>) go where the name says.</item>
/// </list>
/// </summary>
public static class DatasetLayout
{
    public static IReadOnlyList<MachineData> Discover(string root)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"{root}: no such folder");
        var types = IsMachineFolder(root)
            ? [root]
            : Directory.GetDirectories(root).Where(IsMachineFolder).Order(StringComparer.Ordinal).ToList();
        if (types.Count == 0)
            throw new IOException($"{root}: no machine folders with .wav files (expected ROOT/<type>/train/*.wav and ROOT/<type>/test/*.wav, or ROOT/<type>/*.wav)");
        return types.Select(Load).ToList();
    }

    static bool IsMachineFolder(string dir) =>
        Wavs(Path.Combine(dir, "train")).Length > 0 || Wavs(Path.Combine(dir, "test")).Length > 0 || Wavs(dir).Length > 0;

    static string[] Wavs(string dir) =>
        Directory.Exists(dir) ? [.. Directory.GetFiles(dir, "*.wav").Concat(Directory.GetFiles(dir, "*.WAV")).Distinct().Order(StringComparer.Ordinal)] : [];

    static MachineData Load(string dir)
    {
        string type = Path.GetFileName(Path.TrimEndingDirectorySeparator(dir));
        string[] train = Wavs(Path.Combine(dir, "train")), test = Wavs(Path.Combine(dir, "test"));
        if (train.Length > 0 || test.Length > 0)
        {
            var trainClips = train.Select(ClipName.Parse).ToList();
            var anomalies = trainClips.Where(c => c.Anomalous == true).ToList();
            if (anomalies.Count > 0)
                throw new IOException($"{anomalies[0].File}: an anomalous clip in a training folder (training uses normal clips only)");
            return new MachineData(type, trainClips, test.Select(ClipName.Parse).ToList());
        }
        var clips = Wavs(dir).Select(ClipName.Parse).ToList();
        var unlabelled = clips.FirstOrDefault(c => c.Anomalous is null);
        if (unlabelled is not null)
            throw new IOException($"{unlabelled.File}: cannot tell normal from anomalous (flat layout needs names starting with normal or anomaly)");
        var trainSet = new List<ClipName>();
        var testSet = new List<ClipName>();
        foreach (var group in clips.GroupBy(c => c.Group).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            int k = 0;
            foreach (var clip in group)
            {
                if (clip.Split == "train" && clip.Anomalous != true) trainSet.Add(clip);
                else if (clip.Anomalous == true || clip.Split == "test") testSet.Add(clip);
                else (k++ % 2 == 0 ? trainSet : testSet).Add(clip);
            }
        }
        return new MachineData(type, trainSet, testSet);
    }
}
