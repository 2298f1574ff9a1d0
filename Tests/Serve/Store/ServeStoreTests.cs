using NativeASD.Serve.Store;

namespace NativeASD.Tests.Serve.Store;

/// <summary>The SQLite store on its own: readings and their per-minute summary, pruning, alarms and acknowledgement.</summary>
public sealed class ServeStoreTests
{
    [Fact]
    public async Task Old_raw_readings_are_pruned_and_their_minute_summary_stays()
    {
        await using var store = new ServeStore(ServeKit.TempFolder("store"));
        store.UpsertMachine("fan", "fan-x.safetensors", "00", null, 10, 1, 3);
        long now = ServeStore.NowMs(), old = now - (long)ServeStore.KeepReadings.TotalMilliseconds - 60_000;
        store.AddReading(new ReadingRecord(0, "fan", old, 10, 5, 4, true, false, 1, "stream"));
        store.AddReading(new ReadingRecord(0, "fan", old + 1, 11, 3, 4, false, false, 1, "stream"));
        store.AddReading(new ReadingRecord(0, "fan", now, 12, 2, 4, false, false, 1, "stream"));
        store.FlushReadings();
        Assert.Equal(3, store.Readings("fan", 0).Count);

        Assert.Equal(2, store.PruneReadings(now - (long)ServeStore.KeepReadings.TotalMilliseconds));
        Assert.Equal(12, Assert.Single(store.Readings("fan", 0)).StreamTime);
        Assert.Equal(12, store.LastReading("fan")!.StreamTime);
        using var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={store.Path}");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT readings, anomalous, max_score FROM reading_minutes WHERE machine = 'fan' ORDER BY minute LIMIT 1;";
        using var r = cmd.ExecuteReader();
        Assert.True(r.Read());
        Assert.Equal((2L, 1L, 5.0), (r.GetInt64(0), r.GetInt64(1), r.GetDouble(2)));
    }

    [Fact]
    public async Task An_alarm_keeps_its_clip_and_is_acknowledged_once()
    {
        await using var store = new ServeStore(ServeKit.TempFolder("store"));
        long id = store.AddAlarm("pump", ServeStore.NowMs(), 9, 4, 3, null, [1, 2, 3])!.Value;
        Assert.Equal([1, 2, 3], store.AlarmClip(id));
        Assert.True(store.Acknowledge(id, "ana"));
        Assert.True(store.Acknowledge(id, "bob"));
        var alarm = Assert.Single(store.Alarms("pump"));
        Assert.Equal("ana", alarm.AcknowledgedBy);
        Assert.Empty(store.Alarms("pump", openOnly: true));
        Assert.False(store.Acknowledge(id + 1, "ana"));
    }
}
