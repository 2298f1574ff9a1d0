using System.Diagnostics;
using NativeASD.Engine;
using NativeASD.Engine.Layers;
using NativeASD.Engine.Architectures;
using NativeASD.Engine.Optim;
using NativeASD.Kernels.Cpu;

namespace NativeASD.Bench;

/// <summary>
/// Stopwatch timing of one training step (forward, loss, backward, Adam) of the baselines at full size and their
/// original batch size 512: the DCASE 2020 dense autoencoder (640-d input) and the VAE (660-d, hidden 256, latent 128,
/// 3 extra hidden layers). Median of 15 steps after 3 warm-up steps. Peer: Bench/torch_train_step.py.
/// Run: <c>dotnet Bench/bin/Release/net10.0/NativeASD.Bench.dll train-step-quick [threads] [batch]</c>.
/// </summary>
internal static class TrainStepQuick
{
    public static void Run(string[] args)
    {
        int threads = args.Length > 0 ? int.Parse(args[0]) : Environment.ProcessorCount;
        int batch = args.Length > 1 ? int.Parse(args[1]) : 512;
        using var backend = new CpuBackend(threads);
        var rng = new SeededRandom(1);

        using (var ae = new DenseAutoencoder(init: new SeededRandom(2), backend: backend))
        using (var x = Input(rng, batch, 640, backend))
        using (var opt = new Adam(ae.NamedParameters().Select(p => p.Parameter), 1e-3f))
            Time("dense autoencoder", threads, batch, ae, () => { opt.ZeroGrad(); ae.LossAndBackward(x); opt.Step(); });

        using (var vae = new Vae(init: new SeededRandom(3), backend: backend))
        using (var x = Input(rng, batch, 660, backend))
        using (var opt = new Adam(vae.NamedParameters().Select(p => p.Parameter), 1e-3f, weightDecay: 1e-4f))
            Time("vae", threads, batch, vae, () => { opt.ZeroGrad(); vae.LossAndBackward(x); opt.Step(); });
    }

    static Tensor Input(SeededRandom rng, int batch, int dim, CpuBackend backend)
    {
        var v = new float[batch * dim];
        rng.FillNormal(v, 0f, 1f);
        return Tensor.FromSpan(v, [batch, dim], backend);
    }

    static void Time(string name, int threads, int batch, Module model, Action step)
    {
        for (int i = 0; i < 3; i++) step();
        var times = new List<double>();
        var sw = new Stopwatch();
        for (int i = 0; i < 15; i++)
        {
            sw.Restart();
            step();
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        long parameters = model.NamedParameters().Sum(p => p.Parameter.Value.Count);
        Console.WriteLine($"{name}: batch {batch}, {parameters} parameters, threads={threads}: median {times[7]:F2} ms per training step (best {times[0]:F2})");
    }
}
