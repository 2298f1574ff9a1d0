using static NativeASD.Detection.Synth.SignalBlocks;

namespace NativeASD.Detection.Synth;

/// <summary>The faults the generator can put into a clip; which ones a machine type gets is <see cref="MachineSoundGenerator.AnomaliesOf"/>.</summary>
public enum AnomalyKind { None, Bearing, Imbalance, Rubbing, Clogging, Loose, Timing }

/// <summary>Settings shared by every clip of a synthetic dataset.</summary>
/// <param name="Seed">Base seed: the same seed gives the same files, bit for bit.</param>
/// <param name="SampleRate">Hz (16 kHz like DCASE).</param>
/// <param name="Seconds">Clip length.</param>
/// <param name="Severity">Scales every fault's strength; 1 is the calibrated default (hard but separable).</param>
/// <param name="LoudnessDbfs">Every clip is normalised to this RMS level so that level alone cannot reveal a fault.</param>
public sealed record SynthOptions(long Seed = 0, int SampleRate = 16000, double Seconds = 10, double Severity = 1, double LoudnessDbfs = -26);

/// <summary>
/// One clip to generate: machine type, machine ID, which split and index, and its fault (None for normal).
/// <paramref name="Condition"/> is the operating condition (0 = nominal; 1…4 run the machine at another speed, see
/// <see cref="MachineSoundGenerator.ConditionSpeeds"/>); condition 0 gives the same bytes as before conditions existed.
/// </summary>
/// <paramref name="Domain"/> (source or target) names the clip as DCASE 2023 does, with <see cref="Id"/> as its section;
/// null keeps the DCASE 2020 name.
/// <paramref name="Factory"/> 1 records the clip in another factory hall (<see cref="MachineSoundGenerator"/> adds that hall's
/// machinery to the background, 3 dB louder); 0, the default, gives the same bytes as before halls existed.
public sealed record SynthClip(string MachineType, int Id, string Split, int Index, AnomalyKind Anomaly, int Condition = 0, string? Domain = null,
    int Factory = 0)
{
    public bool IsAnomalous => Anomaly != AnomalyKind.None;

    /// <summary>DCASE 2020 file name, e.g. normal_id_02_00000007.wav; with a domain the DCASE 2023 name, e.g.
    /// section_00_target_train_normal_0003_speed_1.25_hall_1.wav (attributes: the operating condition's speed factor and the factory hall).</summary>
    public string FileName => Domain is null
        ? $"{(IsAnomalous ? "anomaly" : "normal")}_id_{Id:00}_{Index:00000000}.wav"
        : string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"section_{Id:00}_{Domain}_{Split}_{(IsAnomalous ? "anomaly" : "normal")}_{Index:0000}_speed_{MachineSoundGenerator.ConditionSpeeds[Condition]:0.00}_hall_{Factory}.wav");
}

/// <summary>
/// Deterministic generator of machine-like recordings: rotating machines (fan), pumps, sliders and valves. Each machine
/// ID has its own physical parameters (drawn from the seed and the ID); each clip varies speed, load, phases and
/// background; faults are physical mechanisms added to the source before the background is mixed in at the ID's SNR,
/// and every clip is normalised to the same loudness. See "Synthetic machine sounds" in docs/detectors.md.
/// </summary>
public sealed class MachineSoundGenerator(SynthOptions options)
{
    public static readonly IReadOnlyList<string> MachineTypes = ["fan", "pump", "slider", "valve"];

    public SynthOptions Options { get; } = options;

    /// <summary>Speed factor of each operating condition: rotation rates are multiplied, cycle periods divided.</summary>
    public static readonly IReadOnlyList<double> ConditionSpeeds = [1.0, 0.8, 1.25, 0.9, 1.12];

    public static IReadOnlyList<AnomalyKind> AnomaliesOf(string machineType) => machineType switch
    {
        "fan" => [AnomalyKind.Bearing, AnomalyKind.Imbalance, AnomalyKind.Rubbing],
        "pump" => [AnomalyKind.Clogging, AnomalyKind.Bearing, AnomalyKind.Loose],
        "slider" => [AnomalyKind.Rubbing, AnomalyKind.Loose, AnomalyKind.Timing],
        "valve" => [AnomalyKind.Timing, AnomalyKind.Clogging, AnomalyKind.Loose],
        _ => throw new ArgumentException($"synth: unknown machine type '{machineType}' (known: {string.Join(", ", MachineTypes)})"),
    };

    /// <summary>The clip's samples, mono float32 in [-1, 1].</summary>
    public float[] Generate(SynthClip clip)
    {
        if (clip.Condition < 0 || clip.Condition >= ConditionSpeeds.Count)
            throw new ArgumentException($"synth: operating condition must be 0–{ConditionSpeeds.Count - 1}, got {clip.Condition}");
        var profile = SynthRandom.For(Options.Seed, clip.MachineType, clip.Id);
        // Condition 0 keeps the original random path, so nominal clips are bit-identical to earlier versions.
        var rng = clip.Condition == 0
            ? SynthRandom.For(Options.Seed, clip.MachineType, clip.Id, clip.Split, clip.Index, clip.Anomaly)
            : SynthRandom.For(Options.Seed, clip.MachineType, clip.Id, clip.Split, clip.Index, clip.Anomaly, "condition", clip.Condition);
        double speed = ConditionSpeeds[clip.Condition];
        int rate = Options.SampleRate, n = (int)Math.Round(Options.Seconds * rate);
        if (n <= 0) throw new ArgumentException($"synth: clip length {Options.Seconds} s gives no samples");
        // Per-clip fault strength: the default severity with ±50 % spread, so some faults are subtle.
        double strength = Options.Severity * rng.Uniform(0.5, 1.5);
        var fault = new Fault(clip.Anomaly, strength);

        double[] source = clip.MachineType switch
        {
            "fan" => Fan(profile, rng, fault, n, rate, speed),
            "pump" => Pump(profile, rng, fault, n, rate, speed),
            "slider" => Slider(profile, rng, fault, n, rate, speed),
            "valve" => Valve(profile, rng, fault, n, rate, speed),
            _ => throw new ArgumentException($"synth: unknown machine type '{clip.MachineType}'"),
        };
        if (fault.Is(AnomalyKind.Loose)) AddRattles(source, rng, strength, rate);

        // Background at the ID's signal-to-noise ratio (MIMII used 6, 0 and −6 dB), varied ±2 dB per clip.
        double snrDb = new[] { 6.0, 0.0, -6.0 }[profile.Int(0, 3)] + rng.Uniform(-2, 2);
        ScaleToRms(source, 1);
        var background = Background(rng, n, rate);
        if (clip.Factory != 0)
        {
            // Another hall: its own machinery (a motor's hum and harmonics, a low rumble) joins the background, 3 dB louder.
            AddHall(background, SynthRandom.For(Options.Seed, clip.MachineType, clip.Id, clip.Split, clip.Index, clip.Anomaly, "hall", clip.Factory), rate);
            snrDb -= 3;
        }
        ScaleToRms(background, Math.Pow(10, -snrDb / 20));
        for (int i = 0; i < n; i++) source[i] += background[i];

        ScaleToRms(source, Math.Pow(10, Options.LoudnessDbfs / 20));
        var output = new float[n];
        for (int i = 0; i < n; i++)
        {
            // Rare impulse peaks pass a soft knee instead of clipping hard.
            double v = source[i];
            output[i] = (float)(Math.Abs(v) < 0.9 ? v : Math.Sign(v) * (0.9 + 0.1 * Math.Tanh((Math.Abs(v) - 0.9) / 0.1)));
        }
        return output;
    }

    readonly record struct Fault(AnomalyKind Kind, double Strength)
    {
        public bool Is(AnomalyKind kind) => Kind == kind;
    }

    // ---- machines ---------------------------------------------------------------------------------------------

    /// <summary>
    /// Fan: shaft rotation f_r with slow speed drift, blade-pass tone B·f_r and harmonics, blade-modulated aerodynamic
    /// noise in an ID-specific band, load modulation. Faults: imbalance (1× component and AM side-bands at f_r), bearing
    /// (outer-race impulses at a non-integer multiple of f_r ringing a high structural mode), rubbing (blade tip touching
    /// once per revolution: short broadband bursts).
    /// </summary>
    static double[] Fan(SynthRandom profile, SynthRandom rng, Fault fault, int n, int rate, double conditionSpeed)
    {
        double fr = profile.LogUniform(12, 40) * conditionSpeed, blades = profile.Int(3, 10);
        double[] harmonic = [.. Enumerable.Range(1, 6).Select(h => Math.Pow(h, -profile.Uniform(0.8, 1.5)))];
        double shaft = profile.Uniform(0.05, 0.2), noiseCentre = profile.LogUniform(300, 2000), noiseQ = profile.Uniform(0.5, 1.5);
        double noiseLevel = profile.Uniform(0.5, 1.5), loadHz = profile.Uniform(0.1, 0.5), loadDepth = profile.Uniform(0.03, 0.1);

        var frequency = SlowWander(n, rate, profile.Uniform(0.005, 0.02), 0.2, rng);
        double speed = 1 + 0.01 * rng.Normal();
        for (int i = 0; i < n; i++) frequency[i] *= fr * speed;
        var phi = IntegratePhase(frequency, rate, rng.Uniform(0, 2 * Math.PI));
        double shaftGain = shaft * (fault.Is(AnomalyKind.Imbalance) ? 1 + 2.5 * fault.Strength : 1);
        double imbalanceAm = fault.Is(AnomalyKind.Imbalance) ? 0.12 * fault.Strength : 0;

        var aero = Pink(n, rng);
        BandPass(aero, noiseCentre, noiseQ, rate);
        ScaleToRms(aero, noiseLevel);
        double[] offsets = [.. harmonic.Select(_ => rng.Uniform(0, 2 * Math.PI))];
        double loadPhase = rng.Uniform(0, 2 * Math.PI);
        var x = new double[n];
        for (int i = 0; i < n; i++)
        {
            double tones = shaftGain * Math.Sin(phi[i]);
            for (int h = 0; h < harmonic.Length; h++) tones += harmonic[h] * Math.Sin((h + 1) * blades * phi[i] + offsets[h]);
            double load = 1 + loadDepth * Math.Sin(2 * Math.PI * loadHz * i / rate + loadPhase);
            double am = 1 + imbalanceAm * Math.Sin(phi[i]);
            x[i] = load * am * (0.5 * tones + aero[i] * (1 + 0.3 * Math.Sin(blades * phi[i])));
        }
        if (fault.Is(AnomalyKind.Bearing)) AddBearingImpulses(x, phi, rng, fault.Strength, rate);
        if (fault.Is(AnomalyKind.Rubbing)) AddRubbing(x, phi, rng, fault.Strength, rate);
        return x;
    }

    /// <summary>
    /// Pump: motor at f_r, vane-pass pulsation V·f_r, turbulent flow noise modulated by the vanes, low pressure
    /// pulsation. Faults: clogging (the flow band drops and narrows, pulsation grows, cavitation crackle appears),
    /// bearing impulses, loose parts (rattles, added by the caller).
    /// </summary>
    static double[] Pump(SynthRandom profile, SynthRandom rng, Fault fault, int n, int rate, double conditionSpeed)
    {
        double fr = profile.LogUniform(20, 50) * conditionSpeed, vanes = profile.Int(5, 9);
        double flowCentre = profile.LogUniform(500, 3000), flowQ = profile.Uniform(0.4, 1.2), vaneLevel = profile.Uniform(0.3, 1.0);
        double motorLevel = profile.Uniform(0.2, 0.6), pulsationHz = profile.Uniform(0.5, 2);
        bool clogged = fault.Is(AnomalyKind.Clogging);
        if (clogged)
        {
            flowCentre *= 1 - 0.25 * Math.Min(1.5, fault.Strength);
            flowQ *= 1 + 0.8 * fault.Strength;
            vaneLevel *= 1 + 0.8 * fault.Strength;
        }

        var frequency = SlowWander(n, rate, profile.Uniform(0.003, 0.01), 0.3, rng);
        double speed = 1 + 0.01 * rng.Normal();
        for (int i = 0; i < n; i++) frequency[i] *= fr * speed;
        var phi = IntegratePhase(frequency, rate, rng.Uniform(0, 2 * Math.PI));
        var flow = Pink(n, rng);
        BandPass(flow, flowCentre, flowQ, rate);
        ScaleToRms(flow, 1);
        double pulsePhase = rng.Uniform(0, 2 * Math.PI);
        var x = new double[n];
        for (int i = 0; i < n; i++)
        {
            double motor = motorLevel * (Math.Sin(phi[i]) + 0.5 * Math.Sin(2 * phi[i]) + 0.25 * Math.Sin(3 * phi[i]));
            double vane = vaneLevel * (Math.Sin(vanes * phi[i]) + 0.4 * Math.Sin(2 * vanes * phi[i]));
            double pulsation = 1 + 0.1 * Math.Sin(2 * Math.PI * pulsationHz * i / rate + pulsePhase);
            x[i] = motor + vane + flow[i] * pulsation * (1 + 0.25 * Math.Sin(vanes * phi[i]));
        }
        if (clogged)
        {
            // Cavitation: collapsing bubbles give short random high-frequency ticks.
            int events = (int)(rng.Uniform(4, 10) * fault.Strength * n / rate);
            for (int e = 0; e < events; e++)
                AddNoiseBurst(x, rng.Int(0, n), (int)(0.002 * rate), 1.5 * fault.Strength, rng.Uniform(3000, 6000), 1.5, rate, rng);
        }
        if (fault.Is(AnomalyKind.Bearing)) AddBearingImpulses(x, phi, rng, fault.Strength, rate);
        return x;
    }

    /// <summary>
    /// Slider: a linear axis stroking back and forth: motion noise and servo whine that follow the velocity profile, an
    /// end-stop click per stroke. Faults: rubbing (stick-slip squeal during strokes), loose parts, timing (stroke durations
    /// jitter and the axis hesitates).
    /// </summary>
    static double[] Slider(SynthRandom profile, SynthRandom rng, Fault fault, int n, int rate, double conditionSpeed)
    {
        double period = profile.Uniform(0.6, 2.0) / conditionSpeed, duty = profile.Uniform(0.6, 0.85);
        double noiseCentre = profile.LogUniform(800, 4000), whine = profile.LogUniform(200, 1500), clickHz = profile.LogUniform(1000, 4000);
        double clickLevel = profile.Uniform(2, 6), whineLevel = profile.Uniform(0.2, 0.8);
        var motion = White(n, rng);
        BandPass(motion, noiseCentre, 0.8, rate);
        ScaleToRms(motion, 1);
        var velocity = new double[n];
        var x = new double[n];
        double t = -rng.Uniform(0, period);
        while (t < (double)n / rate)
        {
            double thisPeriod = period * (1 + 0.01 * rng.Normal());
            if (fault.Is(AnomalyKind.Timing)) thisPeriod *= 1 + 0.18 * fault.Strength * rng.Normal();
            double strokeLength = thisPeriod * duty;
            int start = (int)(t * rate), length = (int)(strokeLength * rate);
            bool hesitate = fault.Is(AnomalyKind.Timing) && rng.Uniform() < 0.3 * fault.Strength;
            for (int i = 0; i < length; i++)
            {
                int at = start + i;
                if (at < 0 || at >= n) continue;
                double s = (double)i / length;
                double v = Math.Sin(Math.PI * s);
                if (hesitate && s > 0.4 && s < 0.55) v *= 0.2;
                velocity[at] = v * v;
            }
            int end = start + length;
            if (end >= 0 && end < n) AddRing(x, end, clickLevel * rng.Uniform(0.8, 1.2), clickHz * rng.Uniform(0.97, 1.03), 0.01, rate);
            if (fault.Is(AnomalyKind.Rubbing) && start + length > 0)
            {
                int squealStart = start + (int)(length * rng.Uniform(0.2, 0.6));
                AddSqueal(x, squealStart, (int)(rng.Uniform(0.05, 0.2) * rate), 0.5 * fault.Strength, rng.Uniform(1500, 5000), rate, rng);
            }
            t += thisPeriod;
        }
        var whinePhase = new double[n];
        double p = 0;
        for (int i = 0; i < n; i++)
        {
            whinePhase[i] = p;
            p += 2 * Math.PI * whine * (0.5 + velocity[i]) / rate;
            x[i] += velocity[i] * (motion[i] + whineLevel * Math.Sin(whinePhase[i]));
        }
        return x;
    }

    /// <summary>
    /// Solenoid valve: cyclic open/close events (each a struck pair of modes) with flow hiss while open and mains hum of
    /// the coil. Faults: timing (events jitter, are missed or doubled), clogging (hiss band drops and sputters), loose parts.
    /// </summary>
    static double[] Valve(SynthRandom profile, SynthRandom rng, Fault fault, int n, int rate, double conditionSpeed)
    {
        double period = profile.Uniform(0.5, 2.0) / conditionSpeed, openFor = profile.Uniform(0.2, 0.6) * period;
        double modeA = profile.LogUniform(1000, 6000), modeB = profile.LogUniform(500, 3000), hissCentre = profile.LogUniform(1000, 5000);
        double hissLevel = profile.Uniform(0.05, 0.3), mains = profile.Pick<double>([50, 60]);
        bool clogged = fault.Is(AnomalyKind.Clogging);
        if (clogged) { hissCentre *= 1 - 0.3 * Math.Min(1.5, fault.Strength); hissLevel *= 0.6; }
        var hiss = White(n, rng);
        BandPass(hiss, hissCentre, clogged ? 2 : 0.7, rate);
        ScaleToRms(hiss, 1);
        var open = new double[n];
        var x = new double[n];
        double t = -rng.Uniform(0, period);
        while (t < (double)n / rate)
        {
            double onset = t, close = t + openFor * (1 + 0.01 * rng.Normal());
            bool skip = false, twice = false;
            if (fault.Is(AnomalyKind.Timing))
            {
                onset += 0.08 * period * fault.Strength * rng.Normal();
                close += 0.08 * period * fault.Strength * rng.Normal();
                skip = rng.Uniform() < 0.15 * fault.Strength;
                twice = !skip && rng.Uniform() < 0.15 * fault.Strength;
            }
            if (!skip)
            {
                foreach (double at in twice ? new[] { onset, onset + 0.06, close } : new[] { onset, close })
                {
                    int i0 = (int)(at * rate);
                    AddRing(x, i0, 3 * rng.Uniform(0.8, 1.2), modeA, 0.008, rate);
                    AddRing(x, i0, 2 * rng.Uniform(0.8, 1.2), modeB, 0.015, rate);
                }
                for (int i = Math.Max(0, (int)(onset * rate)); i < Math.Min(n, (int)(close * rate)); i++) open[i] = 1;
            }
            t += period * (1 + 0.01 * rng.Normal());
        }
        double sputter = clogged ? 0.6 : 0;
        var sputterEnv = SlowWander(n, rate, 0.5, 15, rng);
        for (int i = 0; i < n; i++)
        {
            double flow = hissLevel * open[i] * (1 + sputter * (sputterEnv[i] - 1));
            x[i] += flow * hiss[i] + 0.05 * Math.Sin(2 * Math.PI * 2 * mains * i / rate);
        }
        return x;
    }

    // ---- faults shared by several machines ----------------------------------------------------------------------

    /// <summary>Outer-race defect: an impulse each time a ball passes it, at a non-integer multiple (≈3–5.4) of the shaft rate.</summary>
    static void AddBearingImpulses(double[] x, double[] shaftPhase, SynthRandom rng, double strength, int rate)
    {
        double multiple = rng.Uniform(3.05, 5.4), mode = rng.Uniform(2000, 6000), next = rng.Uniform(0, 2 * Math.PI);
        for (int i = 0; i < x.Length; i++)
        {
            if (shaftPhase[i] * multiple < next) continue;
            AddRing(x, i, 0.6 * strength * rng.Uniform(0.5, 1.5), mode, 0.002, rate);
            next += 2 * Math.PI;
        }
    }

    /// <summary>Tip rub: once per revolution with some probability, a 5–20 ms broadband burst.</summary>
    static void AddRubbing(double[] x, double[] shaftPhase, SynthRandom rng, double strength, int rate)
    {
        double next = 2 * Math.PI * rng.Uniform();
        for (int i = 0; i < x.Length; i++)
        {
            if (shaftPhase[i] < next) continue;
            next += 2 * Math.PI;
            if (rng.Uniform() < 0.35)
                AddNoiseBurst(x, i, (int)(rng.Uniform(0.005, 0.02) * rate), 0.8 * strength, rng.Uniform(2500, 6000), 1.0, rate, rng);
        }
    }

    /// <summary>Stick-slip squeal: a tone with fast vibrato plus friction noise.</summary>
    static void AddSqueal(double[] x, int start, int length, double amplitude, double frequency, int rate, SynthRandom rng)
    {
        double phase = 0, vibrato = rng.Uniform(5, 12);
        for (int i = 0; i < length; i++)
        {
            int at = start + i;
            if (at < 0 || at >= x.Length) continue;
            double env = Math.Sin(Math.PI * i / length);
            phase += 2 * Math.PI * frequency * (1 + 0.02 * Math.Sin(2 * Math.PI * vibrato * i / rate)) / rate;
            x[at] += amplitude * env * Math.Sin(phase);
        }
        AddNoiseBurst(x, start, length, amplitude * 0.5, frequency * 1.5, 2, rate, rng);
    }

    /// <summary>Loose part: clusters of 2–5 light impacts ringing a random thin-metal mode.</summary>
    static void AddRattles(double[] x, SynthRandom rng, double strength, int rate)
    {
        int clusters = (int)(rng.Uniform(3, 8) * x.Length / rate / 2);
        for (int c = 0; c < clusters; c++)
        {
            int at = rng.Int(0, x.Length);
            double mode = rng.Uniform(1500, 5000);
            for (int k = rng.Int(2, 6); k > 0; k--)
            {
                AddRing(x, at, 1.0 * strength * rng.Uniform(0.5, 1.2), mode * rng.Uniform(0.95, 1.05), 0.004, rate);
                at += (int)(rng.Uniform(0.01, 0.04) * rate);
                if (at >= x.Length) break;
            }
        }
    }

    /// <summary>Another factory hall's machinery added to a background: a motor hum at 100–140 Hz with five harmonics and
    /// a slowly wandering level, and band-limited rumble around 150–400 Hz, together as loud as the background itself.</summary>
    static void AddHall(double[] background, SynthRandom rng, int rate)
    {
        int n = background.Length;
        double hum = rng.Uniform(100, 140), rumbleHz = rng.Uniform(150, 400);
        var level = SlowWander(n, rate, 0.3, 0.3, rng);
        var rumble = Pink(n, rng);
        BandPass(rumble, rumbleHz, 0.7, rate);
        ScaleToRms(rumble, 1);
        var hall = new double[n];
        for (int i = 0; i < n; i++)
        {
            double tones = 0;
            for (int h = 1; h <= 5; h++) tones += Math.Sin(2 * Math.PI * h * hum * i / rate) / h;
            hall[i] = level[i] * (tones + rumble[i]);
        }
        double rms = Math.Sqrt(background.Average(v => v * v));
        ScaleToRms(hall, rms);
        for (int i = 0; i < n; i++) background[i] += hall[i];
    }

    /// <summary>Factory background: pink noise, distant machinery hum with wandering level, occasional far-off impacts.</summary>
    static double[] Background(SynthRandom rng, int n, int rate)
    {
        var x = Pink(n, rng);
        ScaleToRms(x, 1);
        double humHz = rng.Uniform(80, 400), humLevel = rng.Uniform(0.05, 0.3);
        var humEnv = SlowWander(n, rate, 0.2, 0.5, rng);
        for (int i = 0; i < n; i++) x[i] += humLevel * humEnv[i] * Math.Sin(2 * Math.PI * humHz * i / rate);
        int impacts = rng.Int(0, 4);
        for (int k = 0; k < impacts; k++) AddRing(x, rng.Int(0, n), rng.Uniform(0.5, 2), rng.Uniform(200, 1500), 0.03, rate);
        return x;
    }
}
