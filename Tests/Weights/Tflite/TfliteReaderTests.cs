using System.Buffers.Binary;
using System.Text.Json;
using NativeASD.Weights;
using NativeASD.Weights.Tflite;

namespace NativeASD.Tests.Weights.Tflite;

/// <summary>
/// The TFLite reader against fixtures from Tests/Reference/make_tflite_references.py: a tiny model written by its
/// flatbuffer builder (values exact), and dequantised YAMNet tensors computed with numpy from the real file.
/// </summary>
public class TfliteReaderTests
{
    static string Tiny => Fixtures.PathOf("tflite", "tiny.tflite");

    [Fact]
    public void Tiny_model_tensors_dequantise_exactly_as_numpy()
    {
        using var source = TfliteFile.Open(Tiny);
        Assert.Equal("tflite", source.Format);
        var expected = JsonSerializer.Deserialize<Dictionary<string, float[]>>(File.ReadAllText(Fixtures.PathOf("tflite", "tiny.json")))!;
        Assert.Equal(expected.Keys.Order(), source.Tensors.Select(t => t.Name).Order());
        foreach (var t in source.Tensors) Assert.Equal(expected[t.Name], t.ReadFloat32());

        var byName = source.Tensors.ToDictionary(t => t.Name);
        Assert.Equal([3, 1, 1, 2], byName["conv/weight"].Shape);
        Assert.Equal(WeightDType.I8, byName["conv/weight"].StoredAs);
        Assert.Equal("int8 per-channel axis 0 (3 scales)", byName["conv/weight"].Note);
        Assert.Equal("int8 per-channel axis 3 (3 scales)", byName["dw/weight"].Note);
        Assert.Equal(WeightDType.I32, byName["conv/bias"].StoredAs);
        Assert.Equal(WeightDType.U8, byName["u8/table"].StoredAs);
        Assert.StartsWith("uint8 per-tensor", byName["u8/table"].Note);
        Assert.Null(byName["fc/weight"].Note);
        Assert.Equal("tiny test model", source.Metadata["tflite.description"]);
    }

    [Fact]
    public void Tiny_model_operators_carry_their_options()
    {
        var model = TfliteFile.Load(Tiny);
        Assert.Equal(["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"], model.Operators.Select(o => o.OpName));
        Assert.Equal(new TfliteConv2DOptions(TflitePadding.Valid, 1, 1, TfliteActivation.Relu6, 1, 1), model.Operators[0].Options);
        Assert.Equal(new TfliteDepthwiseConv2DOptions(TflitePadding.Same, 2, 2, 1, TfliteActivation.Relu, 1, 1), model.Operators[1].Options);
        Assert.Equal(new TfliteFullyConnectedOptions(TfliteActivation.None, KeepNumDims: true), model.Operators[2].Options);
        Assert.Equal([3, 4, -1], model.Operators[1].Inputs); // -1: optional bias absent
        Assert.Equal(2, model.Operators[1].Version);
        Assert.Equal("main", model.Subgraphs[0].Name);
        Assert.Equal([0], model.Subgraphs[0].Inputs);
        Assert.False(model.Tensors[0].HasData);
        Assert.Throws<WeightFormatException>(() => model.Tensors[0].ReadFloat32());
    }

    [Fact]
    public void Sniff_recognises_the_file_identifier()
    {
        Assert.True(TfliteFile.Sniff(File.ReadAllBytes(Tiny).AsSpan(0, 8)));
        Assert.False(TfliteFile.Sniff("\x08\x07\x12\x07pytorch"u8));
        Assert.False(TfliteFile.Sniff("TFL3"u8));
    }

    [SkippableFact]
    public void Yamnet_dequantised_tensors_match_numpy()
    {
        string path = SharedData.Require("weights/yamnet_spectra_in.tflite");
        using var source = TfliteFile.Open(path);
        var byName = source.Tensors.ToDictionary(t => t.Name);
        using var manifest = JsonDocument.Parse(File.ReadAllText(Fixtures.PathOf("tflite", "manifest.json")));
        int checkedTensors = 0;
        foreach (var entry in manifest.RootElement.EnumerateArray())
        {
            var tensor = byName[entry.GetProperty("name").GetString()!];
            int[] shape = entry.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.Equal(shape, tensor.Shape);
            var (reference, refShape) = Fixtures.Npy("tflite", entry.GetProperty("file").GetString()!);
            Assert.Equal(entry.GetProperty("rows").GetInt32(), refShape[0]);
            float[] actual = tensor.ReadFloat32();
            // Same formula in float64 rounded once on both sides: bit-identical.
            Assert.Equal(reference, actual.AsSpan(0, reference.Length).ToArray());
            checkedTensors++;
        }
        Assert.Equal(6, checkedTensors);
    }

    [SkippableFact]
    public void Yamnet_operator_list_is_the_mobilenet_of_the_notes()
    {
        var model = TfliteFile.Load(SharedData.Require("weights/yamnet_spectra_in.tflite"));
        Assert.Equal(94, model.Tensors.Count);
        var counts = model.Operators.GroupBy(o => o.OpName).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(14, counts["CONV_2D"]);
        Assert.Equal(13, counts["DEPTHWISE_CONV_2D"]);
        Assert.Equal(1, counts["FULLY_CONNECTED"]);
        int[] depthwiseStrides = model.Operators.Select(o => o.Options).OfType<TfliteDepthwiseConv2DOptions>().Select(o => o.StrideH).ToArray();
        Assert.Equal([1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1], depthwiseStrides);
        Assert.All(model.Operators.Select(o => o.Options).OfType<TfliteConv2DOptions>(),
            o => Assert.Equal((TflitePadding.Same, TfliteActivation.Relu6), (o.Padding, o.Activation)));
        var fc = model.Operators.Single(o => o.Opcode == TfliteBuiltinOperator.FULLY_CONNECTED);
        Assert.Equal([521, 1024], model.Tensors[fc.Inputs[1]].Shape);
    }

    // ---- hostile edits of the tiny model, each naming the problem ----

    static byte[] TinyBytes() => File.ReadAllBytes(Tiny);

    static FlatTable TensorTable(byte[] bytes, int index) =>
        new FlatBuffer("x", bytes).Root("Model").Tables(2, "subgraphs")[0].Tables(0, "tensors")[index];

    static WeightFormatException Fails(byte[] bytes) =>
        Assert.Throws<WeightFormatException>(() => TfliteModel.Parse("edited.tflite", bytes));

    [Fact]
    public void Buffer_index_out_of_range_names_the_tensor_and_index()
    {
        byte[] bytes = TinyBytes();
        int at = TensorTable(bytes, 1).Field(2, 4);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), 999);
        var e = Fails(bytes);
        Assert.Equal("edited.tflite", e.FilePath);
        Assert.Contains("'conv/weight'", e.Message);
        Assert.Contains("buffer 999", e.Message);
    }

    [Fact]
    public void Negative_and_huge_dimensions_are_rejected_without_allocating()
    {
        byte[] bytes = TinyBytes();
        var shape = TensorTable(bytes, 1).Vector(0, 4, "shape")!.Value;
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(shape.Start), -3);
        Assert.Contains("negative dimension -3", Fails(bytes).Message);

        bytes = TinyBytes();
        for (int d = 0; d < 4; d++) BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(shape.Start + 4 * d), int.MaxValue);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Contains("needs", Fails(bytes).Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    [Fact]
    public void Offsets_and_lengths_outside_the_file_are_rejected()
    {
        byte[] bytes = TinyBytes();
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, 0x7fff_fff0);
        Assert.Contains("outside the file", Fails(bytes).Message);

        bytes = TinyBytes();
        var model = new FlatBuffer("x", bytes).Root("Model");
        int buffers = new FlatBuffer("x", bytes).Deref(model.Field(4, 4), "buffers");
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(buffers), 0x4000_0000);
        Assert.Contains("outside the file", Fails(bytes).Message);

        bytes = TinyBytes();
        bytes[4] = (byte)'X';
        Assert.Contains("TFL3", Fails(bytes).Message);
    }

    [Fact]
    public void Quantisation_that_does_not_fit_the_shape_is_rejected()
    {
        byte[] bytes = TinyBytes();
        var quant = TensorTable(bytes, 1).Table(4, "quantization")!.Value;
        int axis = quant.Field(6, 4);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(axis), 1); // 3 scales along a dimension of size 1
        Assert.Contains("3 scales for dimension 1", Fails(bytes).Message);
    }
}
