using System.Diagnostics;
using System.Text.RegularExpressions;

namespace NativeASD.Weights;

/// <summary>
/// Writes a file so that readers see either the old file or the complete new one: temp file beside it, fsync, rename.
/// The temp file is named <c>.NAME.PID.GUID.tmp</c>; a process killed mid-write leaves it behind, and
/// <see cref="RemoveStaleTemporaries"/> (called by the next model, evaluation or cache write into the folder) removes such
/// leftovers of processes that no longer run.
/// </summary>
public static partial class AtomicFile
{
    public static void Write(string path, Action<FileStream> write)
    {
        string full = System.IO.Path.GetFullPath(path);
        string temp = TemporaryFor(full);
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    static string TemporaryFor(string fullPath) =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(fullPath) ?? ".",
            $".{System.IO.Path.GetFileName(fullPath)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");

    [GeneratedRegex(@"^\..+\.(\d+)\.[0-9a-f]{32}\.tmp$", RegexOptions.CultureInvariant)]
    private static partial Regex Temporary();

    /// <summary>
    /// Deletes temp files of atomic writes into <paramref name="directory"/> whose writing process has ended (killed, not
    /// cancelled: a cancelled write removes its own). Temp files of running processes, and other files, are left alone;
    /// a folder that cannot be listed or a file that cannot be deleted is skipped.
    /// </summary>
    public static void RemoveStaleTemporaries(string directory)
    {
        string[] candidates;
        try { candidates = Directory.Exists(directory) ? Directory.GetFiles(directory, ".*.tmp") : []; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return; }
        foreach (string file in candidates)
        {
            var match = Temporary().Match(System.IO.Path.GetFileName(file));
            if (!match.Success || !int.TryParse(match.Groups[1].ValueSpan, out int pid) || IsRunning(pid)) continue;
            try { File.Delete(file); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    static bool IsRunning(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }
}
