using System.Buffers.Binary;
using NativeASD.Weights;
using NativeASD.Weights.Keras;
using Xunit.Abstractions;

namespace NativeASD.Tests.Weights.Hdf5;

/// <summary>
/// Targeted damage to the HDF5 structures of the h5py fixtures: every 8-byte field set to huge values, truncation at
/// every 64 bytes, cycles in continuation and B-tree chains, addresses beyond the end. Each case must end with a
/// WeightFormatException naming the file and the problem (or decode, when the bytes hit were data), allocating at most
/// 16 MiB plus the file's size (GC.GetAllocatedBytesForCurrentThread, as HostileWeightFileTests measures).
/// </summary>
public class Hdf5HostileTests(ITestOutputHelper output)
{
    public static TheoryData<string> Seeds => ["model_v0", "weights_latest"];

    static byte[] Seed(string name) => File.ReadAllBytes(Fixtures.PathOf("keras", name + ".h5"));

    static long Limit(byte[] bytes) => (16L << 20) + bytes.Length;

    /// <summary>The error (null when the file still decoded) and the bytes allocated opening and decoding it.</summary>
    static (WeightFormatException? Error, long Allocated) Outcome(string name, byte[] bytes)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            using var source = KerasH5File.Parse(name, bytes);
            foreach (var t in source.Tensors) t.ReadFloat32();
            return (null, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        catch (WeightFormatException e)
        {
            Assert.StartsWith(name + ": ", e.Message);
            return (e, GC.GetAllocatedBytesForCurrentThread() - before);
        }
    }

    static WeightFormatException Fails(string name, byte[] bytes)
    {
        var (error, allocated) = Outcome(name, bytes);
        Assert.NotNull(error);
        Assert.True(allocated <= Limit(bytes), $"allocated {allocated:N0} bytes");
        return error;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Every_eight_byte_field_set_to_huge_values_fails_cleanly(string seedName)
    {
        byte[] seed = Seed(seedName);
        long worst = 0;
        // just past the end (passes a naive "fits in an int" check) and near 2^64 (overflows a naive sum)
        foreach (ulong huge in (ulong[])[(ulong)seed.Length + 1, ulong.MaxValue - 1])
            for (int at = 0; at + 8 <= seed.Length; at++)
            {
                byte[] bytes = (byte[])seed.Clone();
                BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at), huge);
                var (_, allocated) = Outcome($"{seedName}-huge-{at}", bytes);
                Assert.True(allocated <= Limit(bytes), $"0x{huge:x} at {at}: allocated {allocated:N0} bytes");
                worst = Math.Max(worst, allocated);
            }
        output.WriteLine($"{seedName} ({seed.Length:N0} bytes): at most {worst:N0} bytes allocated in one case");
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Truncated_at_every_64_bytes_fails_cleanly(string seedName)
    {
        byte[] seed = Seed(seedName);
        for (int length = 0; length < seed.Length; length += 64)
        {
            // A cut after the last structure still decodes; before it, it must fail cleanly.
            var (_, allocated) = Outcome($"{seedName}-cut-{length}", seed.AsSpan(0, length).ToArray());
            Assert.True(allocated <= Limit(seed), $"cut at {length}: allocated {allocated:N0} bytes");
        }
        Fails("cut", seed.AsSpan(0, seed.Length / 2).ToArray());
    }

    /// <summary>The root object header of a superblock-v0 file (its address is in the root symbol table entry).</summary>
    static int RootHeader(byte[] file) => (int)BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(64));

    [Fact]
    public void A_continuation_back_to_its_own_chunk_is_a_cycle()
    {
        byte[] bytes = Seed("model_v0");
        int root = RootHeader(bytes), message = root + 16;
        // h5py's root header begins with a continuation message (type 0x10): point it at the chunk holding it.
        Assert.Equal(0x10, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(message)));
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(message + 8), (ulong)(root + 16));
        var e = Fails("cycle.h5", bytes);
        Assert.Contains($"object header at 0x{root:x}: continuation chunk at 0x{root + 16:x} is visited twice (a cycle)", e.Message);
    }

    [Fact]
    public void A_huge_continuation_length_is_refused_before_it_is_read()
    {
        byte[] bytes = Seed("model_v0");
        int message = RootHeader(bytes) + 16;
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(message + 16), 0xffff_ffff_ffff_fff0);
        var e = Fails("huge.h5", bytes);
        Assert.Contains($"continuation message at 0x{message + 8:x}: continuation length 0xfffffffffffffff0 is larger than the file ({bytes.Length:N0} bytes)", e.Message);
    }

    [Theory]
    [InlineData(0, "group B-tree node")]
    [InlineData(1, "chunk B-tree node")]
    public void A_b_tree_node_that_is_its_own_child_is_a_cycle(byte nodeType, string what)
    {
        byte[] bytes = Seed("model_v0");
        // The first v1 B-tree node of this type: raise its level so its children are read as nodes, keep one child
        // and point it at the node itself.
        int at = FirstNode(bytes, nodeType);
        Assert.True(at >= 0, "no such node");
        // a group key is a heap offset; a chunk key is size, filter mask and the offsets of a rank-1 dataset + 1
        int keySize = nodeType == 0 ? 8 : 4 + 4 + 8 * 2;
        bytes[at + 5] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(at + 6), 1);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at + 24 + keySize), (ulong)at);
        var e = Fails("btree.h5", bytes);
        Assert.Contains($"{what} at 0x{at:x} is reached twice (a cycle)", e.Message);
    }

    /// <summary>The first v1 B-tree node ("TREE") of this type with at least one entry.</summary>
    static int FirstNode(byte[] bytes, byte nodeType)
    {
        for (int at = 0; at + 8 <= bytes.Length; at++)
            if (bytes.AsSpan(at).StartsWith("TREE"u8) && bytes[at + 4] == nodeType && BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(at + 6)) > 0)
                return at;
        return -1;
    }

    [Fact]
    public void A_root_address_beyond_the_end_is_named()
    {
        byte[] bytes = Seed("model_v0");
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(64), 0x1234_5678);
        var e = Fails("root.h5", bytes);
        Assert.Contains($"address 0x12345678 is beyond the end of the file ({bytes.Length:N0} bytes)", e.Message);
    }

    [Fact]
    public void A_changed_byte_in_a_version_2_header_fails_its_checksum()
    {
        byte[] bytes = Seed("weights_latest");
        int header = bytes.AsSpan().IndexOf("OHDR"u8);
        bytes[header + 8] ^= 0x01; // a timestamp: harmless to the structure, caught by lookup3
        var e = Fails("checksum.h5", bytes);
        Assert.Contains("does not match the contents", e.Message);
    }

    [Fact]
    public void A_missing_file_is_named()
    {
        var e = Assert.Throws<WeightFormatException>(() => KerasH5File.Load("/nonexistent/model.h5"));
        Assert.Equal("/nonexistent/model.h5: file not found", e.Message);
    }
}
