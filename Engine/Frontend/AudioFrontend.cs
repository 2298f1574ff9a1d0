using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using NativeASD.Engine.Audio;
using NativeASD.Kernels;
using NativeASD.Kernels.Cpu;
using NativeASD.Kernels.Ilgpu;

namespace NativeASD.Engine.Frontend;

/// <summary>Arithmetic of the STFT and mel stages. Double meets the exactness bounds everywhere; single is faster.</summary>
public enum FrontendPrecision { Single, Double }

/// <summary>
/// A frontend: audio samples → [frames, bins] features (log-mel, MFCC or a linear spectrum) as a
/// <see cref="FrontendPreset"/> describes. Thread-safe; reuse one instance. Runs on the CPU with SIMD across
/// frames and the <see cref="WorkerPool"/> across frames and clips.
/// <code>
/// using var fe = new AudioFrontend(FrontendPreset.Get("dcase2020"));
/// float[,] logMel = fe.ComputeFile("normal_id_00_00000000.wav");              // [313, 128]
/// float[,] same = fe.Compute(AudioFile.Read(path, ChannelMix.Mean, fe.Preset.SampleRate));
/// float[,] vectors = FrameStacking.Stack(logMel, fe.Preset.StackFrames);      // [309, 640]
/// </code>
/// </summary>
public sealed unsafe class AudioFrontend : IDisposable
{
    readonly IFrontendKernel _kernel;
    readonly WorkerPool _pool;
    readonly double[,]? _dct;
    readonly IlgpuSpectrogramPlan? _device;
    /// <summary>Frames per parallel task.</summary>
    const int ChunkFrames = 64;

    public FrontendPreset Preset { get; }
    public FrontendPrecision Precision { get; }
    public int Threads => _pool.Threads;
    /// <summary>True when the STFT and mel stages run as kernels on an ILGPU device (built with an ILGPU backend).</summary>
    public bool OnDevice => _device is not null;
    /// <summary>Values per output frame.</summary>
    public int Bins => Preset.Bins;

    /// <param name="threads">worker threads (0: all cores).</param>
    public AudioFrontend(FrontendPreset preset, int threads = 0, FrontendPrecision precision = FrontendPrecision.Single)
    {
        preset.Validate();
        Preset = preset;
        Precision = precision;
        _kernel = precision == FrontendPrecision.Double ? new FrontendKernel<double>(preset) : new FrontendKernel<float>(preset);
        _pool = new WorkerPool(threads > 0 ? threads : Environment.ProcessorCount);
        if (preset.Mfcc > 0) _dct = Dct.OrthoMatrix(preset.Mfcc, _kernel.Bands);
    }

    /// <summary>
    /// A frontend on a compute backend: the CPU backend's thread count, or an ILGPU device (cuda, opencl, ilgpu-cpu)
    /// where the STFT and mel stages run as device kernels (double accumulation) and log/DCT on the host.
    /// </summary>
    public AudioFrontend(FrontendPreset preset, IBackend backend, FrontendPrecision precision = FrontendPrecision.Single)
        : this(preset, backend.Threads, precision)
    {
        if (backend is not IlgpuBackend device) return;
        var window = Window.Create(preset.Window, preset.EffectiveWinLength, preset.PeriodicWindow);
        int bins = preset.NFft / 2 + 1;
        int[] start, length, offset;
        float[] weights;
        if (preset.MelBins > 0)
        {
            var fb = MelFilterbank.Create(preset);
            start = fb.Start;
            length = [.. fb.Weights.Select(w => w.Length)];
            offset = new int[fb.Bands];
            for (int b = 1; b < fb.Bands; b++) offset[b] = offset[b - 1] + length[b - 1];
            weights = [.. fb.Weights.SelectMany(w => w.Select(v => (float)v))];
        }
        else
        {
            start = [.. Enumerable.Range(0, bins)];
            length = [.. Enumerable.Repeat(1, bins)];
            offset = start;
            weights = [.. Enumerable.Repeat(1f, bins)];
        }
        _device = new IlgpuSpectrogramPlan(device, preset.NFft, preset.Hop, window, preset.Spectrum == SpectrumKind.Magnitude, start, length, offset, weights);
    }

    /// <summary>Frames a clip of <paramref name="samples"/> samples gives (0 when it is shorter than one frame).</summary>
    public int FrameCount(long samples)
    {
        if (Preset.PreEmphasis != 0) samples = Math.Max(0, samples - 1);
        long padded = samples + (Preset.Center ? 2L * (Preset.NFft / 2) : 0);
        long span = Preset.Alignment == FrameAlignment.Torch ? Preset.NFft : Preset.EffectiveWinLength;
        return padded < span ? 0 : checked((int)(1 + (padded - span) / Preset.Hop));
    }

    /// <summary>
    /// Features of one clip, [frames, <see cref="Bins"/>]. <paramref name="sampleRate"/> must be the preset's
    /// (read with <c>AudioFile.Read(path, mix, preset.SampleRate)</c>); <paramref name="source"/> names the clip in errors.
    /// </summary>
    public float[,] Compute(ReadOnlySpan<float> samples, int sampleRate, string? source = null)
    {
        var clip = Prepare(samples, sampleRate, source);
        try { Run([clip]); }
        finally { clip.Return(); }
        return clip.Finish(this);
    }

    /// <summary>Features of a clip read by <see cref="AudioFile.Read"/> (at the preset's rate; errors name its source).</summary>
    public float[,] Compute(AudioClip clip) => Compute(clip.Samples, clip.SampleRate, clip.Source);

    /// <summary>Reads <paramref name="path"/> (channel or mean per <paramref name="mix"/>, resampled to the preset's rate) and computes its features.</summary>
    public float[,] ComputeFile(string path, ChannelMix mix = default) => Compute(AudioFile.Read(path, mix, Preset.SampleRate));

    /// <summary>
    /// The features of clips of one length as a tensor [N, 1, frames, <see cref="Bins"/>] on <paramref name="backend"/>: the
    /// input of a network batch. On an ILGPU device (a frontend built with that backend) the clips go up once and the STFT,
    /// mel and log run there, one launch per stage for the whole batch; the spectrogram never comes back to the host
    /// (a log of the whole clip — ref=max, top_db — or an MFCC is finished on the host and uploaded). Elsewhere it is
    /// <see cref="ComputeBatch"/>'s result, uploaded.
    /// </summary>
    public Tensor ComputeTensor(IReadOnlyList<float[]> clips, int sampleRate, IBackend backend, IReadOnlyList<string>? sources = null)
    {
        if (clips.Count == 0) throw new ArgumentException("frontend: no clips");
        if (clips.Any(c => c.Length != clips[0].Length))
            throw new ArgumentException($"frontend: a batch needs clips of one length, got {string.Join(", ", clips.Select(c => c.Length).Distinct())} samples");
        if (_device is null || DeviceLog() is not SpectrogramLog log)
        {
            var features = ComputeBatch(clips, sampleRate, sources);
            int frames = features[0].GetLength(0), bins = features[0].GetLength(1);
            var data = new float[clips.Count * frames * bins];
            for (int b = 0; b < clips.Count; b++)
                Buffer.BlockCopy(features[b], 0, data, b * frames * bins * sizeof(float), frames * bins * sizeof(float));
            return Tensor.FromSpan(data, [clips.Count, 1, frames, bins], backend);
        }
        var prepared = new Clip[clips.Count];
        try
        {
            for (int i = 0; i < clips.Count; i++) prepared[i] = Prepare(clips[i], sampleRate, sources?[i] ?? $"clip {i}");
            int length = prepared[0].Length, count = prepared[0].Frames;
            var signals = new float[(long)clips.Count * length];
            for (int i = 0; i < clips.Count; i++) prepared[i].Padded.AsSpan(0, length).CopyTo(signals.AsSpan(i * length));
            var x = Tensor.Empty([clips.Count, 1, count, Bins], backend);
            try { _device.Run(signals, clips.Count, prepared[0].FirstStart, count, x.Storage, log); }
            catch { x.Dispose(); throw; }
            return x;
        }
        finally
        {
            foreach (var c in prepared) c?.Return();
        }
    }

    /// <summary>The preset's log as the device computes it, or null when it needs the whole clip (ref=max, top_db) or a DCT follows.</summary>
    SpectrogramLog? DeviceLog()
    {
        var p = Preset;
        if (p.RefMax || p.TopDb is not null || _dct is not null) return null;
        return new SpectrogramLog
        {
            Kind = p.Log switch { LogKind.Decibel => 1, LogKind.NaturalOffset => 2, LogKind.NaturalPositive => 3, _ => 0 },
            Offset = p.LogOffset, Amin = p.Amin, RefDb = p.Log == LogKind.Decibel ? (float)(10 * Math.Log10(Math.Max(p.Ref, p.Amin))) : 0,
            NormOffset = p.NormOffset, NormDivisor = p.NormDivisor,
        };
    }

    /// <summary>Features of many clips at once (all at the preset's rate), spread over the worker threads; result i belongs to clip i.</summary>
    public float[][,] ComputeBatch(IReadOnlyList<float[]> clips, int sampleRate, IReadOnlyList<string>? sources = null)
    {
        if (sources is not null && sources.Count != clips.Count)
            throw new ArgumentException($"frontend: {clips.Count} clips but {sources.Count} source names");
        var result = new float[clips.Count][,];
        if (_device is not null || clips.Count < 2 * Threads)
        {
            for (int i = 0; i < clips.Count; i++) result[i] = Compute(clips[i], sampleRate, sources?[i] ?? $"clip {i}");
            return result;
        }
        // Enough clips to keep every thread busy: one task per clip, so only one padded copy per thread is alive.
        _pool.Run(new ClipJob(this, clips, sampleRate, sources, result), clips.Count);
        return result;
    }

    sealed class ClipJob(AudioFrontend fe, IReadOnlyList<float[]> clips, int sampleRate, IReadOnlyList<string>? sources, float[][,] result) : ParallelJob
    {
        public override void Execute(int task)
        {
            var c = fe.Prepare(clips[task], sampleRate, sources?[task] ?? $"clip {task}");
            try
            {
                fixed (float* signal = c.Padded)
                fixed (float* rows = &c.Rows[0, 0])
                    fe._kernel.Rows(signal, c.FirstStart, fe.Preset.Hop, 0, c.Frames, rows);
            }
            finally { c.Return(); }
            result[task] = c.Finish(fe);
        }
    }

    sealed class Clip(float[] padded, int length, int frames, long firstStart, int bands)
    {
        public readonly float[] Padded = padded;
        public readonly int Length = length;
        public readonly int Frames = frames;
        public readonly long FirstStart = firstStart;
        public readonly float[,] Rows = new float[frames, bands];

        public void Return() => System.Buffers.ArrayPool<float>.Shared.Return(Padded);

        /// <summary>Log, top_db and DCT over the whole clip, after all its frames are in.</summary>
        public float[,] Finish(AudioFrontend fe) => fe.Finish(Rows);
    }

    Clip Prepare(ReadOnlySpan<float> samples, int sampleRate, string? source)
    {
        string name = source ?? "clip";
        var p = Preset;
        if (sampleRate != p.SampleRate)
            throw new ArgumentException($"{name}: sample rate {sampleRate} Hz, but preset '{p.Name}' needs {p.SampleRate} Hz (read it with AudioFile.Read(path, mix, targetRate: {p.SampleRate}))");
        int frames = FrameCount(samples.Length);
        if (frames == 0)
        {
            long span = p.Alignment == FrameAlignment.Torch ? p.NFft : p.EffectiveWinLength;
            throw new InvalidDataException($"{name}: clip of {samples.Length} samples is shorter than one frame ({span} samples{(p.Center ? ", after centring padding" : "")}) for preset '{p.Name}'");
        }
        int pad = p.Center ? p.NFft / 2 : 0;
        int length = p.PreEmphasis != 0 ? samples.Length - 1 : samples.Length;
        if (p.Center && p.PadMode == PadMode.Reflect && length <= pad)
            throw new InvalidDataException($"{name}: clip of {samples.Length} samples is too short for reflect padding by {pad} (n_fft/2) in preset '{p.Name}'");
        // Rented: a 10 s clip's copy is a large-object-heap array, and allocating one per call costs GC time.
        var padded = System.Buffers.ArrayPool<float>.Shared.Rent(samples.Length + 2 * pad);
        CopyFinite(samples, padded.AsSpan(pad), name);
        if (p.PreEmphasis != 0) PreEmphasise(padded.AsSpan(pad, samples.Length), (float)p.PreEmphasis);
        samples = padded.AsSpan(pad, length);
        if (pad > 0 && p.PadMode == PadMode.Constant)
        {
            padded.AsSpan(0, pad).Clear();
            padded.AsSpan(pad + samples.Length, pad).Clear();
        }
        if (pad > 0 && p.PadMode == PadMode.Reflect)
            for (int i = 1; i <= pad; i++)
            {
                padded[pad - i] = samples[i];
                padded[pad + samples.Length - 1 + i] = samples[samples.Length - 1 - i];
            }
        long firstStart = p.Alignment == FrameAlignment.Torch ? (p.NFft - p.EffectiveWinLength) / 2 : 0;
        return new Clip(padded, samples.Length + 2 * pad, frames, firstStart, _kernel.Bands);
    }

    /// <summary>In place: x[n] ← x[n + 1] − c·x[n] for n &lt; length − 1 (torch's conv1d with kernel [−c, 1]; the last sample is dropped by the caller).</summary>
    static void PreEmphasise(Span<float> x, float c)
    {
        for (int n = 0; n < x.Length - 1; n++) x[n] = x[n + 1] - c * x[n];
    }

    /// <summary>Copies samples, rejecting NaN and ±∞ (x − x is 0 only for finite x).</summary>
    static void CopyFinite(ReadOnlySpan<float> source, Span<float> destination, string name)
    {
        source.CopyTo(destination);
        int i = 0;
        bool finite = true;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= source.Length && finite; i += 8)
            {
                var v = Vector256.Create(source.Slice(i, 8));
                finite = Vector256.EqualsAll(v - v, Vector256<float>.Zero);
            }
        for (; i < source.Length && finite; i++) finite = float.IsFinite(source[i]);
        if (!finite)
        {
            int bad = FirstNonFinite(source);
            throw new InvalidDataException($"{name}: sample {bad} is {source[bad]} (NaN or infinite samples are rejected)");
        }
    }

    static int FirstNonFinite(ReadOnlySpan<float> s)
    {
        for (int i = 0; i < s.Length; i++) if (!float.IsFinite(s[i])) return i;
        return 0;
    }

    void Run(Clip[] clips)
    {
        if (_device is not null)
        {
            foreach (var c in clips)
                fixed (float* rows = &c.Rows[0, 0])
                    _device.Run(c.Padded.AsSpan(0, c.Length), c.FirstStart, c.Frames, new Span<float>(rows, c.Rows.Length));
            return;
        }
        var tasks = new List<(Clip Clip, int First, int Count)>();
        foreach (var c in clips)
            for (int f = 0; f < c.Frames; f += ChunkFrames) tasks.Add((c, f, Math.Min(ChunkFrames, c.Frames - f)));
        _pool.Run(new RowsJob(_kernel, Preset.Hop, tasks), tasks.Count);
    }

    sealed class RowsJob(IFrontendKernel kernel, int hop, List<(Clip Clip, int First, int Count)> tasks) : ParallelJob
    {
        public override void Execute(int task)
        {
            var (c, first, count) = tasks[task];
            fixed (float* signal = c.Padded)
            fixed (float* rows = &c.Rows[0, 0])
                kernel.Rows(signal, c.FirstStart, hop, first, count, rows + (long)first * kernel.Bands);
        }
    }

    float[,] Finish(float[,] rows)
    {
        var p = Preset;
        int frames = rows.GetLength(0), bands = rows.GetLength(1);
        fixed (float* r = &rows[0, 0])
        {
            var all = new Span<float>(r, frames * bands);
            switch (p.Log)
            {
                case LogKind.Decibel:
                    if (p.LogOffset != 0) TensorPrimitives.Add(all, (float)p.LogOffset, all);
                    if (p.Amin > 0) TensorPrimitives.Max(all, (float)p.Amin, all);
                    TensorPrimitives.Log10(all, all);
                    TensorPrimitives.Multiply(all, 10f, all);
                    // ref=np.max: 10·log10(max(max x, amin)) is the largest value just computed.
                    double refDb = p.RefMax ? TensorPrimitives.Max(all) : 10 * Math.Log10(Math.Max(p.Ref, p.Amin));
                    if (refDb != 0) TensorPrimitives.Add(all, (float)-refDb, all);
                    if (p.TopDb is { } top) TensorPrimitives.Max(all, TensorPrimitives.Max(all) - (float)top, all);
                    break;
                case LogKind.NaturalOffset:
                    TensorPrimitives.Add(all, (float)p.LogOffset, all);
                    TensorPrimitives.Log(all, all);
                    break;
                case LogKind.NaturalPositive:
                    for (int i = 0; i < all.Length; i++) all[i] = all[i] > 0 ? MathF.Log(all[i]) : 0f;
                    break;
            }
            if (p.NormOffset != 0 || p.NormDivisor != 1)
            {
                TensorPrimitives.Add(all, (float)p.NormOffset, all);
                TensorPrimitives.Divide(all, (float)p.NormDivisor, all);
            }
        }
        if (_dct is null) return rows;
        int coefficients = _dct.GetLength(0);
        var mfcc = new float[frames, coefficients];
        for (int t = 0; t < frames; t++)
            for (int c = 0; c < coefficients; c++)
            {
                double acc = 0;
                for (int b = 0; b < bands; b++) acc += _dct[c, b] * rows[t, b];
                mfcc[t, c] = (float)acc;
            }
        return mfcc;
    }

    public void Dispose()
    {
        _pool.Dispose();
        _device?.Dispose();
    }
}
