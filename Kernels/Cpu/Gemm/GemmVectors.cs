using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeASD.Kernels.Cpu;

/// <summary>
/// The few vector operations the GEMM micro-kernels and packing routines need, as static members so that a kernel
/// written once as a generic method is compiled into straight-line SIMD code for each width (the JIT specialises
/// generic methods over struct type arguments and inlines these calls). Width 1 (<see cref="GemmScalar"/>) gives
/// the scalar fallback from the same kernel source.
/// </summary>
internal unsafe interface IGemmVector<TVector> where TVector : struct
{
    /// <summary>Floats per vector.</summary>
    static abstract int Width { get; }
    static abstract TVector Zero { get; }
    static abstract TVector Load(float* p);
    static abstract void Store(float* p, TVector v);
    static abstract TVector Broadcast(float x);
    /// <summary>a·b + c; fused where the hardware has FMA (the same instruction for every element, so results do not depend on tiling).</summary>
    static abstract TVector MultiplyAdd(TVector a, TVector b, TVector c);
    static abstract TVector Multiply(TVector a, TVector b);
}

internal unsafe struct GemmVector512 : IGemmVector<Vector512<float>>
{
    public static int Width => Vector512<float>.Count;
    public static Vector512<float> Zero => Vector512<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vector512<float> v) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Broadcast(float x) => Vector512.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.MultiplyAddEstimate(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;
}

internal unsafe struct GemmVector256 : IGemmVector<Vector256<float>>
{
    public static int Width => Vector256<float>.Count;
    public static Vector256<float> Zero => Vector256<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vector256<float> v) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Broadcast(float x) => Vector256.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.MultiplyAddEstimate(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;
}

internal unsafe struct GemmVector128 : IGemmVector<Vector128<float>>
{
    public static int Width => Vector128<float>.Count;
    public static Vector128<float> Zero => Vector128<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Load(float* p) => Vector128.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vector128<float> v) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Broadcast(float x) => Vector128.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.MultiplyAddEstimate(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Multiply(Vector128<float> a, Vector128<float> b) => a * b;
}

internal unsafe struct GemmScalar : IGemmVector<float>
{
    public static int Width => 1;
    public static float Zero => 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Load(float* p) => *p;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, float v) => *p = v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Broadcast(float x) => x;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MultiplyAdd(float a, float b, float c) => float.MultiplyAddEstimate(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Multiply(float a, float b) => a * b;
}

/// <summary>Work written once as a generic method over the vector width, run by <see cref="SimdWidth.Run"/> at one level.</summary>
internal interface IWidthGeneric
{
    void Run<T, V>() where T : struct, IGemmVector<V> where V : struct;
}

/// <summary>The one SIMD-level switch of the kernels built on <see cref="IGemmVector{TVector}"/>.</summary>
internal static class SimdWidth
{
    /// <summary>
    /// Calls <paramref name="work"/>'s Run at <paramref name="level"/>'s width (scalar below Vector128). A struct work
    /// item is specialised by the JIT like a direct call, so the dispatch costs one switch per task.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<TWork>(SimdLevel level, TWork work) where TWork : struct, IWidthGeneric
    {
        switch (level)
        {
            case SimdLevel.Vector512: work.Run<GemmVector512, Vector512<float>>(); break;
            case SimdLevel.Vector256: work.Run<GemmVector256, Vector256<float>>(); break;
            case SimdLevel.Vector128: work.Run<GemmVector128, Vector128<float>>(); break;
            default: work.Run<GemmScalar, float>(); break;
        }
    }
}
