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
}
