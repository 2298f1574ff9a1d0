using Microsoft.Win32.SafeHandles;

namespace NativeASD.Weights.Hdf5;

/// <summary>
/// The bytes of an HDF5 file: held in memory or read from an open file. Callers check every range against
/// <see cref="Length"/> first (<see cref="Hdf5File"/> does), so a range here is always inside the file.
/// </summary>
internal abstract class Hdf5Storage : IDisposable
{
    public abstract long Length { get; }

    /// <summary>Bytes [offset, offset + count): a slice of the array, or a buffer read from the file.</summary>
    public abstract ReadOnlyMemory<byte> Read(long offset, int count);

    /// <summary>Copies bytes [offset, offset + destination.Length) into destination (no intermediate buffer).</summary>
    public abstract void CopyTo(long offset, Span<byte> destination);

    public virtual void Dispose() { }

    public static Hdf5Storage Of(byte[] bytes) => new ArrayStorage(bytes);

    public static Hdf5Storage Open(string path) => new FileStorage(File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read));

    sealed class ArrayStorage(byte[] bytes) : Hdf5Storage
    {
        public override long Length => bytes.Length;
        public override ReadOnlyMemory<byte> Read(long offset, int count) => bytes.AsMemory((int)offset, count);
        public override void CopyTo(long offset, Span<byte> destination) => bytes.AsSpan((int)offset, destination.Length).CopyTo(destination);
    }

    sealed class FileStorage(SafeFileHandle handle) : Hdf5Storage
    {
        public override long Length { get; } = RandomAccess.GetLength(handle);

        public override ReadOnlyMemory<byte> Read(long offset, int count)
        {
            var buffer = new byte[count];
            CopyTo(offset, buffer);
            return buffer;
        }

        public override void CopyTo(long offset, Span<byte> destination)
        {
            // A file that shrinks while open ends the reads early; the caller's checks assumed the old length.
            for (int done = 0; done < destination.Length;)
            {
                int n = RandomAccess.Read(handle, destination[done..], offset + done);
                if (n == 0) throw new EndOfStreamException($"file ended at {offset + done} while reading; was it truncated while open?");
                done += n;
            }
        }

        public override void Dispose() => handle.Dispose();
    }
}
