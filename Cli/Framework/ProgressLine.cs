using NativeASD.Detection.Detectors;

namespace NativeASD.Cli;

/// <summary>
/// A one-line progress bar on standard error ("features [#####.....] 12/40"), redrawn in place; silent when standard
/// error is not a terminal (scripts, CI, --json) so logs stay clean.
/// </summary>
public sealed class ProgressLine(bool enabled) : IProgress<DetectorProgress>, IDisposable
{
    readonly bool _enabled = enabled && !Console.IsErrorRedirected;
    bool _drawn;

    public static ProgressLine For(ParsedArgs args) => new(!args.Flag("--json"));

    public void Report(DetectorProgress p)
    {
        if (!_enabled) return;
        const int width = 30;
        int filled = p.Total == 0 ? width : (int)((long)p.Done * width / p.Total);
        string loss = p.Loss is double l ? $" loss {l:G4}" : "";
        Console.Error.Write($"\r{p.Stage,-10} [{new string('#', filled)}{new string('.', width - filled)}] {p.Done}/{p.Total}{loss}   ");
        _drawn = true;
        if (p.Done == p.Total) { Console.Error.WriteLine(); _drawn = false; }
    }

    public void Dispose()
    {
        if (_drawn) Console.Error.WriteLine();
    }
}
