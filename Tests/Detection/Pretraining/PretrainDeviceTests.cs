using NativeASD.Detection.Pretraining;
using NativeASD.Tests.Support;
using Xunit;

namespace NativeASD.Tests.Detection.Pretraining;

/// <summary>
/// The shipped backbone's recipe on a device: crops generated on CPU threads, their log-mels computed on the device in
/// one batch, forward, backward and AdamW there. One epoch (one step of two crops, two validation crops) of a tiny-width
/// network on ilgpu-cpu ends with the CPU's losses within float rounding.
/// </summary>
public sealed class PretrainDeviceTests : IDisposable
{
    readonly WeightFixtures.TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void One_epoch_on_ilgpu_cpu_has_the_cpus_losses()
    {
        var options = PretrainOptions.ForArch("resnet-small") with { Width = 1 / 32.0, Epochs = 1, BatchSize = 2, CropSeconds = 0.4 };
        double[] Losses(string device)
        {
            using var trainer = new Pretrainer(new SynthPretrainCorpus(2, ["fan", "pump"], ids: 1, conditions: 1, validationPerClass: 1), options, TestBackends.Get(device));
            var history = trainer.Run(_dir.File($"{device}.safetensors"), resume: false, _ => { }, _ => { });
            return [history[0].TrainLoss, history[0].ValidationLoss!.Value];
        }
        var cpu = Losses("cpu");
        var device = Losses("ilgpu-cpu");
        for (int i = 0; i < cpu.Length; i++) Assert.True(Math.Abs(device[i] - cpu[i]) < 1e-4 * Math.Abs(cpu[i]), $"loss {i}: {device[i]} on ilgpu-cpu, {cpu[i]} on cpu");
    }
}
