namespace NativeASD.Engine.Frontend;

/// <summary>Analysis window shape.</summary>
public enum WindowKind { Hann, Hamming }

/// <summary>How <c>center</c> pads the clip by n_fft/2 on both sides.</summary>
public enum PadMode { Reflect, Constant }

/// <summary>
/// Where a frame's window sits. <see cref="Torch"/>: a frame spans n_fft samples and a shorter window is centred in it
/// (torch.stft, librosa). <see cref="TensorFlow"/>: a frame spans the window and is zero-padded at the end to n_fft
/// (tf.signal.stft, YAMNet). The two give the same spectra for each window position; they differ in how many frames
/// fit and where they start when win_length &lt; n_fft.
/// </summary>
public enum FrameAlignment { Torch, TensorFlow }

/// <summary>Spectrum kept per bin: |X| or |X|².</summary>
public enum SpectrumKind { Magnitude, Power }

/// <summary>Mel scale: Slaney (librosa default: linear below 1 kHz, log above) or HTK (2595·log10(1 + f/700)).</summary>
public enum MelScale { Slaney, Htk }

/// <summary>Band normalisation: Slaney (each triangle scaled to unit area, 2/(f_hi − f_lo)) or none (peak 1).</summary>
public enum MelNorm { None, Slaney }

/// <summary>
/// Triangle construction. <see cref="Librosa"/>: triangles linear in Hz between mel-spaced edges (librosa,
/// torchaudio melscale_fbanks). <see cref="TensorFlow"/>: triangles linear in mel, DC bin zeroed
/// (tf.signal.linear_to_mel_weight_matrix, which YAMNet uses; HTK scale 1127·ln(1 + f/700)). <see cref="Kaldi"/>: the
/// same triangles in 1127·ln(1 + f/700) over bins k·sr/n_fft for k &lt; n_fft/2, with a zero column for the Nyquist bin
/// (torchaudio.compliance.kaldi.get_mel_banks padded by one column, as EfficientAT does).
/// </summary>
public enum MelShape { Librosa, TensorFlow, Kaldi }

/// <summary>The log applied to the mel spectrum.</summary>
public enum LogKind
{
    /// <summary>No log: the mel spectrum itself.</summary>
    None,
    /// <summary>librosa power_to_db: 10·log10(max(x + offset, amin)) − 10·log10(max(ref, amin)), then optional top_db clamp.</summary>
    Decibel,
    /// <summary>ln(x + offset) (YAMNet: offset 0.001).</summary>
    NaturalOffset,
    /// <summary>ln(x) where x &gt; 0, else 0 (honk: <c>data[data &gt; 0] = log(data[data &gt; 0])</c>).</summary>
    NaturalPositive,
}

/// <summary>A patch's length and the step between patches, in samples at the preset's rate.</summary>
public readonly record struct PatchSpan(int Samples, int HopSamples);

/// <summary>
/// Every parameter of a frontend: STFT, mel filterbank, log, optional DCT, and how a model groups frames.
/// Named presets reproduce the frontends pretrained models and baselines expect (<see cref="Get"/>, <see cref="All"/>).
/// </summary>
public sealed record FrontendPreset
{
    public required string Name { get; init; }
    public required string Description { get; init; }
    public required int SampleRate { get; init; }
    /// <summary>Pre-emphasis y[n] = x[n + 1] − c·x[n] before the STFT (a valid convolution: one sample shorter); 0 for none.</summary>
    public double PreEmphasis { get; init; }
    public required int NFft { get; init; }
    /// <summary>Window length (≤ n_fft); 0 means n_fft.</summary>
    public int WinLength { get; init; }
    public required int Hop { get; init; }
    public WindowKind Window { get; init; } = WindowKind.Hann;
    /// <summary>Periodic (DFT-even, torch/scipy default) rather than symmetric window.</summary>
    public bool PeriodicWindow { get; init; } = true;
    public bool Center { get; init; } = true;
    public PadMode PadMode { get; init; } = PadMode.Reflect;
    public FrameAlignment Alignment { get; init; } = FrameAlignment.Torch;
    public SpectrumKind Spectrum { get; init; } = SpectrumKind.Power;
    /// <summary>Mel bands; 0 keeps the linear spectrum (n_fft/2 + 1 bins).</summary>
    public int MelBins { get; init; }
    public double FMin { get; init; }
    /// <summary>Upper mel edge in Hz; 0 means Nyquist.</summary>
    public double FMax { get; init; }
    public MelScale MelScale { get; init; } = MelScale.Slaney;
    public MelNorm MelNorm { get; init; } = MelNorm.Slaney;
    public MelShape MelShape { get; init; } = MelShape.Librosa;
    public LogKind Log { get; init; } = LogKind.Decibel;
    public double LogOffset { get; init; }
    public double Amin { get; init; } = 1e-10;
    public double Ref { get; init; } = 1.0;
    /// <summary>Decibels relative to the clip's largest value instead of <see cref="Ref"/> (librosa power_to_db with ref=np.max).</summary>
    public bool RefMax { get; init; }
    /// <summary>Clamp to (max − top_db) over the clip; null for none.</summary>
    public double? TopDb { get; init; }
    /// <summary>A fixed normalisation after the log: (x + <see cref="NormOffset"/>) / <see cref="NormDivisor"/>.</summary>
    public double NormOffset { get; init; }
    public double NormDivisor { get; init; } = 1;
    /// <summary>DCT-II (ortho) coefficients kept after the log; 0 for no DCT.</summary>
    public int Mfcc { get; init; }
    /// <summary>Consecutive frames a model concatenates into one vector (<see cref="FrameStacking.Stack"/>); 1 for none.</summary>
    public int StackFrames { get; init; } = 1;
    /// <summary>Frames per patch a model takes (<see cref="FrameStacking.Patches"/>); 0 for whole clips.</summary>
    public int PatchFrames { get; init; }
    public int PatchHop { get; init; }

    /// <summary>
    /// Where patches lie in samples when each patch's frames depend on that patch's own samples only (no centring
    /// padding, no pre-emphasis, no level relative to the clip): patch j of a clip covers
    /// [j·<see cref="PatchSpan.HopSamples"/>, j·HopSamples + <see cref="PatchSpan.Samples"/>). Null for presets without
    /// patches or whose patches depend on the rest of the clip (st-aed: dB relative to the clip's maximum).
    /// </summary>
    public PatchSpan? SelfContainedPatches
    {
        get
        {
            if (PatchFrames == 0 || Center || PreEmphasis != 0 || RefMax || TopDb is not null) return null;
            int frameSpan = Alignment == FrameAlignment.Torch ? NFft : EffectiveWinLength;
            return new PatchSpan((PatchFrames - 1) * Hop + frameSpan, PatchHop * Hop);
        }
    }

    public int EffectiveWinLength => WinLength == 0 ? NFft : WinLength;
    public double EffectiveFMax => FMax == 0 ? SampleRate / 2.0 : FMax;
    /// <summary>Values per output frame: MFCCs, mel bands, or linear bins.</summary>
    public int Bins => Mfcc > 0 ? Mfcc : MelBins > 0 ? MelBins : NFft / 2 + 1;

    /// <summary>PANNs (Kong et al. 2020; torchlibrosa): 32 kHz, 1024/320, 64 Slaney mel 50–14000 Hz, power, 10·log10 (amin 1e-10).</summary>
    public static readonly FrontendPreset Panns = new()
    {
        Name = "panns", Description = "PANNs CNN14/ResNet38 input (torchlibrosa): 32 kHz log-mel",
        SampleRate = 32000, NFft = 1024, Hop = 320, MelBins = 64, FMin = 50, FMax = 14000,
        Log = LogKind.Decibel, Amin = 1e-10, Ref = 1.0,
    };

    /// <summary>PANNs' 16 kHz variant (Cnn14_16k; NativeASD's shipped ResNet): 512/160, 64 Slaney mel 50–8000 Hz, power, 10·log10.</summary>
    public static readonly FrontendPreset Panns16k = Panns with
    {
        Name = "panns16k", Description = "PANNs 16 kHz input (Cnn14_16k layout; the shipped NativeASD ResNet): 16 kHz log-mel",
        SampleRate = 16000, NFft = 512, Hop = 160, FMax = 8000,
    };

    /// <summary>DCASE 2020 Task 2 baseline (common.py file_to_vector_array): 128 mel, 10·log10(x + float eps), 5-frame vectors.</summary>
    public static readonly FrontendPreset Dcase2020 = new()
    {
        Name = "dcase2020", Description = "DCASE 2020 Task 2 autoencoder baseline: 128-mel log energy, 5-frame (640-d) vectors",
        SampleRate = 16000, NFft = 1024, Hop = 512, MelBins = 128,
        Log = LogKind.Decibel, LogOffset = DoubleEpsilon, Amin = 0, Ref = 1.0,
        StackFrames = 5,
    };

    /// <summary>The VAE baseline of the method's paper (tam17aki fork): as dcase2020 with 60 mel, 11-frame (660-d) vectors.</summary>
    public static readonly FrontendPreset Vae60 = Dcase2020 with
    {
        Name = "vae60", Description = "VAE baseline (tam17aki fork of the DCASE 2020 baseline): 60-mel log energy, 11-frame (660-d) vectors",
        MelBins = 60, StackFrames = 11,
    };

    /// <summary>YAMNet (tf features.py): 400-sample periodic Hann in a 512 FFT, hop 160, no centring, magnitude, 64 HTK mel 125–7500 Hz, ln(x + 0.001), 96-frame patches hop 48.</summary>
    public static readonly FrontendPreset Yamnet = new()
    {
        Name = "yamnet", Description = "YAMNet input (TensorFlow frontend): ln(mel + 0.001), 96-frame patches, hop 48",
        SampleRate = 16000, NFft = 512, WinLength = 400, Hop = 160, Center = false, Alignment = FrameAlignment.TensorFlow,
        Spectrum = SpectrumKind.Magnitude, MelBins = 64, FMin = 125, FMax = 7500,
        MelScale = MelScale.Htk, MelNorm = MelNorm.None, MelShape = MelShape.TensorFlow,
        Log = LogKind.NaturalOffset, LogOffset = 0.001, PatchFrames = 96, PatchHop = 48,
    };

    /// <summary>honk keyword spotting (manage_audio.py compute_mfccs): librosa power mel 40 bands 20–4000 Hz, n_fft 480, hop 160, ln of positives, DCT-II ortho → 40 MFCC.</summary>
    public static readonly FrontendPreset Honk = new()
    {
        Name = "honk", Description = "honk res8 input (librosa): 40 MFCC from 40 Slaney mel 20–4000 Hz, n_fft 480",
        SampleRate = 16000, NFft = 480, Hop = 160, MelBins = 40, FMin = 20, FMax = 4000,
        Log = LogKind.NaturalPositive, Mfcc = 40,
    };

    /// <summary>
    /// ST model zoo audio event detection (MiniResNet, MiniResNetV2; audio_event_detection feature_extraction.py get_patches
    /// with the pretrained models' config): librosa melspectrogram 1024/320, centred with zero padding, power, 64 Slaney
    /// mel 20–7500 Hz with Slaney norm, power_to_db(ref=np.max) with librosa's default top_db 80 over the whole clip,
    /// 50-frame patches overlapping by floor(50·0.25) = 12 frames (hop 38), the last partial patch dropped.
    /// </summary>
    public static readonly FrontendPreset StAed = new()
    {
        Name = "st-aed", Description = "ST model zoo AED input (MiniResNet, librosa): 64-mel dB re clip max, 50-frame patches, hop 38",
        SampleRate = 16000, NFft = 1024, Hop = 320, PadMode = PadMode.Constant, MelBins = 64, FMin = 20, FMax = 7500,
        Log = LogKind.Decibel, Amin = 1e-10, RefMax = true, TopDb = 80, PatchFrames = 50, PatchHop = 38,
    };

    /// <summary>
    /// EfficientAT (fschmid56/EfficientAT models/preprocess.py AugmentMelSTFT, evaluation mode): 32 kHz, pre-emphasis
    /// 0.97, n_fft 1024 with an 800-sample symmetric Hann, hop 320, centred (reflect), power, 128 Kaldi mel bands
    /// 0–15000 Hz with the padded Nyquist column, ln(x + 1e-5), then (x + 4.5) / 5.
    /// </summary>
    public static readonly FrontendPreset EfficientAt = new()
    {
        Name = "efficientat", Description = "EfficientAT MobileNetV3 input (AugmentMelSTFT, eval): 32 kHz 128 Kaldi mel, (ln(x + 1e-5) + 4.5) / 5",
        SampleRate = 32000, PreEmphasis = 0.97, NFft = 1024, WinLength = 800, PeriodicWindow = false, Hop = 320,
        MelBins = 128, FMin = 0, FMax = 15000, MelScale = MelScale.Htk, MelNorm = MelNorm.None, MelShape = MelShape.Kaldi,
        Log = LogKind.NaturalOffset, LogOffset = 1e-5, NormOffset = 4.5, NormDivisor = 5,
    };

    /// <summary>Python's sys.float_info.epsilon (2^-52), the offset the DCASE baseline adds before log10.</summary>
    public const double DoubleEpsilon = 2.220446049250313e-16;

    public static IReadOnlyList<FrontendPreset> All { get; } = [Panns, Panns16k, Dcase2020, Vae60, Yamnet, Honk, StAed, EfficientAt];

    public static FrontendPreset Get(string name) =>
        All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"frontend: unknown preset '{name}' (known: {string.Join(", ", All.Select(p => p.Name))})", nameof(name));

    /// <summary>Checks the parameters fit together; throws naming the preset and the bad value.</summary>
    public void Validate()
    {
        void Fail(string what) => throw new ArgumentException($"frontend preset '{Name}': {what}");
        if (SampleRate <= 0) Fail($"sample rate must be positive, got {SampleRate}");
        if (NFft < 2 || NFft > 1 << 20 || NFft % 2 != 0) Fail($"n_fft must be even and in [2, 2^20], got {NFft}");
        if (EffectiveWinLength < 1 || EffectiveWinLength > NFft) Fail($"win_length must be in [1, n_fft={NFft}], got {WinLength}");
        if (Hop < 1) Fail($"hop must be positive, got {Hop}");
        if (MelBins < 0 || Mfcc < 0 || StackFrames < 1 || PatchFrames < 0) Fail("band, MFCC, stack and patch counts must not be negative");
        if (MelBins > 0 && !(FMin >= 0 && FMin < EffectiveFMax && EffectiveFMax <= SampleRate / 2.0 + 1e-9))
            Fail($"need 0 <= fmin < fmax <= sample_rate/2, got fmin {FMin}, fmax {EffectiveFMax}");
        if (Mfcc > (MelBins > 0 ? MelBins : NFft / 2 + 1)) Fail($"{Mfcc} MFCCs need at least as many bands");
        if (Mfcc > 0 && Log == LogKind.None) Fail("MFCCs need a log");
        if (PatchFrames > 0 && PatchHop < 1) Fail("patch hop must be positive");
        if (!(PreEmphasis >= 0 && PreEmphasis <= 1)) Fail($"pre-emphasis must be in [0, 1], got {PreEmphasis}");
        if (!(NormDivisor != 0 && double.IsFinite(NormDivisor) && double.IsFinite(NormOffset))) Fail($"normalisation needs a finite offset and a non-zero divisor, got {NormOffset}, {NormDivisor}");
        if (Log == LogKind.Decibel && (Amin < 0 || Ref <= 0 || TopDb < 0)) Fail($"decibels need amin >= 0, ref > 0 and top_db >= 0, got {Amin}, {Ref}, {TopDb}");
    }

    /// <summary>One line per parameter group, for <c>nasd features --list</c>.</summary>
    public string Summary()
    {
        var ic = System.Globalization.CultureInfo.InvariantCulture;
        string win = EffectiveWinLength == NFft ? "" : $" win {EffectiveWinLength}";
        string mel = MelBins == 0 ? "linear bins"
            : string.Create(ic, $"{MelBins} {MelScale.ToString().ToLowerInvariant()} mel {FMin:0.##}-{EffectiveFMax:0.##} Hz{(MelNorm == MelNorm.Slaney ? " slaney-norm" : "")}{(MelShape == MelShape.TensorFlow ? " (tf)" : MelShape == MelShape.Kaldi ? " (kaldi)" : "")}");
        string log = Log switch
        {
            LogKind.Decibel => string.Create(ic, $"10*log10(max(x{(LogOffset != 0 ? $"+{LogOffset:G3}" : "")}, {Amin:G3})){(RefMax ? " re clip max" : "")}{(TopDb is { } t ? $" top_db {t}" : "")}"),
            LogKind.NaturalOffset => string.Create(ic, $"ln(x+{LogOffset:G3})"),
            LogKind.NaturalPositive => "ln(x) for x>0",
            _ => "no log",
        };
        string norm = NormOffset != 0 || NormDivisor != 1 ? string.Create(ic, $", (x+{NormOffset:G3})/{NormDivisor:G3}") : "";
        string emphasis = PreEmphasis != 0 ? string.Create(ic, $"pre-emphasis {PreEmphasis:G3}, ") : "";
        string extra = norm + (Mfcc > 0 ? $", DCT-II -> {Mfcc} MFCC" : "") + (StackFrames > 1 ? $", stack {StackFrames}" : "") + (PatchFrames > 0 ? $", patches {PatchFrames}/{PatchHop}" : "");
        return string.Create(ic, $"{SampleRate} Hz, {emphasis}n_fft {NFft}{win} hop {Hop}, {(PeriodicWindow ? "periodic" : "symmetric")} {Window.ToString().ToLowerInvariant()}, {(Center ? $"centred ({PadMode.ToString().ToLowerInvariant()})" : "no centring")}, {Spectrum.ToString().ToLowerInvariant()}, {mel}, {log}{extra}");
    }
}
