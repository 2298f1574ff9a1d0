using NativeASD.Engine;
using NativeASD.Engine.Architectures;
using NativeASD.Engine.Architectures.Panns;
using NativeASD.Kernels;
using Xunit.Abstractions;

namespace NativeASD.Tests.Engine.Architectures;

/// <summary>
/// Each architecture's forward equals PyTorch's (float64 oracle, see make_arch_references.py) at every tap point,
/// relative L2 error ≤ 1e-4, with the random weights loaded by their state-dict names.
/// </summary>
public class ArchReferenceTests(ITestOutputHelper output)
{
    public static TheoryData<string, string> ForwardCases
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var c in ArchFixtures.Cases.Where(c => c.Json.TryGetProperty("keys", out _)))
                foreach (var backend in new[] { "cpu", "cpu-1thread" })
                    data.Add(c.Name, backend);
            return data;
        }
    }

    public static TapModel Build(ArchCase c, IBackend backend) => c.Arch switch
    {
        "panns-resnet" => new PannsResNet(c.PannsConfig(), backend),
        "yamnet" => new YamNet(new YamNetConfig(c.Config.GetProperty("width").GetDouble(), c.Config.GetProperty("classes").GetInt32()), backend),
        "honk-res" => new HonkRes(new HonkResConfig(Maps: c.Config.GetProperty("maps").GetInt32(), Layers: c.Config.GetProperty("layers").GetInt32(),
            Classes: c.Config.GetProperty("classes").GetInt32(), Scales: c.Json.GetProperty("keys").EnumerateArray().Any(k => k.GetString()!.StartsWith("scale"))), backend),
        _ => throw new ArgumentException($"{c.Name}: unknown arch {c.Arch}"),
    };

    [Theory]
    [MemberData(nameof(ForwardCases))]
    public void ForwardMatchesTorchAtEveryTap(string caseName, string backendName)
    {
        var c = ArchFixtures.Get(caseName);
        var backend = TestBackends.Get(backendName);
        using var model = Build(c, backend);
        StateDict.Load(model, c.StateTensors("weights"), c.PathOf("weights"));
        model.Eval();
        ArchFixtures.CheckTaps(c, model, backend, output);
    }
}
