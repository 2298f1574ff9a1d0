namespace NativeASD.Cli;

/// <summary>Process exit codes (documented in the README).</summary>
public static class ExitCode
{
    public const int Ok = 0;
    public const int Usage = 1;
    public const int InputError = 2;
    public const int InternalError = 3;
}

/// <summary>The command line is wrong: printed as one line with a hint, exit code 1.</summary>
public sealed class UsageException(string message, string? hint = null) : Exception(message)
{
    public string? Hint { get; } = hint;
}

/// <summary>An input (file, device, value) is unusable: printed as one line, exit code 2.</summary>
public sealed class InputException(string message, string? hint = null) : Exception(message)
{
    public string? Hint { get; } = hint;
}
