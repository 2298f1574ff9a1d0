using System.Globalization;
using NativeASD.Kernels;
using NativeASD.Tests.Support;
using Xunit;

namespace NativeASD.Tests.Cli.Commands;

/// <summary>
/// Whole commands on a device: <c>--device cuda</c> without a CUDA device is one line and exit 2 in every command that
/// computes, before any work (demo generates no data); and score, eval and embed on ilgpu-cpu (frontend, network and tap
/// pooling on the device, batched) give the CPU backend's results within the parity bounds, on a tiny backbone.
/// </summary>
public sealed class DeviceCommandTests : IDisposable
{
    readonly WeightFixtures.TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    static bool CudaPresent()
    {
        try { using var _ = Backends.Open(DeviceKind.Cuda); return true; }
        catch (DeviceNotFoundException) { return false; }
    }

    public static TheoryData<string[]> Commands => new(
        ["fit", "--train", "TRAIN", "--out", "OUT/m.safetensors"],
        ["score", "--model", "OUT/m.safetensors", "TRAIN"],
        ["eval", "--data", "DATA", "--out", "OUT/eval"],
        ["embed", "--backbone", "BACKBONE", "--tap", "layer2", "TRAIN/normal_id_00_00000000.wav", "OUT/e.npy"],
        ["pretrain", "--synth", "8", "--out", "OUT/p.safetensors"],
        ["demo", "--out", "OUT/demo"]);

    [SkippableTheory]
    [MemberData(nameof(Commands))]
    public void Cuda_without_a_device_is_one_line_and_exit_2_before_any_work(string[] command)
    {
        Skip.If(CudaPresent(), "this host has a CUDA device");
        string data = Dataset();
        string output = Directory.CreateDirectory(_dir.File("out")).FullName;
        if (command[0] == "score") Assert.Equal(0, NasdProcess.Run("fit", "--train", Path.Combine(data, "fan", "train"), "--out", Path.Combine(output, "m.safetensors"), "--backbone", "none").ExitCode);
        var args = command.Select(a => a.Replace("TRAIN", Path.Combine(data, "fan", "train")).Replace("DATA", data).Replace("OUT", output)
            .Replace("BACKBONE", TinyBackbone.Path)).Append("--device").Append("cuda").ToArray();
        var r = NasdProcess.Run(args);
        Assert.Equal(2, r.ExitCode);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains("no CUDA device was found", lines[0]);
        Assert.Contains("run with --device cpu", lines[0]);
        Assert.False(Directory.Exists(Path.Combine(output, "demo")), "demo generated data before finding no device");
    }

    [Fact]
    public void Score_eval_and_embed_on_ilgpu_cpu_match_the_cpu()
    {
        string data = Dataset();
        string train = Path.Combine(data, "fan", "train"), test = Path.Combine(data, "fan", "test");
        string model = _dir.File("m.safetensors");
        string[] backbone = ["--backbone", TinyBackbone.Path, "--tap", string.Join(",", TinyBackbone.Taps), "--no-cache"];
        Assert.Equal(0, NasdProcess.Run(["fit", "--train", train, "--out", model, "--detector", "mahalanobis", .. backbone]).ExitCode);

        var cpu = Scores(NasdProcess.Run("score", "--model", model, test, "--no-cache"));
        var device = Scores(NasdProcess.Run("score", "--model", model, test, "--no-cache", "--device", "ilgpu-cpu", "--batch", "3"));
        Assert.Equal(cpu.Keys, device.Keys);
        foreach (var (clip, score) in cpu) Assert.True(Math.Abs(device[clip] - score) <= 1e-4 * Math.Abs(score), $"{clip}: {device[clip]} on ilgpu-cpu, {score} on cpu");

        // eval: features for fitting and scoring on the device, in batches of 2.
        string[] eval = ["eval", "--data", data, "--detector", "mahalanobis", .. backbone];
        Assert.Equal(0, NasdProcess.Run([.. eval, "--out", _dir.File("eval-cpu")]).ExitCode);
        Assert.Equal(0, NasdProcess.Run([.. eval, "--out", _dir.File("eval-device"), "--device", "ilgpu-cpu", "--clip-batch", "2"]).ExitCode);
        var evalCpu = CsvScores(_dir.File("eval-cpu"));
        var evalDevice = CsvScores(_dir.File("eval-device"));
        foreach (var (clip, score) in evalCpu) Assert.True(Math.Abs(evalDevice[clip] - score) <= 1e-3 * Math.Abs(score), $"eval {clip}: {evalDevice[clip]} on ilgpu-cpu, {score} on cpu");

        string wav = Directory.GetFiles(test).Order(StringComparer.Ordinal).First();
        string[] embed = ["embed", "--backbone", TinyBackbone.Path, "--tap", string.Join(",", TinyBackbone.Taps), wav];
        Assert.Equal(0, NasdProcess.Run([.. embed, _dir.File("cpu.npy")]).ExitCode);
        Assert.Equal(0, NasdProcess.Run([.. embed, _dir.File("device.npy"), "--device", "ilgpu-cpu"]).ExitCode);
        var (a, _) = NativeASD.Engine.IO.NpyFile.Read(_dir.File("cpu.npy"));
        var (b, _) = NativeASD.Engine.IO.NpyFile.Read(_dir.File("device.npy"));
        double error = a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Sum(), norm = a.Sum(x => (double)x * x);
        Assert.True(error / norm < 1e-10, $"embed NMSE {error / norm:G3}");
    }

    [Fact]
    public void A_mistyped_gemm_variant_is_a_usage_error_before_any_work()
    {
        string train = Path.Combine(Dataset(), "fan", "train");
        var r = NasdProcess.RunWithVariable("NASD_GEMM_VARIANT", "256x256k8", "fit", "--train", train, "--out", _dir.File("v.safetensors"), "--device", "ilgpu-cpu", "--no-cache");
        Assert.Equal(1, r.ExitCode);
        Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("NASD_GEMM_VARIANT: gemm variant '256x256k8' is not one of simple, 32x32k4 on this device", r.Stderr);
        Assert.False(File.Exists(_dir.File("v.safetensors")));
    }

    [Fact]
    public void Batch_and_clip_batch_must_agree_where_both_are_offered()
    {
        var r = NasdProcess.Run("score", "--model", "m.safetensors", "x.wav", "--batch", "2", "--clip-batch", "4");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("--batch 2 and --clip-batch 4 disagree", r.Stderr);
    }

    /// <summary>A DCASE-layout set of one machine: 4 normal training clips, 2 + 2 test clips, 1 s each.</summary>
    string Dataset()
    {
        string root = _dir.File("data");
        if (!Directory.Exists(root))
            Assert.Equal(0, NasdProcess.Run("synth", "--out", root, "--types", "fan", "--ids", "1", "--train", "4", "--test", "2", "--seconds", "1").ExitCode);
        return root;
    }

    static Dictionary<string, double> Scores(NasdProcess.Result r)
    {
        Assert.True(r.ExitCode == 0, r.Stderr);
        return r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => l.Split(','))
            .ToDictionary(f => Path.GetFileName(f[0]), f => double.Parse(f[1], CultureInfo.InvariantCulture));
    }

    static Dictionary<string, double> CsvScores(string evalDir) =>
        File.ReadAllLines(Directory.GetFiles(evalDir, "anomaly_score_*.csv").Single()).Select(l => l.Split(','))
            .ToDictionary(f => f[0], f => double.Parse(f[1], CultureInfo.InvariantCulture));
}
