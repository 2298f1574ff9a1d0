using System.Diagnostics;
using NativeASD.Engine.IO;

namespace NativeASD.Tests.Engine.IO;

/// <summary>Temp files that killed writers leave behind are removed; running writers' are kept.</summary>
public sealed class AtomicFileTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasd-atomic").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void LeftoversOfEndedProcessesAreRemovedOthersKept()
    {
        using var ended = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        ended.WaitForExit();
        string dead = Path.Combine(_dir, $".model.safetensors.{ended.Id}.{Guid.NewGuid():N}.tmp");
        string alive = Path.Combine(_dir, $".other.safetensors.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        string unrelated = Path.Combine(_dir, ".notes.tmp");
        foreach (var f in new[] { dead, alive, unrelated }) File.WriteAllText(f, "x");

        AtomicFile.RemoveStaleTemporaries(_dir);

        Assert.False(File.Exists(dead));
        Assert.True(File.Exists(alive));
        Assert.True(File.Exists(unrelated));
    }
}
