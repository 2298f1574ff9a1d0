using NativeASD.Weights;
namespace NativeASD.Detection.Backbones;

/// <summary>PANNs ResNet22/38 hyper-parameters (Kong et al. 2020); the defaults are the released AudioSet models.</summary>
public sealed record PannsResNetConfig(int[] Blocks, int[] Widths, int MelBins = 64, int Classes = 527, int Embedding = 2048, int Hidden = 2048, int WindowSize = 1024)
{
    public int FftBins => WindowSize / 2 + 1;
}

/// <summary>
/// PANNs ResNet22 ([2,2,2,2] blocks) and ResNet38 ([3,4,6,3]) state dicts, keys as-is. Widths, mel bins, classes
/// and the STFT window are read from the file (so narrow test models map too); block counts come from the arch.
/// Expected per model: the STFT kernels and mel matrix, bn0, conv_block1, resnet.layerL.B (BasicBlocks; the first
/// block of layers 2–4 has an AvgPool→conv1×1→BN shortcut as downsample.1/.2), conv_block_after1, fc1, fc_audioset.
/// </summary>
public sealed class PannsResNetMapping(string arch, int[] blocks) : IArchitectureMapping
{
    public string Arch { get; } = arch;

    public bool Recognises(IWeightSource s) =>
        StrictMatch.Has(s, "conv_block1.conv1.weight") && StrictMatch.Has(s, "fc_audioset.weight")
        && StrictMatch.Has(s, $"resnet.layer3.{blocks[2] - 1}.conv1.weight") && !StrictMatch.Has(s, $"resnet.layer3.{blocks[2]}.conv1.weight");

    public MappedWeights Map(IWeightSource source, bool allowExtra)
    {
        var config = Infer(source);
        // PANNs' 16 kHz models (Cnn14_16k, NativeASD's shipped ResNet) have a 512-sample STFT window.
        return StrictMatch.AsIs(source, Arch, config, config.WindowSize == 512 ? "panns16k" : "panns", Expected(config), allowExtra);
    }

    PannsResNetConfig Infer(IWeightSource s)
    {
        var widths = new int[4];
        int[] standard = [64, 128, 256, 512];
        for (int l = 0; l < 4; l++) widths[l] = StrictMatch.Dim(s, $"resnet.layer{l + 1}.0.conv1.weight", 0, standard[l]);
        return new PannsResNetConfig(blocks, widths,
            MelBins: StrictMatch.Dim(s, "bn0.weight", 0, 64),
            Classes: StrictMatch.Dim(s, "fc_audioset.weight", 0, 527),
            Embedding: StrictMatch.Dim(s, "conv_block_after1.conv1.weight", 0, 2048),
            Hidden: StrictMatch.Dim(s, "fc1.weight", 0, 2048),
            WindowSize: StrictMatch.Dim(s, "spectrogram_extractor.stft.conv_real.weight", 2, 1024));
    }

    public static List<ExpectedTensor> Expected(PannsResNetConfig c)
    {
        var list = new List<ExpectedTensor>
        {
            new("spectrogram_extractor.stft.conv_real.weight", [c.FftBins, 1, c.WindowSize]),
            new("spectrogram_extractor.stft.conv_imag.weight", [c.FftBins, 1, c.WindowSize]),
            new("logmel_extractor.melW", [c.FftBins, c.MelBins]),
        };
        BatchNorm(list, "bn0", c.MelBins);
        ConvBlock(list, "conv_block1", 1, c.Widths[0]);
        int inChannels = c.Widths[0];
        for (int l = 0; l < 4; l++)
        {
            int w = c.Widths[l];
            for (int b = 0; b < c.Blocks[l]; b++)
            {
                string p = $"resnet.layer{l + 1}.{b}";
                list.Add(new($"{p}.conv1.weight", [w, inChannels, 3, 3]));
                BatchNorm(list, $"{p}.bn1", w);
                list.Add(new($"{p}.conv2.weight", [w, w, 3, 3]));
                BatchNorm(list, $"{p}.bn2", w);
                if (b == 0 && inChannels != w)
                {
                    list.Add(new($"{p}.downsample.1.weight", [w, inChannels, 1, 1]));
                    BatchNorm(list, $"{p}.downsample.2", w);
                }
                inChannels = w;
            }
        }
        ConvBlock(list, "conv_block_after1", c.Widths[3], c.Embedding);
        list.Add(new("fc1.weight", [c.Hidden, c.Embedding]));
        list.Add(new("fc1.bias", [c.Hidden]));
        list.Add(new("fc_audioset.weight", [c.Classes, c.Hidden]));
        list.Add(new("fc_audioset.bias", [c.Classes]));
        return list;
    }

    static void ConvBlock(List<ExpectedTensor> list, string p, int cin, int cout)
    {
        list.Add(new($"{p}.conv1.weight", [cout, cin, 3, 3]));
        list.Add(new($"{p}.conv2.weight", [cout, cout, 3, 3]));
        BatchNorm(list, $"{p}.bn1", cout);
        BatchNorm(list, $"{p}.bn2", cout);
    }

    static void BatchNorm(List<ExpectedTensor> list, string p, int n)
    {
        list.Add(new($"{p}.weight", [n]));
        list.Add(new($"{p}.bias", [n]));
        list.Add(new($"{p}.running_mean", [n]));
        list.Add(new($"{p}.running_var", [n]));
        list.Add(new($"{p}.num_batches_tracked", []));
    }
}
