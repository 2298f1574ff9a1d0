using System.Text.Json;

namespace NativeASD.Tests.Support;

/// <summary>Tests/Fixtures/weights/manifest.json (written by make_weights_references.py with PyTorch) and temp-file helpers.</summary>
static class WeightFixtures
{
    static readonly Lazy<JsonElement> LazyManifest = new(() =>
        JsonDocument.Parse(File.ReadAllText(Fixtures.PathOf("weights", "manifest.json"))).RootElement);

    public static JsonElement Manifest => LazyManifest.Value;

    public static string PathOf(string file) => Fixtures.PathOf("weights", file);

    public static int[] Shape(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    /// <summary>A fresh directory under the temp folder, deleted on dispose.</summary>
    public sealed class TempDir(bool inMemory = false) : IDisposable
    {
        /// <summary>In memory (/dev/shm where it exists) for tests that write thousands of small files: a disk write costs ~7 ms here.</summary>
        public string Path { get; } = inMemory && Directory.Exists("/dev/shm")
            ? Directory.CreateDirectory(System.IO.Path.Combine("/dev/shm", $"nasd-weights-{Guid.NewGuid():N}")).FullName
            : Directory.CreateTempSubdirectory("nasd-weights-").FullName;
        public string File(string name) => System.IO.Path.Combine(Path, name);
        public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
    }
}
