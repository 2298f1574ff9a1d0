using System.Text.Json;
using Google.Protobuf;
using NativeASD.Weights;
using NativeASD.Weights.Onnx;
using NativeASD.Weights.Onnx.Proto;

namespace NativeASD.Tests.Weights.Onnx;

/// <summary>ONNX initializers: a torch.onnx.export file (Tests/Reference/make_onnx_references.py) and hand-built ModelProtos for the other encodings.</summary>
public class OnnxReaderTests
{
    static string Tiny => Fixtures.PathOf("onnx", "tiny.onnx");

    sealed record Expected(int[] Shape, float[] Values);

    [Fact]
    public void Torch_exported_initializers_equal_the_state_dict()
    {
        using var source = OnnxFile.Open(Tiny);
        Assert.Equal("onnx", source.Format);
        var expected = JsonSerializer.Deserialize<Dictionary<string, Expected>>(File.ReadAllText(Fixtures.PathOf("onnx", "tiny.json")),
            new JsonSerializerOptions { PropertyNameCaseInsensitive = true })!;
        var byName = source.Tensors.ToDictionary(t => t.Name);
        foreach (var (name, e) in expected)
        {
            Assert.True(byName.ContainsKey(name), $"initializer {name} missing; have {string.Join(", ", byName.Keys)}");
            Assert.Equal(e.Shape, byName[name].Shape);
            Assert.Equal(WeightDType.F32, byName[name].StoredAs);
            Assert.Equal(e.Values, byName[name].ReadFloat32());
        }
        Assert.Equal("13", source.Metadata["onnx.opset.ai.onnx"]);
        Assert.StartsWith("pytorch", source.Metadata["onnx.producer"]);
        Assert.Contains(((OnnxWeightSource)source).Nodes, n => n.OpType == "Conv");
        Assert.True(OnnxFile.Sniff(File.ReadAllBytes(Tiny).AsSpan(0, 16)));
    }

    static byte[] Model(params TensorProto[] initializers)
    {
        var graph = new GraphProto { Name = "g" };
        graph.Initializer.AddRange(initializers);
        return new ModelProto { IrVersion = 7, ProducerName = "test", Graph = graph }.ToByteArray();
    }

    static TensorProto Tensor(string name, OnnxDataType type, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)type };
        t.Dims.AddRange(dims);
        return t;
    }

    [Fact]
    public void Every_storage_field_decodes()
    {
        var floats = Tensor("floats", OnnxDataType.Float, 2, 2);
        floats.FloatData.AddRange([1f, -2f, 3.5f, 0.25f]);
        var halves = Tensor("halves", OnnxDataType.Float16, 3);
        halves.Int32Data.AddRange(new[] { (Half)1.5f, (Half)(-2f), (Half)0.125f }.Select(h => (int)BitConverter.HalfToUInt16Bits(h)));
        var longs = Tensor("longs", OnnxDataType.Int64, 2);
        longs.Int64Data.AddRange([-7L, 1L << 40]);
        var rawInt8 = Tensor("raw_int8", OnnxDataType.Int8, 3);
        rawInt8.RawData = ByteString.CopyFrom([0xff, 0x80, 0x05]);
        var rawDouble = Tensor("raw_double", OnnxDataType.Double, 1);
        rawDouble.RawData = ByteString.CopyFrom(BitConverter.GetBytes(2.5));
        var bf16 = Tensor("raw_bf16", OnnxDataType.BFloat16, 1);
        bf16.RawData = ByteString.CopyFrom([0xc0, 0x3f]); // 0x3fc0 → 1.5
        var scalar = Tensor("scalar", OnnxDataType.Float);
        scalar.FloatData.Add(42f);

        using var source = OnnxFile.Parse("built.onnx", Model(floats, halves, longs, rawInt8, rawDouble, bf16, scalar));
        var t = source.Tensors.ToDictionary(x => x.Name);
        Assert.Equal([1f, -2f, 3.5f, 0.25f], t["floats"].ReadFloat32());
        Assert.Equal([1.5f, -2f, 0.125f], t["halves"].ReadFloat32());
        Assert.Equal(WeightDType.F16, t["halves"].StoredAs);
        Assert.Equal([-7f, 1L << 40], t["longs"].ReadFloat32());
        Assert.Equal([-1f, -128f, 5f], t["raw_int8"].ReadFloat32());
        Assert.Equal(3, t["raw_int8"].ByteLength);
        Assert.Equal([2.5f], t["raw_double"].ReadFloat32());
        Assert.Equal([1.5f], t["raw_bf16"].ReadFloat32());
        Assert.Equal([42f], t["scalar"].ReadFloat32());
        Assert.Empty(t["scalar"].Shape);
    }

    static WeightFormatException Fails(byte[] bytes) => Assert.Throws<WeightFormatException>(() => OnnxFile.Parse("bad.onnx", bytes));

    [Fact]
    public void External_data_is_a_clear_unsupported_error()
    {
        var t = Tensor("big", OnnxDataType.Float, 1000);
        t.DataLocation = 1;
        t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
        var e = Fails(Model(t));
        Assert.Equal("bad.onnx", e.FilePath);
        Assert.Contains("'big'", e.Message);
        Assert.Contains("weights.bin", e.Message);
        Assert.Contains("not supported", e.Message);
    }

    [Fact]
    public void Shapes_that_do_not_match_the_data_or_are_negative_or_huge_are_rejected()
    {
        var short_ = Tensor("short", OnnxDataType.Float, 3);
        short_.FloatData.AddRange([1f, 2f]);
        Assert.Contains("needs 3 elements, but its data holds 2", Fails(Model(short_)).Message);

        var negative = Tensor("neg", OnnxDataType.Float, -4);
        Assert.Contains("invalid dimension -4", Fails(Model(negative)).Message);

        var huge = Tensor("huge", OnnxDataType.Float, 1L << 20, 1L << 20);
        huge.RawData = ByteString.CopyFrom(new byte[16]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Contains("more elements than one array holds", Fails(Model(huge)).Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);

        var odd = Tensor("odd", OnnxDataType.Float, 1);
        odd.RawData = ByteString.CopyFrom([1, 2, 3]);
        Assert.Contains("'odd'", Fails(Model(odd)).Message);

        var strings = Tensor("strings", OnnxDataType.String, 1);
        strings.StringData.Add(ByteString.CopyFromUtf8("x"));
        Assert.Contains("String", Fails(Model(strings)).Message);
    }

    [Fact]
    public void Non_protobuf_bytes_and_models_without_graph_are_rejected()
    {
        Assert.Contains("not a valid ONNX protobuf", Fails([0xff, 0xff, 0xff, 0xff, 0xff]).Message);
        Assert.Contains("no graph", Fails(new ModelProto { IrVersion = 7 }.ToByteArray()).Message);
    }
}
