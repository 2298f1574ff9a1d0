using System.Diagnostics;
using System.Text.RegularExpressions;

namespace NativeASD.Engine.IO;

/// <summary>
/// Writes a file so that readers see either the old file or the complete new one: temp file beside it, fsync, rename.
/// The one atomic write: Engine's writers (.npy, .wav) use it, and so do Detection and the command line for model files,
/// reports and CSVs. It lives here, the lowest project that writes files, rather than in Weights: Weights holds the
/// weight-file formats only (its writer encodes to a Stream) and Engine must not call Weights.
/// </summary>
/// <example><code>
/// using (var file = AtomicFile.Create(path)) { file.Stream.Write(bytes); file.Commit(); }   // no Commit: the old file stays
/// </code></example>
public sealed partial class AtomicFile : IDisposable
{
    readonly string _path, _temp;
    bool _committed;

    /// <summary>The temporary file's stream; its bytes become <c>path</c> at <see cref="Commit"/>.</summary>
    public FileStream Stream { get; }

    AtomicFile(string path)
    {
        _path = Path.GetFullPath(path);
        _temp = Path.Combine(Path.GetDirectoryName(_path) ?? ".", $".{Path.GetFileName(_path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        Stream = new FileStream(_temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
    }

    /// <summary>Starts writing <paramref name="path"/>: nothing there changes until <see cref="Commit"/>.</summary>
    public static AtomicFile Create(string path) => new(path);

    /// <summary>Flushes to disk and renames the temporary file over the target.</summary>
    public void Commit()
    {
        Stream.Flush(flushToDisk: true);
        Stream.Dispose();
        File.Move(_temp, _path, overwrite: true);
        _committed = true;
    }

    /// <summary>Without <see cref="Commit"/> (an exception while writing), removes the temporary file.</summary>
    public void Dispose()
    {
        if (_committed) return;
        Stream.Dispose();
        try { File.Delete(_temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    public static void Write(string path, Action<FileStream> write)
    {
        using var file = Create(path);
        write(file.Stream);
        file.Commit();
    }

    [GeneratedRegex(@"^\..+\.(\d+)\.[0-9a-f]{32}\.tmp$", RegexOptions.CultureInvariant)]
    private static partial Regex Temporary();

    /// <summary>
    /// Deletes the temporary files of atomic writes into <paramref name="directory"/> whose writing process has ended
    /// (killed: a write that fails removes its own). Temporaries of running processes, and other files, are left alone; a
    /// folder that cannot be listed or a file that cannot be deleted is skipped. Called by the next model, evaluation or
    /// cache write into a folder, so killed runs do not leave model-sized hidden files behind for good.
    /// </summary>
    public static void RemoveStaleTemporaries(string directory)
    {
        string[] candidates;
        try { candidates = Directory.Exists(directory) ? Directory.GetFiles(directory, ".*.tmp") : []; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return; }
        foreach (string file in candidates)
        {
            var match = Temporary().Match(Path.GetFileName(file));
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
