using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace NativeASD.Serve.Store;

/// <summary>A registered machine as the store keeps it. <see cref="Threshold"/> null: the model's own.</summary>
public sealed record MachineRecord(string Name, string ModelFile, string ModelSha256, double? Threshold, double WindowSeconds,
    double HopSeconds, int Consecutive, string State, string? StateMessage, long StateUtcMs, long Revision);

/// <summary>One scored window as stored: <see cref="UtcMs"/> when the server stored it, <see cref="Source"/> "stream", "clip" or "report".</summary>
public sealed record ReadingRecord(long Id, string Machine, long UtcMs, double StreamTime, double Score, double Threshold, bool Anomalous,
    bool Alarm, double? LatencyMs, string Source);

/// <summary>An alarm: the reading that raised it, the band that contributed most, and whether someone acknowledged it.</summary>
public sealed record AlarmRecord(long Id, string Machine, long UtcMs, double Score, double Threshold, int Consecutive, string? Band,
    bool HasClip, long? AcknowledgedUtcMs, string? AcknowledgedBy);

/// <summary>
/// The embedded store of <c>nasd serve</c>: one SQLite file (<c>nasd-serve.db</c> under the data folder, WAL journal) with
/// the machines, the readings (raw, plus a per-minute summary), the alarms with the WAV clip that raised them. Several
/// processes on one host may share it (the second silo of a local cluster): SQLite serialises their writes.
/// <para>Alarms are committed before the call that raised them returns, so a crash right after an alarm keeps it.
/// Readings go through a queue committed every <see cref="FlushInterval"/> in one transaction: at most that much of the
/// readings summary is lost to a crash, never an alarm.</para>
/// <para>A store that cannot write (a full disk, a read-only file) never stops a machine: alarms and machine states
/// that fail to commit wait in memory with the queued readings and are written, oldest first, once a retry (every
/// second) succeeds; meanwhile <see cref="WriteError"/> says why on /health, the dashboard and every machine.</para>
/// </summary>
public sealed class ServeStore : IAsyncDisposable
{
    public const string FileName = "nasd-serve.db";
    public static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>How long raw readings are kept; the per-minute summary is kept for good.</summary>
    public static readonly TimeSpan KeepReadings = TimeSpan.FromDays(7);
    const int MaxQueuedReadings = 1_000_000;   // ~100 MB: beyond this a store that cannot write drops the oldest and says so

    readonly string connectionString;
    readonly Channel<ReadingRecord> pending = Channel.CreateBounded<ReadingRecord>(
        new BoundedChannelOptions(MaxQueuedReadings) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
    readonly Task writer;
    readonly CancellationTokenSource stop = new();
    readonly ConcurrentQueue<UnsavedAlarm> unsavedAlarms = new();
    readonly Dictionary<string, (string State, string? Message, long UtcMs)> unsavedStates = new(StringComparer.Ordinal);   // under its own lock

    /// <summary>An alarm the store could not commit yet.</summary>
    sealed record UnsavedAlarm(string Machine, long UtcMs, double Score, double Threshold, int Consecutive, string? Band, byte[]? Clip);

    public ServeStore(string dataFolder)
    {
        DataFolder = System.IO.Path.GetFullPath(dataFolder);
        Directory.CreateDirectory(DataFolder);
        Directory.CreateDirectory(ModelFolder);
        Path = System.IO.Path.Combine(DataFolder, FileName);
        connectionString = new SqliteConnectionStringBuilder { DataSource = Path, DefaultTimeout = 30, Pooling = true }.ToString();
        using (var c = Open())
        {
            Execute(c, "PRAGMA journal_mode=WAL;");
            Execute(c, Schema);
        }
        writer = Task.Run(WriteReadingsAsync);
    }

    public string DataFolder { get; }
    public string Path { get; }
    public string ModelFolder => System.IO.Path.Combine(DataFolder, "models");

    /// <summary>The last error writing (e.g. a full disk), null while writes succeed and nothing waits: shown on /health, the dashboard and the machines.</summary>
    public string? WriteError { get; private set; }

    bool HasUnsaved { get { lock (unsavedStates) return unsavedStates.Count > 0 || !unsavedAlarms.IsEmpty; } }

    void WriteFailed(string what, SqliteException e)
    {
        string message = $"{Path}: {what} could not be written (kept in memory, retried every second): {e.Message}";
        if (message != WriteError) Console.Error.WriteLine($"nasd serve: error: {message}");
        WriteError = message;
    }

    const string Schema = """
        CREATE TABLE IF NOT EXISTS machines(
            name TEXT PRIMARY KEY, model_file TEXT NOT NULL, model_sha256 TEXT NOT NULL, threshold REAL,
            window_s REAL NOT NULL, hop_s REAL NOT NULL, consecutive INTEGER NOT NULL,
            state TEXT NOT NULL, state_message TEXT, state_utc_ms INTEGER NOT NULL, revision INTEGER NOT NULL DEFAULT 0,
            created_utc_ms INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS readings(
            id INTEGER PRIMARY KEY, machine TEXT NOT NULL, utc_ms INTEGER NOT NULL, stream_time REAL NOT NULL, score REAL NOT NULL,
            threshold REAL NOT NULL, anomalous INTEGER NOT NULL, alarm INTEGER NOT NULL, latency_ms REAL, source TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS readings_by_machine ON readings(machine, utc_ms);
        CREATE TABLE IF NOT EXISTS reading_minutes(
            machine TEXT NOT NULL, minute INTEGER NOT NULL, readings INTEGER NOT NULL, anomalous INTEGER NOT NULL,
            max_score REAL NOT NULL, sum_score REAL NOT NULL, PRIMARY KEY(machine, minute));
        CREATE TABLE IF NOT EXISTS alarms(
            id INTEGER PRIMARY KEY, machine TEXT NOT NULL, utc_ms INTEGER NOT NULL, score REAL NOT NULL, threshold REAL NOT NULL,
            consecutive INTEGER NOT NULL, band TEXT, clip BLOB, acknowledged_utc_ms INTEGER, acknowledged_by TEXT);
        CREATE INDEX IF NOT EXISTS alarms_by_machine ON alarms(machine, utc_ms);
        """;

    SqliteConnection Open()
    {
        var c = new SqliteConnection(connectionString);
        c.Open();
        return c;
    }

    static void Execute(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    static SqliteCommand Command(SqliteConnection c, string sql, params (string Name, object? Value)[] parameters)
    {
        var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters) cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return cmd;
    }

    public static long NowMs() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    // ---- machines -------------------------------------------------------------------------------------------------

    /// <summary>Adds a machine, or replaces its model and settings when it exists (its readings and alarms stay).</summary>
    public void UpsertMachine(string name, string modelFile, string sha256, double? threshold, double windowSeconds, double hopSeconds, int consecutive)
    {
        using var c = Open();
        using var cmd = Command(c, """
            INSERT INTO machines(name, model_file, model_sha256, threshold, window_s, hop_s, consecutive, state, state_message, state_utc_ms, created_utc_ms)
            VALUES(@name, @model, @sha, @threshold, @window, @hop, @consecutive, 'idle', NULL, @now, @now)
            ON CONFLICT(name) DO UPDATE SET model_file = @model, model_sha256 = @sha, threshold = @threshold, window_s = @window,
                hop_s = @hop, consecutive = @consecutive, state = 'idle', state_message = NULL, state_utc_ms = @now, revision = revision + 1;
            """, ("@name", name), ("@model", modelFile), ("@sha", sha256), ("@threshold", threshold), ("@window", windowSeconds),
            ("@hop", hopSeconds), ("@consecutive", consecutive), ("@now", NowMs()));
        cmd.ExecuteNonQuery();
    }

    /// <summary>Sets the decision threshold (null: back to the model's); the machine's grain picks it up at its next push.</summary>
    public bool SetThreshold(string name, double? threshold)
    {
        using var c = Open();
        using var cmd = Command(c, "UPDATE machines SET threshold = @t, revision = revision + 1 WHERE name = @name;", ("@t", threshold), ("@name", name));
        return cmd.ExecuteNonQuery() == 1;
    }

    /// <summary>Records what the machine is doing ("idle", "listening", "model-error", "input-error", "store-error"…) and why.</summary>
    /// <para>Never throws for a store that cannot write: the state waits in memory (and <see cref="Machines"/> shows it) until it can.</para>
    public void SetState(string name, string state, string? message)
    {
        lock (unsavedStates)
        {
            long now = NowMs();
            try
            {
                WriteState(name, state, message, now);
                unsavedStates.Remove(name);
            }
            catch (SqliteException e)
            {
                unsavedStates[name] = (state, message, now);
                WriteFailed($"the state of {name}", e);
            }
        }
    }

    void WriteState(string name, string state, string? message, long utcMs)
    {
        using var c = Open();
        using var cmd = Command(c, "UPDATE machines SET state = @s, state_message = @m, state_utc_ms = @now WHERE name = @name AND (state IS NOT @s OR state_message IS NOT @m);",
            ("@s", state), ("@m", message), ("@now", utcMs), ("@name", name));
        cmd.ExecuteNonQuery();
    }

    public MachineRecord? Machine(string name) => Machines(name).FirstOrDefault();

    public List<MachineRecord> Machines(string? name = null)
    {
        using var c = Open();
        using var cmd = Command(c, "SELECT name, model_file, model_sha256, threshold, window_s, hop_s, consecutive, state, state_message, state_utc_ms, revision FROM machines"
            + (name is null ? " ORDER BY name;" : " WHERE name = @name;"), ("@name", name));
        using var r = cmd.ExecuteReader();
        var list = new List<MachineRecord>();
        while (r.Read())
            list.Add(new MachineRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetDouble(3), r.GetDouble(4),
                r.GetDouble(5), r.GetInt32(6), r.GetString(7), r.IsDBNull(8) ? null : r.GetString(8), r.GetInt64(9), r.GetInt64(10)));
        lock (unsavedStates)
            for (int i = 0; i < list.Count; i++)
                if (unsavedStates.TryGetValue(list[i].Name, out var u))
                    list[i] = list[i] with { State = u.State, StateMessage = u.Message, StateUtcMs = u.UtcMs };
        return list;
    }

    // ---- readings -------------------------------------------------------------------------------------------------

    /// <summary>Queues a reading; committed within <see cref="FlushInterval"/>.</summary>
    public void AddReading(ReadingRecord reading) => pending.Writer.TryWrite(reading);

    /// <summary>Commits every queued reading now (tests, shutdown).</summary>
    public void FlushReadings()
    {
        var batch = new List<ReadingRecord>();
        while (pending.Reader.TryRead(out var r)) batch.Add(r);
        if (batch.Count > 0) WriteReadings(batch);
    }

    async Task WriteReadingsAsync()
    {
        var batch = new List<ReadingRecord>();
        long lastPruneMs = 0;
        try
        {
            // Wakes for queued readings, or to retry what a store that could not write left waiting.
            while (HasUnsaved || batch.Count > 0 || await pending.Reader.WaitToReadAsync(stop.Token))
            {
                await Task.Delay(FlushInterval, stop.Token);
                while (pending.Reader.TryRead(out var r)) batch.Add(r);
                try
                {
                    WriteUnsaved();
                    WriteReadings(batch);
                    batch.Clear();
                    if (!HasUnsaved) WriteError = null;
                    if (NowMs() - lastPruneMs > 3_600_000)
                    {
                        lastPruneMs = NowMs();
                        PruneReadings(lastPruneMs - (long)KeepReadings.TotalMilliseconds);
                    }
                }
                catch (SqliteException e)
                {
                    // Full disk, locked or read-only file: keep the batch and retry; the error is visible on /health and the dashboard.
                    WriteFailed("readings", e);
                    if (batch.Count > MaxQueuedReadings) batch.RemoveRange(0, batch.Count - MaxQueuedReadings);
                    await Task.Delay(TimeSpan.FromSeconds(1), stop.Token);
                }
            }
        }
        catch (OperationCanceledException) { }
        while (pending.Reader.TryRead(out var r)) batch.Add(r);
        WriteUnsaved();
        WriteReadings(batch);
    }

    /// <summary>Commits the alarms (oldest first) and machine states that could not be written when they happened.</summary>
    void WriteUnsaved()
    {
        while (unsavedAlarms.TryPeek(out var a))
        {
            InsertAlarm(a);
            unsavedAlarms.TryDequeue(out _);
        }
        lock (unsavedStates)
        {
            foreach (var (name, u) in unsavedStates.ToList())
            {
                WriteState(name, u.State, u.Message, u.UtcMs);
                unsavedStates.Remove(name);
            }
        }
    }

    void WriteReadings(List<ReadingRecord> batch)
    {
        if (batch.Count == 0) return;
        using var c = Open();
        using var tx = c.BeginTransaction();
        using var insert = Command(c, """
            INSERT INTO readings(machine, utc_ms, stream_time, score, threshold, anomalous, alarm, latency_ms, source)
            VALUES(@m, @t, @st, @s, @th, @a, @al, @l, @src);
            """, ("@m", ""), ("@t", 0L), ("@st", 0.0), ("@s", 0.0), ("@th", 0.0), ("@a", 0), ("@al", 0), ("@l", null), ("@src", ""));
        using var minute = Command(c, """
            INSERT INTO reading_minutes(machine, minute, readings, anomalous, max_score, sum_score) VALUES(@m, @min, 1, @a, @s, @s)
            ON CONFLICT(machine, minute) DO UPDATE SET readings = readings + 1, anomalous = anomalous + @a,
                max_score = MAX(max_score, @s), sum_score = sum_score + @s;
            """, ("@m", ""), ("@min", 0L), ("@a", 0), ("@s", 0.0));
        insert.Transaction = tx;
        minute.Transaction = tx;
        foreach (var r in batch)
        {
            insert.Parameters["@m"].Value = r.Machine;
            insert.Parameters["@t"].Value = r.UtcMs;
            insert.Parameters["@st"].Value = r.StreamTime;
            insert.Parameters["@s"].Value = r.Score;
            insert.Parameters["@th"].Value = r.Threshold;
            insert.Parameters["@a"].Value = r.Anomalous ? 1 : 0;
            insert.Parameters["@al"].Value = r.Alarm ? 1 : 0;
            insert.Parameters["@l"].Value = r.LatencyMs is double l ? l : DBNull.Value;
            insert.Parameters["@src"].Value = r.Source;
            insert.ExecuteNonQuery();
            minute.Parameters["@m"].Value = r.Machine;
            minute.Parameters["@min"].Value = r.UtcMs / 60_000;
            minute.Parameters["@a"].Value = r.Anomalous ? 1 : 0;
            minute.Parameters["@s"].Value = r.Score;
            minute.ExecuteNonQuery();
        }
        tx.Commit();
    }

    /// <summary>Readings with id &gt; <paramref name="afterId"/> and time ≥ <paramref name="sinceUtcMs"/>, oldest first, for one machine or all.</summary>
    public List<ReadingRecord> Readings(string? machine, long sinceUtcMs, long afterId = 0, int limit = 100_000)
    {
        using var c = Open();
        using var cmd = Command(c, "SELECT id, machine, utc_ms, stream_time, score, threshold, anomalous, alarm, latency_ms, source FROM readings "
            + "WHERE id > @after AND utc_ms >= @since" + (machine is null ? "" : " AND machine = @m") + " ORDER BY id LIMIT @limit;",
            ("@after", afterId), ("@since", sinceUtcMs), ("@m", machine), ("@limit", limit));
        using var r = cmd.ExecuteReader();
        var list = new List<ReadingRecord>();
        while (r.Read())
            list.Add(new ReadingRecord(r.GetInt64(0), r.GetString(1), r.GetInt64(2), r.GetDouble(3), r.GetDouble(4), r.GetDouble(5),
                r.GetInt32(6) != 0, r.GetInt32(7) != 0, r.IsDBNull(8) ? null : r.GetDouble(8), r.GetString(9)));
        return list;
    }

    /// <summary>A machine's newest reading, or null.</summary>
    public ReadingRecord? LastReading(string machine)
    {
        using var c = Open();
        using var cmd = Command(c, "SELECT MAX(id) FROM readings WHERE machine = @m;", ("@m", machine));
        return cmd.ExecuteScalar() is long id ? Readings(machine, 0, id - 1, 1).FirstOrDefault() : null;
    }

    /// <summary>The id of the newest reading (0 when none): where a live stream starts.</summary>
    public long LastReadingId() => Scalar("SELECT COALESCE(MAX(id), 0) FROM readings;");

    public long LastAlarmId() => Scalar("SELECT COALESCE(MAX(id), 0) FROM alarms;");

    long Scalar(string sql)
    {
        using var c = Open();
        using var cmd = Command(c, sql);
        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    /// <summary>Deletes raw readings older than <paramref name="beforeUtcMs"/> (the per-minute summary stays).</summary>
    public int PruneReadings(long beforeUtcMs)
    {
        using var c = Open();
        using var cmd = Command(c, "DELETE FROM readings WHERE utc_ms < @t;", ("@t", beforeUtcMs));
        return cmd.ExecuteNonQuery();
    }

    // ---- alarms ---------------------------------------------------------------------------------------------------

    /// <summary>
    /// Commits an alarm with its clip (a WAV file's bytes) before returning; its id. When the store cannot write, the
    /// alarm waits in memory, is committed by the first retry that succeeds (after any alarm still waiting: they keep
    /// their order), and the result is null.
    /// </summary>
    public long? AddAlarm(string machine, long utcMs, double score, double threshold, int consecutive, string? band, byte[]? clip)
    {
        var alarm = new UnsavedAlarm(machine, utcMs, score, threshold, consecutive, band, clip);
        if (unsavedAlarms.IsEmpty)
        {
            try { return InsertAlarm(alarm); }
            catch (SqliteException e) { WriteFailed($"the alarm of {machine}", e); }
        }
        unsavedAlarms.Enqueue(alarm);
        return null;
    }

    long InsertAlarm(UnsavedAlarm a)
    {
        using var c = Open();
        using var cmd = Command(c, """
            INSERT INTO alarms(machine, utc_ms, score, threshold, consecutive, band, clip) VALUES(@m, @t, @s, @th, @c, @b, @clip);
            SELECT last_insert_rowid();
            """, ("@m", a.Machine), ("@t", a.UtcMs), ("@s", a.Score), ("@th", a.Threshold), ("@c", a.Consecutive), ("@b", a.Band), ("@clip", a.Clip));
        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    public List<AlarmRecord> Alarms(string? machine = null, bool openOnly = false, long afterId = 0, int limit = 1000)
    {
        using var c = Open();
        using var cmd = Command(c, "SELECT id, machine, utc_ms, score, threshold, consecutive, band, clip IS NOT NULL, acknowledged_utc_ms, acknowledged_by FROM alarms WHERE id > @after"
            + (machine is null ? "" : " AND machine = @m") + (openOnly ? " AND acknowledged_utc_ms IS NULL" : "") + " ORDER BY id DESC LIMIT @limit;",
            ("@after", afterId), ("@m", machine), ("@limit", limit));
        using var r = cmd.ExecuteReader();
        var list = new List<AlarmRecord>();
        while (r.Read())
            list.Add(new AlarmRecord(r.GetInt64(0), r.GetString(1), r.GetInt64(2), r.GetDouble(3), r.GetDouble(4), r.GetInt32(5),
                r.IsDBNull(6) ? null : r.GetString(6), r.GetInt32(7) != 0, r.IsDBNull(8) ? null : r.GetInt64(8), r.IsDBNull(9) ? null : r.GetString(9)));
        return list;
    }

    /// <summary>The WAV bytes kept with an alarm, or null.</summary>
    public byte[]? AlarmClip(long id)
    {
        using var c = Open();
        using var cmd = Command(c, "SELECT clip FROM alarms WHERE id = @id;", ("@id", id));
        return cmd.ExecuteScalar() as byte[];
    }

    /// <summary>Marks an alarm acknowledged; false when there is no such alarm.</summary>
    public bool Acknowledge(long id, string? by)
    {
        using var c = Open();
        using var cmd = Command(c, "UPDATE alarms SET acknowledged_utc_ms = COALESCE(acknowledged_utc_ms, @now), acknowledged_by = COALESCE(acknowledged_by, @by) WHERE id = @id;",
            ("@now", NowMs()), ("@by", by), ("@id", id));
        return cmd.ExecuteNonQuery() == 1;
    }

    public async ValueTask DisposeAsync()
    {
        pending.Writer.TryComplete();
        await stop.CancelAsync();
        try { await writer; } catch (SqliteException e) { Console.Error.WriteLine($"nasd serve: error: {Path}: last readings not written: {e.Message}"); }
        stop.Dispose();
        SqliteConnection.ClearAllPools();
    }
}
