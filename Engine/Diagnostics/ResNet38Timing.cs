using System.Diagnostics;
using NativeASD.Engine.Architectures.Panns;
using NativeASD.Engine.Frontend;
using NativeASD.Kernels;

namespace NativeASD.Engine.Diagnostics;

/// <summary>One batch size's result: medians in seconds per batch, and clips per second at the total's median.</summary>
public sealed record ResNet38Result(int Batch, double ClipSeconds, double TotalSeconds, double FrontendSeconds, double ForwardSeconds, int Repeats)
{
    public double ClipsPerSecond => Batch / TotalSeconds;
}

/// <summary>
/// Clips per second of the PANNs ResNet38 evaluation forward on a backend, frontend included: a batch of random
/// 32 kHz clips → the "panns" log-mel frontend (its device kernels on an ILGPU backend) → [B, 1, frames, 64] on the
/// backend → the forward (seeded random weights, <see cref="RandomWeights"/>) → synchronised. One warm-up batch
/// (kernel compilation), then the median of <c>repeats</c> batches, also split into frontend (with the upload) and forward.
/// </summary>
public static class ResNet38Timing
{
    public static IEnumerable<ResNet38Result> Run(IBackend backend, IReadOnlyList<int> batches, double clipSeconds = 10, int repeats = 5)
    {
        var preset = FrontendPreset.Panns;
        using var model = new PannsResNet(PannsConfig.ResNet38, backend);
        RandomWeights.Fill(model, 1);
        model.Eval();
        using var frontend = new AudioFrontend(preset, backend);
        int samples = (int)Math.Round(clipSeconds * preset.SampleRate), frames = frontend.FrameCount(samples);
        if (frames < 1) throw new ArgumentException($"resnet38: clips of {clipSeconds} s give no frame");
        var rng = new SeededRandom(3);
        var clips = new List<float[]>();
        foreach (int batch in batches)
        {
            while (clips.Count < batch)
            {
                var clip = new float[samples];
                rng.FillNormal(clip, 0f, 0.1f);
                clips.Add(clip);
            }
            var input = new float[(long)batch * frames * preset.MelBins];
            var batchClips = clips.GetRange(0, batch);
            (double Frontend, double Forward) Once()
            {
                var sw = Stopwatch.StartNew();
                var features = frontend.ComputeBatch(batchClips, preset.SampleRate);
                for (int i = 0; i < batch; i++)
                    Buffer.BlockCopy(features[i], 0, input, i * frames * preset.MelBins * sizeof(float), frames * preset.MelBins * sizeof(float));
                using var x = Tensor.FromSpan(input, [batch, 1, frames, preset.MelBins], backend);
                double frontendSeconds = sw.Elapsed.TotalSeconds;
                using (model.Forward(x)) backend.Synchronize();
                return (frontendSeconds, sw.Elapsed.TotalSeconds - frontendSeconds);
            }
            Once();
            var runs = Enumerable.Range(0, repeats).Select(_ => Once()).ToArray();
            double Median(IEnumerable<double> v) => v.Order().ElementAt(repeats / 2);
            yield return new ResNet38Result(batch, clipSeconds, Median(runs.Select(r => r.Frontend + r.Forward)),
                Median(runs.Select(r => r.Frontend)), Median(runs.Select(r => r.Forward)), repeats);
        }
    }
}
