namespace NativeASD.Serve.Dashboard;

/// <summary>The dashboard: one HTML page (script and style inline, plots drawn on canvas) embedded in the assembly.</summary>
public static class DashboardPage
{
    public static readonly string Html = Load();

    static string Load()
    {
        using var stream = typeof(DashboardPage).Assembly.GetManifestResourceStream("dashboard.html")
            ?? throw new InvalidOperationException("the dashboard page is missing from the assembly");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
