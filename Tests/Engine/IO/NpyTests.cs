using System.Buffers.Binary;
using System.Text;
using NativeASD.Engine;
using NativeASD.Engine.IO;
using Xunit;

namespace NativeASD.Tests.Engine.IO;

/// <summary>NpyFile against files numpy wrote (Tests/Fixtures/npy, from make_references.py) and hand-made malformed ones.</summary>
public sealed class NpyTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), "nasd-npy-tests-" + Guid.NewGuid().ToString("N"));

    public NpyTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    string Temp(string name) => Path.Combine(_dir, name);

    static string Sample(string name) => Fixtures.PathOf("npy", name);

    /// <summary>A .npy image with a given header text (padded with spaces to a 64-byte boundary) and data bytes.</summary>
    static byte[] Image(string dict, byte[]? data = null, int major = 1, bool pad = true)
    {
        int prefix = major == 1 ? 10 : 12;
        string text = dict;
        if (pad)
        {
            int total = prefix + text.Length + 1;
            text += new string(' ', (64 - total % 64) % 64) + "\n";
        }
        byte[] h = Encoding.Latin1.GetBytes(text);
        var ms = new MemoryStream();
        ms.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)major, 0]);
        if (major == 1) { var l = new byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(l, (ushort)h.Length); ms.Write(l); }
        else { var l = new byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(l, (uint)h.Length); ms.Write(l); }
        ms.Write(h);
        if (data is not null) ms.Write(data);
        return ms.ToArray();
    }

    static byte[] Floats(params float[] v)
    {
        var b = new byte[v.Length * 4];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(4 * i), v[i]);
        return b;
    }

    NpyFormatException Rejects(byte[] image, string name, params string[] fragments)
    {
        string path = Temp(name);
        File.WriteAllBytes(path, image);
        var e = Assert.Throws<NpyFormatException>(() => NpyFile.Read(path));
        Assert.Contains(path, e.Message);
        foreach (var f in fragments) Assert.Contains(f, e.Message, StringComparison.OrdinalIgnoreCase);
        return e;
    }

    // ---- files numpy wrote ---------------------------------------------------------------------------

    [Fact]
    public void ReadsFloat32WrittenByNumpy()
    {
        var (data, shape) = NpyFile.Read(Sample("f4_2x3.npy"));
        Assert.Equal([2, 3], shape);
        Assert.Equal([-1f, -0.5f, 0f, 0.5f, 1f, 1.5f], data);

        var (one, oneShape) = NpyFile.Read(Sample("f4_1d_5.npy"));
        Assert.Equal([5], oneShape);
        Assert.Equal(1.5f, one[0]);
        Assert.Equal(float.PositiveInfinity, one[2]);
        Assert.Equal(float.NegativeInfinity, one[3]);
        Assert.True(float.IsNaN(one[4]));

        var (scalar, scalarShape) = NpyFile.Read(Sample("f4_scalar.npy"));
        Assert.Empty(scalarShape);
        Assert.Equal([3.25f], scalar);

        var (empty, emptyShape) = NpyFile.Read(Sample("f4_empty_0x4.npy"));
        Assert.Equal([0, 4], emptyShape);
        Assert.Empty(empty);
    }

    [Theory]
    [InlineData("f4_v2_2x3.npy", 2)]
    [InlineData("f4_v3_2x3.npy", 3)]
    [InlineData("f4_2x3.npy", 1)]
    public void ReadsEveryFormatVersion(string file, int version)
    {
        var header = NpyFile.ReadHeader(Sample(file));
        Assert.Equal(version, header.Version);
        Assert.Equal(0, header.DataOffset % 64);
        var (data, shape) = NpyFile.Read(Sample(file));
        Assert.Equal([2, 3], shape);
        Assert.Equal(file == "f4_2x3.npy" ? [-1f, -0.5f, 0f, 0.5f, 1f, 1.5f] : [0f, 1, 2, 3, 4, 5], data);
    }

    [Theory]
    [InlineData("f8_2x3.npy", new[] { 0f, 1 / 3f, 2 / 3f, 1f, 4 / 3f, 5 / 3f })]
    [InlineData("f2_2x3.npy", new[] { 0f, 0.5f, 1f, 1.5f, 2f, 2.5f })]
    [InlineData("i8_2x3.npy", new[] { -3f, -2, -1, 0, 1, 2 })]
    [InlineData("i4_2x3.npy", new[] { 0f, 1000, 2000, 3000, 4000, 5000 })]
    [InlineData("u1_2x3.npy", new[] { 0f, 50, 100, 150, 200, 250 })]
    [InlineData("b1_2x3.npy", new[] { 1f, 0, 1, 0, 1, 0 })]
    public void ConvertsOtherDtypesToFloat(string file, float[] expected)
    {
        var (data, shape) = NpyFile.Read(Sample(file));
        Assert.Equal([2, 3], shape);
        Assert.Equal(expected, data);
    }

    [Theory]
    [InlineData("f4_fortran_2x3.npy", "fortran_order")]
    [InlineData("f4_bigendian_2x3.npy", "big-endian")]
    [InlineData("c8_2x3.npy", "unsupported dtype '<c8'")]
    public void RejectsWhatItCannotConvert(string file, string problem)
    {
        string path = Sample(file);
        var e = Assert.Throws<NpyFormatException>(() => NpyFile.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Theory]
    [InlineData("f4_2x3.npy")]
    [InlineData("f4_scalar.npy")]
    [InlineData("f4_empty_0x4.npy")]
    [InlineData("f4_1d_5.npy")]
    [InlineData("f4_3d_2x1x3.npy")]
    public void WritesTheSameBytesAsNumpy(string file)
    {
        var (data, shape) = NpyFile.Read(Sample(file));
        string path = Temp(file);
        NpyFile.Write(path, data, shape);
        Assert.Equal(File.ReadAllBytes(Sample(file)), File.ReadAllBytes(path));
    }

    // ---- round trips ---------------------------------------------------------------------------------

    [Fact]
    public void RoundTripsValuesAndShapes()
    {
        var rng = new Random(7);
        foreach (int[] shape in new[] { new[] { 3, 4, 5 }, [1], [0], [], [2, 1, 1, 3], [1000] })
        {
            var data = Enumerable.Range(0, (int)NativeASD.Kernels.Layout.Count(shape)).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            string path = Temp("rt.npy");
            NpyFile.Write(path, data, shape);
            var (back, backShape) = NpyFile.Read(path);
            Assert.Equal(shape, backShape);
            Assert.Equal(data, back);
        }
    }

    [Fact]
    public void WritesATensorThroughItsStrides()
    {
        using var t = Tensor.FromArray([1, 2, 3, 4, 5, 6], 2, 3);
        using var tt = t.Transpose(0, 1);
        string path = Temp("t.npy");
        NpyFile.Write(path, tt);
        using var back = NpyFile.ReadTensor(path);
        Assert.Equal([3, 2], back.ShapeArray());
        Assert.Equal([1f, 4, 2, 5, 3, 6], back.ToArray());
    }

    [Fact]
    public void ReadTensorOnABackend()
    {
        var backend = TestBackends.Get("cpu-1thread");
        using var t = NpyFile.ReadTensor(Sample("f4_2x3.npy"), backend);
        Assert.Same(backend, t.Backend);
        Assert.Equal(1.5f, t[1, 2]);
    }

    [Fact]
    public void WriteReplacesAtomicallyAndLeavesNoTempFiles()
    {
        string path = Temp("atomic.npy");
        NpyFile.Write(path, [1f, 2, 3], [3]);
        NpyFile.Write(path, [4f, 5], [2]);
        Assert.Equal([4f, 5], NpyFile.Read(path).Data);
        Assert.Equal(["atomic.npy"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void WriteRejectsBadArgumentsWithoutTouchingTheTarget()
    {
        string path = Temp("bad.npy");
        var e = Assert.Throws<ArgumentException>(() => NpyFile.Write(path, [1f, 2, 3], [2, 2]));
        Assert.Contains("[2,2]", e.Message);
        Assert.Throws<ArgumentException>(() => NpyFile.Write(path, [1f], [-1]));
        Assert.Empty(Directory.GetFiles(_dir));
        Assert.ThrowsAny<IOException>(() => NpyFile.Write(Path.Combine(_dir, "no-such-dir", "x.npy"), [1f], [1]));
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void MissingFileNamesThePath()
    {
        string path = Temp("absent.npy");
        var e = Assert.Throws<FileNotFoundException>(() => NpyFile.Read(path));
        Assert.Contains(path, e.Message);
    }

    // ---- malformed and truncated -----------------------------------------------------------------------

    const string Good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";

    [Fact]
    public void AcceptsTheHandMadeGoodImage()
    {
        string path = Temp("good.npy");
        File.WriteAllBytes(path, Image(Good, Floats(1, 2)));
        Assert.Equal([1f, 2], NpyFile.Read(path).Data);
        File.WriteAllBytes(path, Image("{\"shape\":(2,),\"descr\":\"<f4\",\"fortran_order\":False}", Floats(1, 2), major: 2));
        Assert.Equal([1f, 2], NpyFile.Read(path).Data);
    }

    [Fact]
    public void RejectsEmptyAndShortFiles()
    {
        Rejects([], "empty.npy", "not a .npy file");
        Rejects([0x93, (byte)'N', (byte)'U'], "short.npy", "not a .npy file");
        Rejects(Encoding.ASCII.GetBytes("PK\x03\x04 this is a zip file"), "zip.npy", "magic");
        Rejects([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, 0x76], "len.npy", "truncated", "length field");
    }

    [Fact]
    public void RejectsUnknownVersions()
    {
        var image = Image(Good, Floats(1, 2));
        image[6] = 4;
        Rejects(image, "v4.npy", "version 4.0");
        image[6] = 1; image[7] = 1;
        Rejects(image, "v11.npy", "version 1.1");
    }

    [Fact]
    public void RejectsHeaderLengthsBeyondTheFileOrTheLimit()
    {
        var image = Image(Good, Floats(1, 2));
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(8), 60000);
        Rejects(image, "longhdr.npy", "truncated", "60000");
        var v2 = Image(Good, Floats(1, 2), major: 2);
        BinaryPrimitives.WriteUInt32LittleEndian(v2.AsSpan(8), 0xFFFFFFF0);
        Rejects(v2, "hugehdr.npy", "exceeds");
        Rejects(Image(Good)[..40], "cut-header.npy", "truncated");
    }

    [Fact]
    public void RejectsTruncatedAndOverlongData()
    {
        Rejects(Image(Good, Floats(1)), "short-data.npy", "truncated", "8 data bytes", "has 4");
        Rejects(Image(Good, [.. Floats(1, 2), 0, 0]), "long-data.npy", "2 unexpected bytes");
        Rejects(Image(Good), "no-data.npy", "truncated");
        Rejects(Image("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 3), }", new byte[70]), "short-f8.npy", "truncated", "72");
    }

    [Theory]
    [InlineData("{'descr': '<f4', 'fortran_order': False}", "no 'shape'")]
    [InlineData("{'descr': '<f4', 'shape': (2,)}", "no 'fortran_order'")]
    [InlineData("{'fortran_order': False, 'shape': (2,)}", "no 'descr'")]
    [InlineData("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", "duplicate key 'descr'")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", "unexpected key 'extra'")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", "negative dimension")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,)}", "expected ')'")]
    [InlineData("{'descr': '<f4', 'fortran_order': false, 'shape': (2,)}", "True or False")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} junk", "after the closing brace")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2,", "header ends")]
    [InlineData("{'descr: '<f4', 'fortran_order': False, 'shape': (2,)}", "expected ':'")]
    [InlineData("[1, 2]", "expected '{'")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999,)}", "too large")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 100000)}", "more elements")]
    [InlineData("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", "structured")]
    [InlineData("{'descr': '|O', 'fortran_order': False, 'shape': (2,)}", "object dtype")]
    [InlineData("{'descr': '<U3', 'fortran_order': False, 'shape': (2,)}", "unsupported dtype '<U3'")]
    [InlineData("{'descr': '>f8', 'fortran_order': False, 'shape': (2,)}", "big-endian")]
    [InlineData("{'descr': '<f4', 'fortran_order': True, 'shape': (2,)}", "fortran_order=True")]
    public void RejectsMalformedHeaders(string dict, string problem)
    {
        Rejects(Image(dict, Floats(1, 2)), "malformed.npy", problem);
    }

    [Fact]
    public void RejectsTooManyDimensions()
    {
        string shape = "(" + string.Join(", ", Enumerable.Repeat("1", NpyFile.MaxRank + 1)) + ")";
        Rejects(Image($"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}}}", Floats(1)), "rank.npy", "dimensions");
        // a file rank the reader accepts but a tensor cannot hold
        string nine = "(" + string.Join(", ", Enumerable.Repeat("1", 9)) + ")";
        string path = Temp("rank9.npy");
        File.WriteAllBytes(path, Image($"{{'descr': '<f4', 'fortran_order': False, 'shape': {nine}}}", Floats(1)));
        Assert.Equal(9, NpyFile.Read(path).Shape.Length);
        var e = Assert.Throws<NpyFormatException>(() => NpyFile.ReadTensor(path));
        Assert.Contains("rank 9", e.Message);
    }

    [Fact]
    public void RejectsInvalidUtf8InVersion3Headers()
    {
        var image = Image(Good, Floats(1, 2), major: 3);
        image[12 + 3] = 0xFF;   // inside 'descr'
        Rejects(image, "utf8.npy", "UTF-8");
    }

    [Fact]
    public void ReadsFromAStream()
    {
        using var ms = new MemoryStream(Image(Good, Floats(3, 4)));
        var (data, shape) = NpyFile.Read(ms, "memory");
        Assert.Equal([2], shape);
        Assert.Equal([3f, 4], data);
    }
}
