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
public sealed class AtomicFile : IDisposable
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
}
