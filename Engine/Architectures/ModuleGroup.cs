using NativeASD.Engine.Layers;
using NativeASD.Kernels;

namespace NativeASD.Engine.Architectures;

/// <summary>
/// A named container of modules with no computation of its own: it exists for the state-dict prefix
/// (PANNs' "resnet" holding layer1..layer4, YAMNet's "layer2" holding depthwise_conv and pointwise_conv).
/// </summary>
public sealed class ModuleGroup(IBackend? backend = null) : Module(backend)
{
    public T Add<T>(string name, T child) where T : Module => AddChild(name, child);
}
