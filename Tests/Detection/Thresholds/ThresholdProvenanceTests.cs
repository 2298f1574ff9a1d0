using System.Text.Json;
using NativeASD.Detection.Thresholds;

namespace NativeASD.Tests.Detection.Thresholds;

public class ThresholdProvenanceTests
{
    [Fact]
    public void AMachineTypesModelStandingInForAnIdIsStatedInTheDescriptionAndTheColumn()
    {
        var own = new ThresholdProvenance(ThresholdProvenance.CrossFit, 40, 5);
        Assert.Equal("5-fold cross-fit on 40 training clips", own.Describe());
        Assert.Equal("cross-fit", own.Column);
        var pooled = own with { Clips = 7, MachineType = "ToyCar" };
        Assert.Equal("5-fold cross-fit on 7 training clips of the machine type's model (ToyCar, all IDs: this ID's own clips are too few to cross-fit)",
            pooled.Describe());
        Assert.Equal("cross-fit/type", pooled.Column);
        Assert.Equal("in-sample/type", new ThresholdProvenance(ThresholdProvenance.InSample, 2, MachineType: "fan").Column);
    }

    /// <summary>eval's resume markers and model files keep the record as JSON; records written before the field existed read as null.</summary>
    [Fact]
    public void TheMachineTypeSurvivesJsonAndOlderRecordsHaveNone()
    {
        var pooled = new ThresholdProvenance(ThresholdProvenance.CrossFit, 7, 5, MachineType: "ToyCar");
        Assert.Equal(pooled, JsonSerializer.Deserialize<ThresholdProvenance>(JsonSerializer.Serialize(pooled)));
        var older = JsonSerializer.Deserialize<ThresholdProvenance>("""{"Source":"cross-fit","Clips":9,"Folds":5,"Folder":null,"CalibratedUtc":null}""");
        Assert.Null(older!.MachineType);
        Assert.Equal(9, older.Clips);
    }

    /// <summary>A cross-fit over several IDs that left out the scores of single-clip IDs says how many it fitted; JSON keeps it.</summary>
    [Fact]
    public void ScoresLeftOutOfACrossFitAreStated()
    {
        var source = new ThresholdProvenance(ThresholdProvenance.CrossFit, 7, 5, Scores: 5);
        Assert.Equal("5-fold cross-fit on 7 training clips (5 scores: clips of single-clip IDs left out)", source.Describe());
        Assert.Equal(source, JsonSerializer.Deserialize<ThresholdProvenance>(JsonSerializer.Serialize(source)));
        Assert.Null(JsonSerializer.Deserialize<ThresholdProvenance>("""{"Source":"cross-fit","Clips":9,"Folds":5}""")!.Scores);
    }
}
