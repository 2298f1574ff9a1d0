using NativeASD.Weights;
using NativeASD.Weights.Keras;
using NativeASD.Weights.Onnx;
using NativeASD.Weights.Tflite;
using NativeASD.Tests.Weights.Keras;

namespace NativeASD.Tests.Weights.Core;

/// <summary>
/// Damaged TFLite, ONNX and Keras HDF5 files (h5py defaults, and libver='latest'): truncated at every 1/16 of their
/// length, flipped header bytes, and a fixed-seed fuzz loop of random mutations. Each must open and decode fully or
/// fail with a WeightFormatException naming the file: never another exception, a hang or a huge allocation; a file cut
/// short must fail. (How long the fuzz loop takes is not asserted here: speed belongs in Bench/.)
/// </summary>
public class HostileWeightFileTests
{
    public static TheoryData<string> Formats => ["tflite", "onnx", "keras-h5", "keras-h5-latest"];

    static byte[] Seed(string format) => format switch
    {
        "tflite" => File.ReadAllBytes(Fixtures.PathOf("tflite", "tiny.tflite")),
        "onnx" => File.ReadAllBytes(Fixtures.PathOf("onnx", "tiny.onnx")),
        "keras-h5-latest" => KerasH5Tests.LatestKerasFile(),
        _ => KerasH5Tests.SmallKerasFile(),
    };

    static IWeightSource Parse(string format, string name, byte[] bytes) => format switch
    {
        "tflite" => new TfliteWeightSource(TfliteModel.Parse(name, bytes)),
        "onnx" => OnnxFile.Parse(name, bytes),
        _ => KerasH5File.Parse(name, bytes),
    };

    /// <summary>
    /// Bytes one case may allocate. No reader allocates from an unchecked length; the HDF5 reader checks every length
    /// against the file and caps its metadata reads at the file size + 16 MiB, so a case stays within 16 MiB plus the
    /// file's size (the seeds' datasets are a few hundred bytes; a chunk may inflate to 1032× its stored bytes).
    /// </summary>
    static long AllocationLimit(string format, byte[] bytes) => format.StartsWith("keras-h5") ? (16L << 20) + bytes.Length : 64L << 20;

    /// <summary>
    /// Opens and decodes every tensor; returns null when that worked or failed cleanly, else what went wrong. A file
    /// that <paramref name="mustFail"/> (cut short) is wrong when it loads.
    /// </summary>
    static string? Outcome(string format, string name, byte[] bytes, bool mustFail = false)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            using var source = Parse(format, name, bytes);
            foreach (var t in source.Tensors) t.ReadFloat32();
            if (mustFail) return $"{name}: opened and decoded although cut short";
        }
        catch (WeightFormatException e)
        {
            if (e.FilePath != name || !e.Message.StartsWith(name + ": ")) return $"error does not name the file: {e.Message}";
            if (e.Problem.Length < 8) return $"error does not say the problem: {e.Message}";
        }
        catch (Exception e)
        {
            return $"{e.GetType().Name}: {e.Message}\n{e.StackTrace}";
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        return allocated > AllocationLimit(format, bytes) ? $"allocated {allocated:N0} bytes" : null;
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Seed_files_open_cleanly(string format) => Assert.Null(Outcome(format, "seed", Seed(format)));

    [Theory]
    [MemberData(nameof(Formats))]
    public void Truncated_at_every_sixteenth_fails_cleanly(string format)
    {
        byte[] seed = Seed(format);
        for (int k = 0; k < 16; k++)
        {
            byte[] cut = seed.AsSpan(0, seed.Length * k / 16).ToArray();
            Assert.Null(Outcome(format, $"{format}-cut-{k}of16", cut, mustFail: true));
        }
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Every_flipped_header_byte_fails_cleanly_or_still_decodes(string format)
    {
        byte[] seed = Seed(format);
        for (int i = 0; i < Math.Min(256, seed.Length); i++)
            foreach (byte mask in (byte[])[0x01, 0x80, 0xff])
            {
                byte[] bytes = (byte[])seed.Clone();
                bytes[i] ^= mask;
                string? problem = Outcome(format, $"{format}-flip-{i}", bytes);
                Assert.True(problem is null, $"byte {i} ^ 0x{mask:x2}: {problem}");
            }
    }

    /// <summary>Fixed-seed random mutations: flipped bits, overwritten bytes, planted extreme integers, truncation, splices.</summary>
    [Theory]
    [MemberData(nameof(Formats))]
    public void Fuzzed_files_fail_cleanly(string format)
    {
        int cases = format.StartsWith("keras-h5") ? 1000 : 4000;
        byte[] seed = Seed(format);
        var rng = new Random(format.Length * 7919 + 5);
        var problems = new List<string>();
        for (int c = 0; c < cases && problems.Count < 5; c++)
        {
            byte[] bytes = Mutate(seed, rng);
            string? problem = Outcome(format, $"{format}-fuzz-{c}", bytes);
            if (problem is not null) problems.Add($"case {c}: {problem}");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    static readonly uint[] Extremes = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x4000_0000];

    static byte[] Mutate(byte[] seed, Random rng)
    {
        byte[] bytes = (byte[])seed.Clone();
        int edits = 1 + rng.Next(4);
        for (int e = 0; e < edits; e++)
        {
            int at = rng.Next(bytes.Length);
            switch (rng.Next(6))
            {
                case 0: bytes[at] ^= (byte)(1 << rng.Next(8)); break;
                case 1: bytes[at] = (byte)rng.Next(256); break;
                case 2:
                    if (at + 4 <= bytes.Length) BitConverter.TryWriteBytes(bytes.AsSpan(at), Extremes[rng.Next(Extremes.Length)]);
                    break;
                case 3:
                    if (at + 8 <= bytes.Length) BitConverter.TryWriteBytes(bytes.AsSpan(at), (ulong)Extremes[rng.Next(Extremes.Length)] << rng.Next(33));
                    break;
                case 4: bytes = bytes.AsSpan(0, at).ToArray(); break;
                default:
                {
                    // copy a run of bytes from elsewhere in the file (plausible offsets in the wrong places)
                    int from = rng.Next(bytes.Length), length = Math.Min(1 + rng.Next(16), Math.Min(bytes.Length - from, bytes.Length - at));
                    bytes.AsSpan(from, length).CopyTo(bytes.AsSpan(at));
                    break;
                }
            }
            if (bytes.Length == 0) break;
        }
        return bytes;
    }

    public static TheoryData<string, string> RealFiles => new()
    {
        { "tflite", "weights/yamnet_spectra_in.tflite" },
        { "tflite", "weights/ad01_fp32.tflite" },
        { "keras-h5", "weights/ad01.h5" },
    };

    [SkippableTheory]
    [MemberData(nameof(RealFiles))]
    public void Real_files_truncated_at_every_sixteenth_fail_cleanly(string format, string relative)
    {
        byte[] seed = File.ReadAllBytes(SharedData.Require(relative));
        for (int k = 0; k < 16; k++)
            Assert.Null(Outcome(format, $"{relative}-cut-{k}of16", seed.AsSpan(0, seed.Length * k / 16).ToArray(), mustFail: true));
    }
}
