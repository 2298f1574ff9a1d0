namespace NativeASD.Tests.Support;

/// <summary>
/// Locates ../shared (real recordings and pretrained files) beside the checkout. Tests that need it are
/// [SkippableFact]s that call <see cref="Require"/>: outside CI a missing path skips the test with a message;
/// under CI=true it is a failure.
/// </summary>
public static class SharedData
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Root => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "NativeASD.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException($"NativeASD.sln not found above {AppContext.BaseDirectory}");
    }

    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The path of <paramref name="relative"/> under ../shared; skips the test when absent outside CI, fails under CI.</summary>
    public static string Require(string relative)
    {
        string path = Path.Combine(Root, relative);
        if (Directory.Exists(path) || File.Exists(path)) return path;
        string message = $"../shared/{relative} not found at {path}";
        if (InCi) throw new InvalidOperationException($"{message} (CI=true: shared data is required)");
        Skip.If(true, message);
        return path;
    }
}
