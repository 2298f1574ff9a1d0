using System.Text.Json;
using NativeASD.Kernels;

namespace NativeASD.Tests.Cli.Commands;

public class BenchCommandTests
{
    [Fact]
    public void GemmJsonHasTheContractFields()
    {
        var r = NasdProcess.Run("bench", "gemm", "--size", "64", "--threads", "1", "--repeats", "3", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var o = doc.RootElement;
        Assert.True(o.GetProperty("gflops").GetDouble() > 0);
        Assert.Equal(64, o.GetProperty("size").GetInt32());
        Assert.Equal(1, o.GetProperty("threads").GetInt32());
        Assert.Equal("cpu", o.GetProperty("backend").GetString());
    }

    [Fact]
    public void GemmTextNamesShapeAndSpeed()
    {
        var r = NasdProcess.Run("bench", "gemm", "--m", "16", "--n", "40", "--k", "8", "--repeats", "3");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Matches(@"gemm 16x40x8 on CPU .*: [0-9.]+ GFLOP/s", r.Stdout);
    }

    /// <summary>A GPU kind this host lacks (probed in-process), or null when it has both.</summary>
    static string? AbsentDevice()
    {
        foreach (var kind in new[] { DeviceKind.OpenCL, DeviceKind.Cuda })
        {
            try { Backends.Open(kind).Dispose(); }
            catch (DeviceNotFoundException) { return Backends.Name(kind); }
        }
        return null;
    }

    [SkippableFact]
    public void MissingDeviceIsAnInputError()
    {
        string? device = AbsentDevice();
        Skip.If(device is null, "this host has both a CUDA and an OpenCL device: no missing device to ask for");
        var r = NasdProcess.Run("bench", "gemm", "--size", "8", "--device", device!);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains($"device '{device}' requested", r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
    }

    [Theory]
    [InlineData("bench", "gemm", "--size", "abc")]
    [InlineData("bench", "gemm", "--nope")]
    [InlineData("bench", "fft")]
    [InlineData("bench")]
    [InlineData("frobnicate")]
    [InlineData("bench", "gemm", "--device", "tpu")]
    public void BadCommandLinesAreUsageErrors(params string[] args)
    {
        var r = NasdProcess.Run(args);
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("nasd: error:", r.Stderr);
    }

    [Fact]
    public void HelpListsOptionsAndExamples()
    {
        var r = NasdProcess.Run("bench", "--help");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("--threads", r.Stdout);
        Assert.Contains("Examples:", r.Stdout);
    }

    [Fact]
    public void ConvJsonHasTheContractFields()
    {
        var r = NasdProcess.Run("bench", "conv", "--input", "1,4,6,20", "--out-channels", "8", "--threads", "1", "--repeats", "3", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var o = doc.RootElement;
        Assert.Equal("conv2d", o.GetProperty("op").GetString());
        Assert.True(o.GetProperty("gflops").GetDouble() > 0);
        Assert.True(o.GetProperty("backward_over_forward").GetDouble() > 0);
        Assert.Equal(1, o.GetProperty("threads").GetInt32());
        Assert.Equal(3, o.GetProperty("kernel").GetInt32());
    }

    [Fact]
    public void ConvBadInputIsAUsageError()
    {
        var r = NasdProcess.Run("bench", "conv", "--input", "1,4,6");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("N,C,H,W", r.Stderr);
    }

    /// <summary>On an ILGPU device the GEMM names its kernel variant and its cuBLAS peer; this host has no cuBLAS.</summary>
    [Fact]
    public void GemmOnIlgpuNamesVariantAndMissingCuBlas()
    {
        var r = NasdProcess.Run("bench", "gemm", "--size", "40", "--device", "ilgpu-cpu", "--repeats", "1", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var o = doc.RootElement;
        Assert.Equal("32x32k4", o.GetProperty("variant").GetString());
        Assert.True(o.GetProperty("ms").GetDouble() > 0); // GFLOP/s on the simulator can round to 0.00 on a busy machine
        Assert.Equal("not found", o.GetProperty("cublas").GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, o.GetProperty("cublas").GetProperty("gflops").ValueKind);

        var text = NasdProcess.Run("bench", "gemm", "--size", "40", "--device", "ilgpu-cpu", "--repeats", "1", "--variant", "simple");
        Assert.True(text.ExitCode == 0, text.Stderr);
        Assert.Contains("[simple]", text.Stdout);
        Assert.Contains("cuBLAS: not found", text.Stdout);
    }

    [Theory]
    [InlineData("ilgpu-cpu", "96x96k8", "simple, 32x32k4")]
    [InlineData("cpu", "simple", "none")]
    public void UnknownVariantIsAUsageError(string device, string variant, string listed)
    {
        var r = NasdProcess.Run("bench", "gemm", "--size", "8", "--device", device, "--variant", variant);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"--variant '{variant}'", r.Stderr);
        Assert.Contains(listed, r.Stderr);
    }

    [Fact]
    public void ResNet38JsonHasClipsPerSecondPerBatch()
    {
        var r = NasdProcess.Run("bench", "resnet38", "--seconds", "0.35", "--batch", "1,2", "--repeats", "1", "--threads", "2", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var o = doc.RootElement;
        Assert.Equal("resnet38", o.GetProperty("op").GetString());
        Assert.Equal(0.35, o.GetProperty("clip_seconds").GetDouble());
        var results = o.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal([1, 2], results.Select(x => x.GetProperty("batch").GetInt32()));
        Assert.All(results, x => Assert.True(x.GetProperty("clips_per_s").GetDouble() > 0));
        Assert.All(results, x => Assert.True(x.GetProperty("frontend_ms").GetDouble() > 0 && x.GetProperty("forward_ms").GetDouble() > 0));
    }

    [Theory]
    [InlineData("--batch", "0")]
    [InlineData("--batch", "1,x")]
    [InlineData("--seconds", "0.2")]
    public void ResNet38BadOptionsAreUsageErrors(string option, string value)
    {
        var r = NasdProcess.Run("bench", "resnet38", option, value);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"bench resnet38: {option}", r.Stderr);
    }

    /// <summary>bench parity on ILGPU's CPU simulator, restricted to the tiled kernel variant's cases (the whole --quick set takes minutes there).</summary>
    [Fact]
    public void ParityOnIlgpuCpuRunsTheVariantCases()
    {
        var r = NasdProcess.Run("bench", "parity", "--device", "ilgpu-cpu", "--quick", "--only", "gemm 32x32k4,conv 32x32k4 fused", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var o = doc.RootElement;
        Assert.Equal(0, o.GetProperty("failed").GetInt32());
        var names = o.GetProperty("results").EnumerateArray().Select(x => x.GetProperty("name").GetString()!).ToArray();
        Assert.Equal(5, names.Length);
        Assert.Contains("conv 32x32k4 fused residual relu", names);
        Assert.All(names, n => Assert.True(n.StartsWith("gemm 32x32k4") || n.StartsWith("conv 32x32k4"), n));

        var none = NasdProcess.Run("bench", "parity", "--device", "ilgpu-cpu", "--quick", "--only", "no such case");
        Assert.Equal(1, none.ExitCode);
        Assert.Contains("matches no case", none.Stderr);
    }
}
