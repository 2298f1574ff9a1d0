using System.Buffers.Binary;
using System.Text.Json;
using NativeASD.Weights;
using NativeASD.Weights.Safetensors;
using NativeASD.Engine.IO;

namespace NativeASD.Tests.Weights.Safetensors;

public class SafetensorsTests
{
    static readonly float[] A = [1f, -2f, 3.5f, 1e-8f, 65504f, -0f];

    static List<SafetensorsTensor> Sample() =>
    [
        SafetensorsTensor.Float32("a", [2, 3], A),
        new("half", WeightDType.F16, [3], () => new byte[] { 0x00, 0x3c, 0x00, 0xc0, 0x00, 0x7c }), // 1, -2, +inf
        new("brain", WeightDType.BF16, [2], () => new byte[] { 0x80, 0x3f, 0x40, 0xc0 }),         // 1.0, -3.0
        SafetensorsTensor.Int64("count", [], [123456789012]),
        SafetensorsTensor.Float32("empty", [0, 4], []),
        SafetensorsTensor.Float32("b", [1], [42f]),
    ];

    [Fact]
    public void Round_trip_keeps_names_shapes_dtypes_values_and_metadata()
    {
        using var dir = new WeightFixtures.TempDir();
        string path = dir.File("x.safetensors");
        AtomicFile.Write(path, s => SafetensorsWriter.Write(s, path, Sample(), new Dictionary<string, string> { ["arch"] = "test", ["arch_config"] = "{\"w\": 1}" }));
        using var f = SafetensorsFile.Open(path);
        Assert.Equal("safetensors", f.Format);
        Assert.Equal("{\"w\": 1}", f.Metadata["arch_config"]);
        Assert.Equal(A, f.Tensors.Single(t => t.Name == "a").ReadFloat32());
        Assert.Equal([1f, -2f, float.PositiveInfinity], f.Tensors.Single(t => t.Name == "half").ReadFloat32());
        Assert.Equal([1f, -3f], f.Tensors.Single(t => t.Name == "brain").ReadFloat32());
        Assert.Equal([123456789012f], f.Tensors.Single(t => t.Name == "count").ReadFloat32());
        Assert.Empty(f.Tensors.Single(t => t.Name == "empty").ReadFloat32());
        Assert.Equal([2, 3], f.Entry("a").Shape);
        Assert.Equal(8 * 1, f.GetBytes("count").Length);
        Assert.Equal(0, f.DataStart % SafetensorsWriter.Alignment);
        // Largest element size first, so every tensor is aligned to its element size.
        Assert.Equal("count", f.Entries[0].Name);
        foreach (var e in f.Entries) Assert.Equal(0, (f.DataStart + e.Begin) % WeightDTypes.Size(e.DType));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
    }

    [Fact]
    public void Header_is_spec_json_padded_with_spaces()
    {
        using var dir = new WeightFixtures.TempDir();
        string path = dir.File("x.safetensors");
        AtomicFile.Write(path, s => SafetensorsWriter.Write(s, path, Sample(), new Dictionary<string, string> { ["arch"] = "t" }));
        var bytes = File.ReadAllBytes(path);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, (8 + n) % 64);
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)n));
        Assert.Equal("F32", doc.RootElement.GetProperty("a").GetProperty("dtype").GetString());
        Assert.Equal("BOOL", WeightDTypes.SafetensorsName(WeightDType.Bool));
    }

    [Fact]
    public void Reads_a_file_laid_out_by_python()
    {
        var m = WeightFixtures.Manifest.GetProperty("python_safetensors");
        using var f = WeightFiles.Open(WeightFixtures.PathOf(m.GetProperty("file").GetString()!));
        Assert.Equal("safetensors", f.Format);
        Assert.Equal("test", f.Metadata["arch"]);
        foreach (var e in m.GetProperty("tensors").EnumerateObject())
        {
            var t = f.Tensors.Single(x => x.Name == e.Name);
            Assert.Equal(e.Value.GetProperty("dtype").GetString(), WeightDTypes.SafetensorsName(t.StoredAs));
            Assert.Equal(WeightFixtures.Shape(e.Value.GetProperty("shape")), t.Shape);
            Assert.Equal(e.Value.GetProperty("values").EnumerateArray().Select(v => (float)v.GetDouble()), t.ReadFloat32());
        }
    }

    [Fact]
    public void Writer_refuses_repeated_names_and_wrong_byte_counts()
    {
        using var dir = new WeightFixtures.TempDir();
        Assert.Throws<ArgumentException>(() => AtomicFile.Write(dir.File("a.safetensors"), s => SafetensorsWriter.Write(s, dir.File("a.safetensors"), [SafetensorsTensor.Float32("x", [1], [1f]), SafetensorsTensor.Float32("x", [1], [2f])])));
        Assert.Throws<ArgumentException>(() => AtomicFile.Write(dir.File("b.safetensors"), s => SafetensorsWriter.Write(s, dir.File("b.safetensors"), [SafetensorsTensor.Float32("x", [3], [1f])])));
        Assert.False(File.Exists(dir.File("b.safetensors")));
        Assert.Empty(Directory.GetFiles(dir.Path));
    }
}
