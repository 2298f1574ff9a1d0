using System.Text.Json;
using NativeASD.Weights;
using NativeASD.Weights.Hdf5;
using NativeASD.Weights.Keras;
using NativeASD.Weights.Tflite;

namespace NativeASD.Tests.Weights.Keras;

/// <summary>
/// Keras HDF5 reading with our own HDF5 reader: small Keras-shaped files written by h5py
/// (Tests/Reference/make_keras_h5_fixtures.py: superblock v0 and libver='latest', a user block, fixed and
/// variable-length strings, name lists split as Keras splits long ones, float32, float64 and big-endian data,
/// contiguous, compact and chunked+shuffle+gzip layouts),
/// the real ad01.h5, and the ad01 cross-check against TFLite.
/// </summary>
public class KerasH5Tests
{
    /// <summary>model.save()-shaped, h5py defaults (superblock v0): model_weights/&lt;layer&gt;/&lt;layer&gt;/{kernel:0,bias:0,…}.</summary>
    internal static byte[] SmallKerasFile() => File.ReadAllBytes(Fixtures.PathOf("keras", "model_v0.h5"));

    /// <summary>save_weights()-shaped with libver='latest' (superblock v3, OHDR headers, link messages).</summary>
    internal static byte[] LatestKerasFile() => File.ReadAllBytes(Fixtures.PathOf("keras", "weights_latest.h5"));

    public static TheoryData<string> FixtureFiles => ["model_v0", "weights_latest", "userblock"];

    static JsonElement Manifest(string file)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.PathOf("keras", "manifest.json")));
        return doc.RootElement.GetProperty(file).Clone();
    }

    [Theory]
    [MemberData(nameof(FixtureFiles))]
    public void H5py_fixtures_read_exactly_as_written(string file)
    {
        string path = Fixtures.PathOf("keras", file + ".h5");
        // Both storages: bytes in memory (Parse) and positional reads from the open file (Load).
        using var parsed = KerasH5File.Parse(path, File.ReadAllBytes(path));
        using var loaded = KerasH5File.Load(path);
        var expected = Manifest(file).EnumerateArray().ToList();
        foreach (var source in (KerasH5Source[])[parsed, loaded])
        {
            Assert.Equal(expected.Select(e => e.GetProperty("name").GetString()), source.Tensors.Select(t => t.Name));
            for (int i = 0; i < expected.Count; i++)
            {
                var tensor = source.Tensors[i];
                Assert.Equal(expected[i].GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()), tensor.Shape);
                Assert.Equal(expected[i].GetProperty("dtype").GetString() == "float64" ? WeightDType.F64 : WeightDType.F32, tensor.StoredAs);
                float[] values = expected[i].GetProperty("values").EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();
                Assert.Equal(values, tensor.ReadFloat32());
            }
            Assert.Equal("2.4.0", source.Metadata["keras_version"]);
        }
    }

    [Fact]
    public void Small_keras_file_lists_weights_in_layer_order_with_stored_shapes()
    {
        using var source = KerasH5File.Parse("small.h5", SmallKerasFile());
        Assert.Equal("keras-h5", source.Format);
        Assert.Equal(["dense/kernel:0", "dense/bias:0", "batch_normalization/gamma:0", "batch_normalization/beta:0",
            "batch_normalization/moving_mean:0", "batch_normalization/moving_variance:0"], source.Tensors.Select(t => t.Name));
        Assert.Equal([4, 3], source.Tensors[0].Shape);
        Assert.Equal(12, source.Tensors[0].ReadFloat32().Length);
        Assert.Equal(["Dense", "BatchNormalization", "Activation"], source.Layers.Select(l => l.ClassName));
        Assert.Equal(0.001, source.Layers[1].Config.GetProperty("epsilon").GetDouble());
        Assert.Equal("2.4.0", source.Metadata["keras_version"]);
        Assert.Equal("tensorflow", source.Metadata["backend"]);
        Assert.True(KerasH5File.Sniff(SmallKerasFile().AsSpan(0, 8)));
        Assert.True(KerasH5File.Sniff(File.ReadAllBytes(Fixtures.PathOf("keras", "userblock.h5")).AsSpan(0, 520)));
    }

    [Theory]
    [InlineData("model_v0", 0)]
    [InlineData("weights_latest", 3)]
    [InlineData("userblock", 0)]
    public void Fixtures_cover_both_superblock_generations(string file, int version)
    {
        using var h5 = Hdf5File.Parse(file, File.ReadAllBytes(Fixtures.PathOf("keras", file + ".h5")));
        Assert.Equal(version, h5.SuperblockVersion);
    }

    [Fact]
    public void The_gzip_weight_is_chunked_and_the_strings_are_of_both_kinds()
    {
        using var h5 = Hdf5File.Parse("model_v0", SmallKerasFile());
        var weights = h5.Root.Child("model_weights");
        var bn = weights.Child("batch_normalization");
        Assert.True(bn.Child("batch_normalization").Child("moving_variance:0").Dataset("moving_variance:0").IsChunked);
        Assert.False(bn.Child("batch_normalization").Child("gamma:0").Dataset("gamma:0").IsChunked);
        Assert.False(weights.Attribute("layer_names").Type.IsVariableLengthString);
        Assert.True(h5.Root.Attribute("model_config").Type.IsVariableLengthString);
        using var latest = Hdf5File.Parse("weights_latest", LatestKerasFile());
        Assert.True(latest.Root.Attribute("layer_names").Type.IsVariableLengthString);
        Assert.Equal(["dense", "dense_1"], latest.Root.Attribute("layer_names").ReadStrings());
    }

    [Fact]
    public void Unsupported_structures_fail_naming_the_file_and_the_feature()
    {
        using var h5 = Hdf5File.Parse("unsupported.h5", File.ReadAllBytes(Fixtures.PathOf("keras", "unsupported_latest.h5")));
        var many = h5.Root.Child("many");
        var e = Assert.Throws<WeightFormatException>(() => many.HasLink("g0"));
        Assert.StartsWith("unsupported.h5: ", e.Message);
        Assert.Contains("dense storage", e.Message);
        e = Assert.Throws<WeightFormatException>(() => h5.Root.Child("chunked").Dataset("chunked"));
        Assert.Contains("chunk index type", e.Message);
    }

    [Fact]
    public void Lookup3_matches_the_published_test_vectors()
    {
        // hashlittle("", 0) and hashlittle("Four score and seven years ago", 0) from lookup3.c's driver5.
        Assert.Equal(0xdeadbeefu, Lookup3.Hash([]));
        Assert.Equal(0x17770551u, Lookup3.Hash("Four score and seven years ago"u8));
    }

    [SkippableFact]
    public void Ad01_h5_has_ten_dense_and_nine_batchnorm_layers()
    {
        using var source = KerasH5File.Load(SharedData.Require("weights/ad01.h5"));
        Assert.Equal(10 * 2 + 9 * 4, source.Tensors.Count);
        var byName = source.Tensors.ToDictionary(t => t.Name);
        Assert.Equal([640, 128], byName["dense/kernel:0"].Shape);
        Assert.Equal([128, 640], byName["dense_9/kernel:0"].Shape);
        Assert.Equal([8], byName["batch_normalization_4/moving_variance:0"].Shape);
        Assert.Equal(10, source.Layers.Count(l => l.ClassName == "Dense"));
        Assert.All(source.Layers.Where(l => l.ClassName == "BatchNormalization"),
            l => Assert.Equal(1e-3, l.Config.GetProperty("epsilon").GetDouble()));
    }

    /// <summary>
    /// The dense autoencoder run from the Keras layers (Dense → BatchNormalization(eps from config) → Activation) and
    /// from the TFLite FULLY_CONNECTED ops (BN folded, fused activation from the op options).
    /// Finding: the TFLite file's folded biases are beta − mean·γ/√(var+ε), i.e. the converter dropped the bias of every
    /// Dense layer that feeds a BatchNormalization (exact fold: beta + (bias − mean)·γ/√(var+ε)); the folded weights
    /// agree to float32 rounding. So the Keras network with those Dense biases omitted reproduces the TFLite outputs
    /// within 1e-4, while the Keras network as stored differs from it by about 1e-2 relative.
    /// </summary>
    [SkippableFact]
    public void Ad01_from_tflite_and_from_h5_agree_once_the_dense_bias_before_batchnorm_is_omitted()
    {
        string tflitePath = SharedData.Require("weights/ad01_fp32.tflite");
        string h5Path = SharedData.Require("weights/ad01.h5");
        var tflite = TfliteFile.Load(tflitePath);
        using var keras = KerasH5File.Load(h5Path);
        var weights = keras.Tensors.ToDictionary(t => t.Name, t => t.ReadFloat32());

        var rng = new Random(2020);
        double worstFolded = 0, worstAsStored = 0;
        for (int v = 0; v < 4; v++)
        {
            // log-mel-like inputs: dB values around -40 ± 15
            float[] x = Enumerable.Range(0, 640).Select(_ => (float)(-40 + 15 * Normal(rng))).ToArray();
            float[] reference = RunTflite(tflite, x);
            Assert.Equal(640, reference.Length);
            worstFolded = Math.Max(worstFolded, RelativeMaxDifference(RunKeras(keras, weights, x, omitBiasBeforeBatchNorm: true), reference));
            worstAsStored = Math.Max(worstAsStored, RelativeMaxDifference(RunKeras(keras, weights, x, omitBiasBeforeBatchNorm: false), reference));
        }
        Assert.True(worstFolded <= 1e-4, $"relative max difference {worstFolded:E3} (Dense bias before BN omitted)");
        Assert.True(worstAsStored > 1e-3, $"the stored Dense biases now matter only {worstAsStored:E3}: was the TFLite file re-converted?");
    }

    static double RelativeMaxDifference(float[] a, float[] b)
    {
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < a.Length; i++) { maxDiff = Math.Max(maxDiff, Math.Abs(a[i] - b[i])); maxRef = Math.Max(maxRef, Math.Abs(b[i])); }
        return maxDiff / maxRef;
    }

    static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    internal static float[] RunTflite(TfliteModel model, float[] input)
    {
        float[] x = input;
        foreach (var op in model.Operators)
        {
            Assert.Equal(TfliteBuiltinOperator.FULLY_CONNECTED, op.Opcode);
            var weight = model.Tensors[op.Inputs[1]]; // [out, in]
            float[] w = weight.ReadFloat32(), bias = model.Tensors[op.Inputs[2]].ReadFloat32();
            int outs = weight.Shape[0], ins = weight.Shape[1];
            var y = new float[outs];
            for (int o = 0; o < outs; o++)
            {
                double s = bias[o];
                for (int i = 0; i < ins; i++) s += (double)w[o * ins + i] * x[i];
                y[o] = (float)s;
            }
            var activation = ((TfliteFullyConnectedOptions)op.Options!).Activation;
            if (activation == TfliteActivation.Relu) for (int o = 0; o < outs; o++) y[o] = Math.Max(0, y[o]);
            else Assert.Equal(TfliteActivation.None, activation);
            x = y;
        }
        return x;
    }

    internal static float[] RunKeras(KerasH5Source source, Dictionary<string, float[]> w, float[] input, bool omitBiasBeforeBatchNorm)
    {
        float[] x = input;
        var layers = source.Layers;
        for (int l = 0; l < layers.Count; l++)
        {
            var layer = layers[l];
            string n = layer.Name;
            switch (layer.ClassName)
            {
                case "InputLayer": break;
                case "Dense":
                {
                    float[] k = w[$"{n}/kernel:0"], bias = w[$"{n}/bias:0"]; // kernel [in, out]
                    if (omitBiasBeforeBatchNorm && l + 1 < layers.Count && layers[l + 1].ClassName == "BatchNormalization")
                        bias = new float[bias.Length];
                    int outs = bias.Length, ins = x.Length;
                    var y = new float[outs];
                    for (int o = 0; o < outs; o++)
                    {
                        double s = bias[o];
                        for (int i = 0; i < ins; i++) s += (double)k[i * outs + o] * x[i];
                        y[o] = (float)s;
                    }
                    Assert.Equal("linear", layer.Config.GetProperty("activation").GetString());
                    x = y;
                    break;
                }
                case "BatchNormalization":
                {
                    double eps = layer.Config.GetProperty("epsilon").GetDouble();
                    float[] g = w[$"{n}/gamma:0"], beta = w[$"{n}/beta:0"], mean = w[$"{n}/moving_mean:0"], variance = w[$"{n}/moving_variance:0"];
                    x = x.Select((v, c) => (float)((v - mean[c]) / Math.Sqrt(variance[c] + eps) * g[c] + beta[c])).ToArray();
                    break;
                }
                case "Activation":
                    Assert.Equal("relu", layer.Config.GetProperty("activation").GetString());
                    x = x.Select(v => Math.Max(0, v)).ToArray();
                    break;
                default:
                    throw new InvalidOperationException($"unexpected layer {layer.ClassName}");
            }
        }
        return x;
    }
}

/// <summary>
/// Keras HDF5 files whose dataspace claims more elements than the file holds: every dataset's shape × element size is
/// checked against the file length before anything is read, so opening and decoding fails cleanly, naming the file and
/// the weight, after allocating no more than a bound.
/// </summary>
public class KerasH5HostileDimsTests
{
    const long Bound = 16L << 20;

    /// <summary>The bytes with the first stored dimension pair [a, b] (uint64 little-endian, as a dataspace message holds it) set to [a·factor, b].</summary>
    static byte[] WithDims(byte[] file, ulong a, ulong b, ulong newA)
    {
        var pattern = new byte[16];
        BitConverter.TryWriteBytes(pattern.AsSpan(0, 8), a);
        BitConverter.TryWriteBytes(pattern.AsSpan(8, 8), b);
        int at = file.AsSpan().IndexOf(pattern);
        Assert.True(at >= 0, $"dimension pair [{a},{b}] not found");
        var bytes = (byte[])file.Clone();
        BitConverter.TryWriteBytes(bytes.AsSpan(at, 8), newA);
        return bytes;
    }

    static (WeightFormatException Error, long Allocated) Open(string name, byte[] bytes)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<WeightFormatException>(() =>
        {
            using var source = KerasH5File.Parse(name, bytes);
            foreach (var t in source.Tensors) t.ReadFloat32();
        });
        return (e, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Theory]
    [InlineData(1UL << 20)]            // 4 MiB of float32 in a 7 KB file
    [InlineData(1UL << 31)]            // beyond an int32 element count
    [InlineData(ulong.MaxValue / 4)]   // overflows count × element size
    public void Corrupted_dims_fail_before_any_read(ulong claimed)
    {
        var (e, allocated) = Open("dims.h5", WithDims(KerasH5Tests.SmallKerasFile(), 4, 3, claimed));
        Assert.StartsWith("dims.h5: ", e.Message);
        Assert.Contains("dense/kernel:0", e.Message);
        Assert.True(allocated < Bound, $"allocated {allocated >> 20} MiB");
    }

    [SkippableFact]
    public void Corrupted_dims_in_the_real_ad01_fail_before_any_read()
    {
        byte[] file = File.ReadAllBytes(SharedData.Require("weights/ad01.h5"));
        var (e, allocated) = Open("ad01-dims.h5", WithDims(file, 640, 128, 640UL << 20));
        Assert.Contains("dense/kernel:0", e.Message);
        Assert.Contains("more bytes than the file", e.Message);
        Assert.True(allocated < Bound, $"allocated {allocated >> 20} MiB");
    }
}
