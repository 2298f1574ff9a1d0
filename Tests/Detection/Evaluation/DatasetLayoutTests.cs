using NativeASD.Detection.Evaluation;

namespace NativeASD.Tests.Detection.Evaluation;

public class DatasetLayoutTests
{
    [Theory]
    [InlineData("normal_id_00_00000000.wav", false, "id_00", null)]
    [InlineData("anomaly_id_06_00000030.wav", true, "id_06", null)]
    [InlineData("fan_test_section_00_source_test_anomaly_0022_m-n_W.wav", true, "section_00", "source")]
    [InlineData("section_02_target_test_normal_0049_car_E2.wav", false, "section_02", "target")]
    [InlineData("anomaly_blade_fault_20200318T205628_1.wav", true, "id_00", null)]
    [InlineData("recording.wav", null, "id_00", null)]
    public void FileNamesGiveLabelGroupAndDomain(string name, bool? anomalous, string group, string? domain)
    {
        var clip = ClipName.Parse("/x/" + name);
        Assert.Equal(anomalous, clip.Anomalous);
        Assert.Equal(group, clip.Group);
        Assert.Equal(domain, clip.Domain);
    }

    [Fact]
    public void FlatFolderSplitsNormalsHalfHalfPerIdAndTestsEveryAnomaly()
    {
        string root = Directory.CreateTempSubdirectory("nasd-layout").FullName;
        try
        {
            string fan = Directory.CreateDirectory(Path.Combine(root, "fan")).FullName;
            foreach (string n in new[] { "normal_id_00_00000001", "normal_id_00_00000002", "normal_id_00_00000003", "normal_id_02_00000001", "anomaly_id_00_00000009" })
                File.WriteAllBytes(Path.Combine(fan, n + ".wav"), []);
            var data = Assert.Single(DatasetLayout.Discover(root));
            Assert.Equal("fan", data.MachineType);
            Assert.Equal(["normal_id_00_00000001.wav", "normal_id_00_00000003.wav", "normal_id_02_00000001.wav"], data.Train.Select(c => Path.GetFileName(c.File)));
            Assert.Equal(["normal_id_00_00000002.wav", "anomaly_id_00_00000009.wav"], data.Test.Select(c => Path.GetFileName(c.File)).OrderByDescending(n => n.StartsWith("normal")));
            Assert.All(data.Train, c => Assert.False(c.Anomalous));
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void AnAnomalyInATrainingFolderIsRefused()
    {
        string root = Directory.CreateTempSubdirectory("nasd-layout").FullName;
        try
        {
            string train = Directory.CreateDirectory(Path.Combine(root, "pump", "train")).FullName;
            File.WriteAllBytes(Path.Combine(train, "anomaly_id_00_00000000.wav"), []);
            Assert.Contains("anomalous clip in a training folder", Assert.Throws<IOException>(() => DatasetLayout.Discover(root)).Message);
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void EmptyRootIsAClearError()
    {
        string root = Directory.CreateTempSubdirectory("nasd-layout").FullName;
        try { Assert.Contains("no machine folders", Assert.Throws<IOException>(() => DatasetLayout.Discover(root)).Message); }
        finally { Directory.Delete(root, true); }
    }

    [SkippableFact]
    public void SharedLiteSetHasSixTypesSplitWithoutTrainingAnomalies()
    {
        string root = SharedData.Require("data/dcase2020-lite");
        var types = DatasetLayout.Discover(root);
        Assert.Equal(["ToyCar", "ToyConveyor", "fan", "pump", "slider", "valve"], types.Select(t => t.MachineType));
        Assert.All(types, t =>
        {
            Assert.NotEmpty(t.Train);
            Assert.Contains(t.Test, c => c.Anomalous == true);
            Assert.Contains(t.Test, c => c.Anomalous == false);
            Assert.All(t.Train, c => Assert.False(c.Anomalous));
        });
    }
}
