using NativeASD.Detection.Evaluation;

namespace NativeASD.Tests.Detection.Evaluation;

public class DcaseLayoutsTests
{
    // (name, anomalous, group, domain, split, attributes): one or more examples of every year's development and evaluation names.
    [Theory]
    [InlineData("normal_id_00_00000000.wav", false, "id_00", null, null, null)]                                             // 2020
    [InlineData("anomaly_id_04_00000123.wav", true, "id_04", null, null, null)]                                             // 2020
    [InlineData("section_00_source_train_normal_0000.wav", false, "section_00", "source", "train", null)]                   // 2021 dev
    [InlineData("section_02_target_test_anomaly_0005.wav", true, "section_02", "target", "test", null)]                     // 2021 dev
    [InlineData("section_03_target_test_0000.wav", null, "section_03", "target", "test", null)]                              // 2021 eval
    [InlineData("section_01_target_train_normal_0002_car_B1_spd_31V_mic_1_noise_1.wav", false, "section_01", "target", "train", "car_B1_spd_31V_mic_1_noise_1")] // 2022 dev
    [InlineData("section_04_0199.wav", null, "section_04", null, null, null)]                                               // 2022–2024 eval
    [InlineData("section_00_source_train_normal_0040_m-n_X.wav", false, "section_00", "source", "train", "m-n_X")]          // 2023 dev
    [InlineData("gearbox_test_section_00_target_test_anomaly_0040_volt_1.5_wt_130.wav", true, "section_00", "target", "test", "volt_1.5_wt_130")] // 2023, type prefix
    [InlineData("ToyCar_section_00_source_test_normal_0028_car_C2_spd_34V_mic_1.wav", false, "section_00", "source", "test", "car_C2_spd_34V_mic_1")]
    [InlineData("section_00_target_train_normal_0009_noAttributes.wav", false, "section_00", "target", "train", "noAttributes")] // 2024 dev
    [InlineData("3DPrinter_train_section_00_source_train_normal_0001_noAttributes.wav", false, "section_00", "source", "train", "noAttributes")]
    public void EveryYearsNamesParse(string name, bool? anomalous, string group, string? domain, string? split, string? attributes)
    {
        var clip = ClipName.Parse("/data/" + name);
        Assert.Equal(anomalous, clip.Anomalous);
        Assert.Equal(group, clip.Group);
        Assert.Equal(domain, clip.Domain);
        Assert.Equal(split, clip.Split);
        Assert.Equal(attributes, clip.Attributes);
    }

    [Theory]
    [InlineData("section_0_source_test_normal_0001.wav")]
    [InlineData("section_00_sorce_test_normal_0001.wav")]
    [InlineData("section_00_source_test_abnormal_0001.wav")]
    [InlineData("section_00_source_test_normal_01.wav")]
    [InlineData("section_00_source_validation_normal_0001.wav")]
    [InlineData("fan_section_AB_source_test_normal_0001.wav")]
    [InlineData("normal_id_x1_00000001.wav")]
    [InlineData("anomaly_id_00.wav")]
    public void MalformedNamesAreRefusedWithOneLine(string name)
    {
        var e = Assert.Throws<InvalidDataException>(() => ClipName.Parse("/data/" + name));
        Assert.StartsWith("/data/" + name + ": malformed DCASE", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void YearIsDetectedFromTheNamesAndCheckedWhenGiven()
    {
        static MachineData Machine(params string[] names) =>
            new("fan", names.Select(n => ClipName.Parse(n)).Where(c => c.Split != "test").ToList(), names.Select(n => ClipName.Parse(n)).Where(c => c.Split == "test").ToList());
        var y2020 = Machine("normal_id_00_00000000.wav", "anomaly_id_00_00000001.wav");
        var y2021 = Machine("section_00_source_train_normal_0000.wav", "section_00_target_test_anomaly_0001.wav");
        var y2023 = Machine("section_00_source_train_normal_0000_m-n_X.wav", "section_00_target_test_anomaly_0001_m-n_Y.wav");
        Assert.Equal(2020, DcaseLayouts.Resolve(null, [y2020]));
        Assert.Equal(2021, DcaseLayouts.Resolve(null, [y2021]));
        Assert.Equal(2022, DcaseLayouts.Resolve(null, [y2023]));
        Assert.Equal(2024, DcaseLayouts.Resolve(2024, [y2021]));
        Assert.Throws<InvalidDataException>(() => DcaseLayouts.Resolve(2023, [y2020]));
        Assert.Throws<ArgumentException>(() => DcaseLayouts.Resolve(2019, [y2020]));
    }

    // Scores of one section: source normals 0.1, 0.4; target normals 0.35, 0.8; a source anomaly 0.5 and a target anomaly 0.6.
    static readonly ScoredClip[] Section =
    [
        new("section_00_source_test_normal_0000.wav", 0.1, false, false),
        new("section_00_source_test_normal_0001.wav", 0.4, false, false),
        new("section_00_target_test_normal_0002.wav", 0.35, false, false),
        new("section_00_target_test_normal_0003.wav", 0.8, true, false),
        new("section_00_source_test_anomaly_0004.wav", 0.5, true, true),
        new("section_00_target_test_anomaly_0005.wav", 0.6, true, true),
    ];

    [Fact]
    public void OfficialScoreFrom2022OnMatchesAHandComputation()
    {
        // AUC(source): normals {0.1, 0.4} against both anomalies {0.5, 0.6}: 4 of 4 pairs ordered → 1.
        // AUC(target): normals {0.35, 0.8} against {0.5, 0.6}: 2 of 4 → 0.5.
        // pAUC on all six clips: the highest score is a normal one (FPR 0.25 before any TPR), so the area up to FPR 0.1 is 0 and
        // McClish's correction gives 0.5·(1 + (0 − 0.005) / (0.1 − 0.005)) = 0.5·(1 − 1/19) = 9/19.
        // Official score = 3 / (1/1 + 1/0.5 + 19/9) = 27/46.
        var group = Group(Section);
        var official = OfficialScore.Compute([group], 2023)!;
        var s = Assert.Single(official.Sections);
        Assert.Equal(1.0, s.AucSource, 12);
        Assert.Equal(0.5, s.AucTarget, 12);
        Assert.Equal(9.0 / 19, s.Pauc, 12);
        Assert.Equal(27.0 / 46, official.Score, 12);
        Assert.Equal(3, official.Entries);
        Assert.Empty(official.Missing);
    }

    [Fact]
    public void OfficialScoreOf2021KeepsTheDomainsApart()
    {
        // Source: normals {0.1, 0.4} vs anomaly {0.5}: AUC 1, pAUC 1. Target: normals {0.35, 0.8} vs anomaly {0.6}: AUC 0.5,
        // pAUC 9/19 (a normal clip first). Official = 4 / (1 + 1 + 2 + 19/9) = 36/55.
        var official = OfficialScore.Compute([Group(Section)], 2021)!;
        var s = Assert.Single(official.Sections);
        Assert.Equal(1.0, s.AucSource, 12);
        Assert.Equal(0.5, s.AucTarget, 12);
        Assert.Equal(1.0, s.PaucSource, 12);
        Assert.Equal(9.0 / 19, s.PaucTarget, 12);
        Assert.Equal(36.0 / 55, official.Score, 12);
        Assert.Null(OfficialScore.Compute([Group(Section)], 2020));
    }

    [Fact]
    public void HarmonicMeanFloorsAtTheMachineEpsilonAndMissingEntriesAreListed()
    {
        Assert.Equal(2 / (1 / 0.5 + 1 / OfficialScore.MachineEpsilon), OfficialScore.HarmonicMean([0.5, 0.0]));
        // Only source normals and one target anomaly: AUC(target) is undefined and listed; the other two count.
        var official = OfficialScore.Compute([Group([Section[0], Section[1], Section[5]])], 2023)!;
        Assert.Equal(2, official.Entries);
        Assert.Equal(["fan section_00 auc_target"], official.Missing);
        Assert.Equal(1.0, official.Score, 12);
    }

    [SkippableFact]
    public void Dcase2023LiteSplitsByNameAndScoresOfficially()
    {
        string data = SharedData.Require("data/dcase2023-lite");
        var machines = DatasetLayout.Discover(data);
        Assert.Equal(7, machines.Count);
        Assert.All(machines, m =>
        {
            Assert.All(m.Train, c => Assert.Equal("train", c.Split));
            Assert.All(m.Test, c => Assert.Equal("test", c.Split));
        });
        Assert.Equal(2022, DcaseLayouts.Resolve(null, machines));
    }

    static GroupResult Group(IReadOnlyList<ScoredClip> clips) =>
        new("fan", "section_00", 10, clips.Count, double.NaN, double.NaN, 0.5, NativeASD.Detection.Thresholds.ThresholdProvenance.Legacy(10), "", "", "", false, clips);
}
