using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using NativeASD.Weights;
using NativeASD.Weights.Pickle;
using NativeASD.Weights.Safetensors;
using NativeASD.Weights.Torch;
using Xunit.Abstractions;

namespace NativeASD.Tests.Weights.Core;

/// <summary>Malformed, truncated and malicious files fail with a <see cref="WeightFormatException"/> naming the file and the problem.</summary>
public class HostileFileTests(ITestOutputHelper output)
{
    /// <summary>Opens a file and decodes every tensor, as a loader would.</summary>
    internal static void OpenAndReadAll(string path)
    {
        using var s = WeightFiles.Open(path);
        foreach (var t in s.Tensors) t.ReadFloat32();
    }

    static byte[] Pickle(params object[] parts)
    {
        var ms = new MemoryStream();
        foreach (var p in parts)
            if (p is string s) ms.Write(Encoding.UTF8.GetBytes(s));
            else if (p is byte b) ms.WriteByte(b);
            else if (p is int i) ms.WriteByte((byte)i);
            else ms.Write((byte[])p);
        return ms.ToArray();
    }

    static object? Unpickle(byte[] bytes) => new RestrictedUnpickler("evil.pkl", new MemoryStream(bytes), bytes.Length, new TorchPickleClasses()).Load();

    [Fact]
    public void Pickle_calling_os_system_is_refused_by_name()
    {
        // cos\nsystem\n X'echo pwned' TUPLE1 REDUCE STOP — what a malicious checkpoint holds.
        var bytes = Pickle(0x80, 2, "cos\nsystem\n", (byte)'X', new byte[] { 10, 0, 0, 0 }, "echo pwned", 0x85, (byte)'R', (byte)'.');
        var e = Assert.Throws<WeightFormatException>(() => Unpickle(bytes));
        Assert.Contains("refuses global os.system", e.Message);
        Assert.StartsWith("evil.pkl: ", e.Message);
    }

    [Fact]
    public void Pickle_reaching_builtins_eval_through_stack_global_is_refused_by_name()
    {
        var bytes = Pickle(0x80, 4, 0x8c, 8, "builtins", 0x8c, 4, "eval", 0x93, 0x8c, 4, "1+1)", 0x85, (byte)'R', (byte)'.');
        Assert.Contains("refuses global builtins.eval", Assert.Throws<WeightFormatException>(() => Unpickle(bytes)).Message);
    }

    [Fact]
    public void Torch_zip_whose_pickle_references_os_system_fails_naming_file_and_global()
    {
        using var dir = new WeightFixtures.TempDir();
        string path = dir.File("evil.pt");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        using (var s = zip.CreateEntry("archive/data.pkl", CompressionLevel.NoCompression).Open())
            s.Write(Pickle(0x80, 2, "cos\nsystem\n", (byte)'X', new byte[] { 4, 0, 0, 0 }, "true", 0x85, (byte)'R', (byte)'.'));
        var e = Assert.Throws<WeightFormatException>(() => WeightFiles.Open(path));
        Assert.Equal(path, e.FilePath);
        Assert.Contains("os.system", e.Message);
    }

    [Theory]
    [InlineData(new byte[] { 0x80, 2, (byte)'X', 0xff, 0xff, 0xff, 0xff }, "needs 4294967295 bytes")]
    [InlineData(new byte[] { 0x80, 4, 0x8d, 0, 0, 0, 0, 0, 0, 0, 0x40 }, "needs 4611686018427387904 bytes")]
    [InlineData(new byte[] { 0x80, 4, 0x95, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, "frame of")]
    [InlineData(new byte[] { 0x80, 2, 0x8b, 0xff, 0xff, 0xff, 0x7f }, "wider than 256 bits")]
    [InlineData(new byte[] { 0x80, 2, (byte)'h', 7, (byte)'.' }, "memo index 7 was never stored")]
    [InlineData(new byte[] { 0x80, 2, (byte)'a' }, "stack underflow")]
    [InlineData(new byte[] { 0x80, 2, (byte)'S' }, "opcode 0x53 is not supported")]
    [InlineData(new byte[] { 0x80, 2, (byte)'c', (byte)'o', (byte)'s' }, "truncated")]
    [InlineData(new byte[] { 0x80, 9 }, "protocol 9")]
    [InlineData(new byte[] { 0x80, 2, (byte)')', (byte)']', (byte)'.' }, "STOP with 2 values")]
    public void Malformed_pickles_fail_with_the_problem(byte[] bytes, string problem)
    {
        Assert.Contains(problem, Assert.Throws<WeightFormatException>(() => Unpickle(bytes)).Message);
    }

    [Fact]
    public void Tensor_views_reaching_outside_their_storage_are_refused()
    {
        var classes = new TorchPickleClasses();
        var storage = classes.PersistentLoad(new PickleTuple(["storage", new TorchStorageType("FloatStorage", WeightDType.F32), "0", "cpu", 10L]));
        var rebuild = classes.ResolveGlobal("torch._utils", "_rebuild_tensor_v2");
        object? Rebuild(long offset, long[] shape, long[] stride) =>
            classes.Call(rebuild, [storage, offset, new PickleTuple(shape.Cast<object?>().ToArray()), new PickleTuple(stride.Cast<object?>().ToArray()), false, null]);
        Assert.IsType<TorchTensorRef>(Rebuild(2, [2, 4], [4, 1]));
        Assert.Contains("reaches past its storage", Assert.Throws<PickleRefusedException>(() => Rebuild(3, [2, 4], [4, 1])).Message);
        Assert.Contains("overflows", Assert.Throws<PickleRefusedException>(() => Rebuild(0, [int.MaxValue, int.MaxValue], [1L << 34, 1L << 34])).Message);
        Assert.Contains("broadcast views", Assert.Throws<PickleRefusedException>(() => Rebuild(0, [1 << 20, 1 << 20], [0, 0])).Message);
        Assert.Contains("refuses global torch.load", Assert.Throws<PickleRefusedException>(() => classes.ResolveGlobal("torch", "load")).Message);
    }

    [Fact]
    public void Deep_nesting_neither_recurses_nor_overflows()
    {
        const int depth = 200_000;
        var bytes = new byte[2 + depth + 1 + depth + 1];
        bytes[0] = 0x80; bytes[1] = 2;
        bytes.AsSpan(2, depth).Fill((byte)'(');          // MARK × depth
        bytes[2 + depth] = (byte)']';                     // EMPTY_LIST
        bytes.AsSpan(3 + depth, depth).Fill((byte)'l');  // LIST × depth: [[[…[]…]]]
        bytes[^1] = (byte)'.';
        object? root = Unpickle(bytes);
        var e = Assert.Throws<WeightFormatException>(() => TorchStateDict.Collect("deep.pkl", root));
        Assert.Contains("nested deeper than", e.Message);
    }

    static byte[] Safetensors(string header, int dataBytes, ulong? claimedLength = null)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var b = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(b, claimedLength ?? (ulong)h.Length);
        h.CopyTo(b, 8);
        return b;
    }

    [Theory]
    [InlineData("{}", 0, 1UL << 60, "header claims 1152921504606846976 bytes")]
    [InlineData("{}", 0, 4000UL, "file has only 2")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, null, "overlaps")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, null, "runs past the data section")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, null, "forbids holes")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, null, "needs 12 bytes but data_offsets span 8")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647],\"data_offsets\":[0,8]}}", 8, null, "needs too many bytes")]
    [InlineData("{\"a\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, null, "unsupported dtype")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,-4]}}", 4, null, "invalid data_offsets")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4, null, "not valid JSON")]
    [InlineData("{\"__metadata__\":{\"k\":5}}", 0, null, "is not a string")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, null, "twice")]
    public void Safetensors_header_lies_are_caught(string header, int dataBytes, ulong? claimed, string problem)
    {
        using var dir = new WeightFixtures.TempDir();
        string path = dir.File("bad.safetensors");
        File.WriteAllBytes(path, Safetensors(header, dataBytes, claimed));
        var e = Assert.Throws<WeightFormatException>(() => OpenAndReadAll(path));
        Assert.Contains(problem, e.Message);
        Assert.Equal(path, e.FilePath);
    }

    [Fact]
    public void Zip_with_a_wrong_crc_fails_when_the_storage_is_read()
    {
        using var dir = new WeightFixtures.TempDir();
        var bytes = File.ReadAllBytes(WeightFixtures.PathOf("views_zip.pt"));
        // Flip one byte inside the 'plain' tensor's storage: the zip's CRC-32 for that entry no longer matches.
        var (plain, _) = Fixtures.Npy("weights", "views_zip__plain.npy");
        var raw = System.Runtime.InteropServices.MemoryMarshal.AsBytes(plain.AsSpan()).ToArray();
        int at = bytes.AsSpan().IndexOf(raw);
        Assert.True(at > 0);
        bytes[at + 5] ^= 0x10;
        string path = dir.File("crc.pt");
        File.WriteAllBytes(path, bytes);
        using var s = WeightFiles.Open(path);
        var e = Assert.Throws<WeightFormatException>(() => s.Tensors.Single(t => t.Name == "plain").ReadFloat32());
        output.WriteLine(e.Message);
        Assert.Equal(path, e.FilePath);
    }

    public static IEnumerable<object[]> RealFiles()
    {
        yield return ["views_zip.pt"];
        yield return ["views_legacy.pt"];
        yield return ["nested_zip.pt"];
        yield return ["panns_resnet38_narrow.pth"];
        yield return ["python_written.safetensors"];
    }

    [Theory]
    [MemberData(nameof(RealFiles))]
    public void Truncation_at_every_sixteenth_fails_cleanly(string file)
    {
        using var dir = new WeightFixtures.TempDir();
        var bytes = File.ReadAllBytes(WeightFixtures.PathOf(file));
        for (int k = 0; k < 16; k++)
        {
            string path = dir.File($"{k}_{file}");
            File.WriteAllBytes(path, bytes[..(int)((long)bytes.Length * k / 16)]);
            var e = Assert.Throws<WeightFormatException>(() => OpenAndReadAll(path));
            Assert.Equal(path, e.FilePath);
            output.WriteLine($"{k}/16: {e.Problem}");
        }
        OpenAndReadAll(WeightFixtures.PathOf(file));
    }

    [Theory]
    [MemberData(nameof(RealFiles))]
    public void Every_flipped_header_byte_fails_cleanly_or_still_loads(string file)
    {
        using var dir = new WeightFixtures.TempDir(inMemory: true);
        var bytes = File.ReadAllBytes(WeightFixtures.PathOf(file));
        string path = dir.File(file);
        for (int i = 0; i < Math.Min(128, bytes.Length); i++)
        {
            var b = (byte[])bytes.Clone();
            b[i] ^= 0xff;
            File.WriteAllBytes(path, b);
            try { OpenAndReadAll(path); }
            catch (WeightFormatException e) { Assert.Equal(path, e.FilePath); }
        }
    }

    [SkippableFact]
    public void Truncated_res8_fails_cleanly()
    {
        var bytes = File.ReadAllBytes(SharedData.Require("weights/res8.pt"));
        using var dir = new WeightFixtures.TempDir();
        for (int k = 0; k < 16; k++)
        {
            string path = dir.File($"res8_{k}.pt");
            File.WriteAllBytes(path, bytes[..(int)((long)bytes.Length * k / 16)]);
            Assert.Throws<WeightFormatException>(() => OpenAndReadAll(path));
        }
    }

    [Fact]
    public void Unknown_and_recognised_but_unbuilt_formats_are_named()
    {
        using var dir = new WeightFixtures.TempDir();
        File.WriteAllBytes(dir.File("x.bin"), Encoding.ASCII.GetBytes("hello world, not weights"));
        Assert.Contains("unrecognised weight file format", Assert.Throws<WeightFormatException>(() => WeightFiles.Open(dir.File("x.bin"))).Message);
        Assert.Equal("tflite", WeightFiles.Detect([0x18, 0, 0, 0, (byte)'T', (byte)'F', (byte)'L', (byte)'3'], "m.tflite")?.Name);
        Assert.Equal("keras-h5", WeightFiles.Detect([0x89, (byte)'H', (byte)'D', (byte)'F', 13, 10, 0x1a, 10], "m.h5")?.Name);
        Assert.Equal("onnx", WeightFiles.Detect([0x08, 0x07], "m.onnx")?.Name);
    }

    /// <summary>
    /// Random byte flips, overwrites, insertions, deletions and truncations of real and generated files (fixed seed):
    /// every case either loads or throws <see cref="WeightFormatException"/>; no other exception escapes.
    /// </summary>
    [Fact]
    public void Fuzz_only_weight_format_exceptions_escape()
    {
        const int cases = 10_000;
        using var dir = new WeightFixtures.TempDir(inMemory: true);
        string converted = dir.File("converted.safetensors");
        NativeASD.Detection.Backbones.WeightConverter.Convert(WeightFixtures.PathOf("panns_resnet38_narrow.pth"), converted, null, false);
        var bases = new List<(string Name, byte[] Bytes)>
        {
            ("views_zip.pt", File.ReadAllBytes(WeightFixtures.PathOf("views_zip.pt"))),
            ("views_legacy.pt", File.ReadAllBytes(WeightFixtures.PathOf("views_legacy.pt"))),
            ("nested_zip.pt", File.ReadAllBytes(WeightFixtures.PathOf("nested_zip.pt"))),
            ("nested_legacy.pt", File.ReadAllBytes(WeightFixtures.PathOf("nested_legacy.pt"))),
            ("python_written.safetensors", File.ReadAllBytes(WeightFixtures.PathOf("python_written.safetensors"))),
            ("converted.safetensors", File.ReadAllBytes(converted)[..4096]), // header region plus some data
        };
        var rng = new Random(20261126);
        var failures = new List<string>();
        int loaded = 0;
        var clock = Stopwatch.StartNew();
        string path = dir.File("case.bin");
        var perBase = new double[bases.Count];
        for (int i = 0; i < cases; i++)
        {
            var (name, original) = bases[i % bases.Count];
            var bytes = Mutate(original, rng, out string how);
            long t0 = Stopwatch.GetTimestamp();
            File.WriteAllBytes(path, bytes);
            try { OpenAndReadAll(path); loaded++; }
            catch (WeightFormatException) { }
            catch (Exception e) { if (failures.Count < 20) failures.Add($"case {i} ({name}, {how}): {e.GetType().Name}: {e.Message}"); }
            perBase[i % bases.Count] += Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        output.WriteLine($"{cases} cases in {clock.Elapsed.TotalSeconds:F1} s; {loaded} still loaded");
        for (int b = 0; b < bases.Count; b++) output.WriteLine($"  {bases[b].Name}: {perBase[b]:F2} s");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    static byte[] Mutate(byte[] original, Random rng, out string how)
    {
        var b = (byte[])original.Clone();
        int kind = rng.Next(7);
        switch (kind)
        {
            case 0: // a few random bit flips anywhere
                for (int n = rng.Next(1, 5); n > 0; n--) b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8));
                how = "bit flips"; return b;
            case 1: // header bytes (the first 160: length fields, pickle/JSON opening)
                for (int n = rng.Next(1, 4); n > 0; n--) b[rng.Next(Math.Min(160, b.Length))] = (byte)rng.Next(256);
                how = "header bytes"; return b;
            case 2: // zip central directory / end-of-file records
                for (int n = rng.Next(1, 4); n > 0; n--) b[Math.Max(0, b.Length - 1 - rng.Next(Math.Min(400, b.Length)))] = (byte)rng.Next(256);
                how = "tail bytes"; return b;
            case 3: // truncation
                how = "truncation"; return b[..rng.Next(b.Length)];
            case 4: // extreme integers written over a random spot
                {
                    int at = rng.Next(Math.Max(1, b.Length - 8));
                    ulong[] extremes = [ulong.MaxValue, 1UL << 60, 0x7fffffff, 0x80000000, 0, 0xffffffff];
                    var v = BitConverter.GetBytes(extremes[rng.Next(extremes.Length)]);
                    v.AsSpan(0, Math.Min(8, b.Length - at)).CopyTo(b.AsSpan(at));
                    how = "extreme integer"; return b;
                }
            case 5: // insertion
                {
                    int at = rng.Next(b.Length);
                    var ins = new byte[rng.Next(1, 9)];
                    rng.NextBytes(ins);
                    how = "insertion"; return [.. b[..at], .. ins, .. b[at..]];
                }
            default: // deletion
                {
                    int at = rng.Next(b.Length), n = Math.Min(rng.Next(1, 9), b.Length - at);
                    how = "deletion"; return [.. b[..at], .. b[(at + n)..]];
                }
        }
    }
}
