using System.Diagnostics;
using NativeASD.Serve.Store;

namespace NativeASD.Tests.Serve.Store;

/// <summary>
/// The store on a disk that fills up while a machine streams: a real full file system (a 16 MiB tmpfs mounted for the
/// test; it needs root, and is skipped with a message without it). Readings keep coming to the stream, the failure
/// shows on /health and on the machine, and once space is freed the queued readings are written: none is lost.
/// </summary>
public sealed class FullDiskTests
{
    /// <summary>Mounts a tmpfs of <paramref name="megabytes"/> MiB at a new folder; null when this process may not mount.</summary>
    static string? MountSmallDisk(int megabytes)
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root") return null;
        string folder = ServeKit.TempFolder("full-disk");
        var mount = Process.Start(new ProcessStartInfo("mount", ["-t", "tmpfs", "-o", $"size={megabytes}m", "tmpfs", folder])
            { RedirectStandardError = true, UseShellExecute = false });
        if (mount is null) return null;
        mount.WaitForExit();
        return mount.ExitCode == 0 ? folder : null;
    }

    static void Unmount(string folder)
    {
        using var umount = Process.Start(new ProcessStartInfo("umount", ["-l", folder]) { UseShellExecute = false })!;
        umount.WaitForExit();
        Directory.Delete(folder, true);
    }

    /// <summary>Writes a file until the disk refuses more: the disk is full.</summary>
    static void Fill(string path)
    {
        using var f = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        var block = new byte[1 << 16];
        try { while (true) f.Write(block); }
        catch (IOException) { }
        try { f.Flush(); } catch (IOException) { }
    }

    [SkippableFact]
    public async Task A_full_disk_shows_on_health_and_the_machine_while_readings_go_on_and_are_written_once_space_is_back()
    {
        string? disk = MountSmallDisk(16);
        Skip.If(disk is null, "mounting a tmpfs for a real full disk needs root on Linux");
        try
        {
            var clips = ServeKit.Clips;
            await using (var server = await ServeKit.InProcessServer.StartAsync(Path.Combine(disk!, "data")))
            {
                (await server.AddMachine("fan", clips.Model)).EnsureSuccessStatusCode();
                var before = await ServeKit.StreamAsync(server.Url, "fan", ServeKit.PcmOf(clips.LongNormal), realTime: false);
                server.Store.FlushReadings();
                int stored = server.Store.Readings("fan", 0).Count;
                Assert.Equal(15, stored);   // 16 s, window 2 s, hop 1 s
                int alarmsBefore = server.Store.Alarms("fan").Count;

                // An empty journal, so that any write needs new space on the disk.
                using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={server.Store.Path}"))
                {
                    c.Open();
                    using var checkpoint = c.CreateCommand();
                    checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE);";
                    checkpoint.ExecuteNonQuery();
                }
                string filler = Path.Combine(disk!, "filler");
                Fill(filler);
                // Readings still reach the stream; an anomalous 16 s stream raises an alarm that cannot be stored.
                var during = await ServeKit.StreamAsync(server.Url, "fan", ServeKit.PcmOf(clips.LongAnomalous), realTime: false);
                Assert.Contains(during, l => l.Contains("\"score\""));
                await Task.Delay(ServeStore.FlushInterval * 3);
                var health = ServeKit.Json(await server.Http.GetStringAsync($"{server.Url}/health"));
                Assert.Equal("store-error", health.GetProperty("status").GetString());
                Assert.Contains("full", health.GetProperty("store_error").GetString());
                var machine = ServeKit.Json(await server.Http.GetStringAsync($"{server.Url}/machines/fan"));
                Assert.Equal("store-error", machine.GetProperty("state").GetString());
                Assert.Contains("could not be written", machine.GetProperty("state_message").GetString());
                Assert.Contains(during, l => l.Contains("\"alarm\":true"));
                Assert.Equal(alarmsBefore, server.Store.Alarms("fan").Count);   // the new alarm waits in memory

                File.Delete(filler);
                await Task.Delay(TimeSpan.FromSeconds(2));   // the writer retries every second
                server.Store.FlushReadings();
                health = ServeKit.Json(await server.Http.GetStringAsync($"{server.Url}/health"));
                Assert.Equal("ok", health.GetProperty("status").GetString());
                int readingLines = during.Count(l => l.Contains("\"score\"") && !l.Contains("\"summary\""));
                Assert.Equal(stored + readingLines, server.Store.Readings("fan", 0).Count);
                // The alarm raised while the disk was full, with its clip, and the machine's real state.
                int raised = during.Select(ServeKit.Json).Count(j => j.TryGetProperty("consecutive", out var c) && c.GetInt32() == 3 && j.GetProperty("alarm").GetBoolean());
                Assert.True(raised > 0);
                var alarms = server.Store.Alarms("fan");
                Assert.Equal(alarmsBefore + raised, alarms.Count);
                Assert.All(alarms, a => Assert.True(a.HasClip));
                Assert.Equal("idle", server.Store.Machine("fan")!.State);
            }
        }
        finally { Unmount(disk!); }
    }
}
