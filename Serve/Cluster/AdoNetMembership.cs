using Microsoft.Data.Sqlite;

namespace NativeASD.Serve.Cluster;

/// <summary>
/// The database behind <c>--cluster adonet</c>: Orleans' ADO.NET clustering provider keeps the cluster's membership in
/// two tables and reads the SQL it runs from a third (OrleansQuery). Orleans ships these scripts for SQL Server,
/// MySQL, PostgreSQL and Oracle, not SQLite; for SQLite they are written here and created at start (idempotently).
/// A PostgreSQL database (a connection string with Host=) must be prepared once with Orleans' own scripts
/// (PostgreSQL-Main.sql and PostgreSQL-Clustering.sql; see docs/serve.md).
/// </summary>
public static class AdoNetMembership
{
    /// <summary>The ADO.NET invariant Orleans maps to Microsoft.Data.Sqlite.</summary>
    public const string SqliteInvariant = "System.Data.SQLite";
    public const string PostgreSqlInvariant = "Npgsql";

    /// <summary>Picks the provider from the connection string; for SQLite creates the tables and queries. Returns the invariant.</summary>
    public static string Prepare(string connection)
    {
        if (connection.Contains("Host=", StringComparison.OrdinalIgnoreCase)) return PostgreSqlInvariant;
        SqliteConnectionStringBuilder builder;
        try { builder = new SqliteConnectionStringBuilder(connection); }
        catch (ArgumentException e) { throw new ArgumentException($"--connection '{connection}': {e.Message}", e); }
        if (string.IsNullOrEmpty(builder.DataSource))
            throw new ArgumentException($"--connection '{connection}': give a SQLite file as \"Data Source=PATH\" or a PostgreSQL database as \"Host=…;Database=…\"");
        using var c = new SqliteConnection(connection);
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA journal_mode=WAL;" + Schema;
        cmd.ExecuteNonQuery();
        return SqliteInvariant;
    }

    // Every write that changes a silo's status bumps the table version in the same statement (a trigger), so a
    // writer that read an older version changes nothing: the optimistic check Orleans relies on. IAmAlive updates
    // touch only IAmAliveTime and leave the version alone. Dates are bound as ISO text, which sorts as time does.
    const string Schema = """
        CREATE TABLE IF NOT EXISTS OrleansQuery(QueryKey TEXT NOT NULL PRIMARY KEY, QueryText TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS OrleansMembershipVersionTable(
            DeploymentId TEXT NOT NULL PRIMARY KEY, Timestamp TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, Version INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE IF NOT EXISTS OrleansMembershipTable(
            DeploymentId TEXT NOT NULL, Address TEXT NOT NULL, Port INTEGER NOT NULL, Generation INTEGER NOT NULL,
            SiloName TEXT NOT NULL, HostName TEXT NOT NULL, Status INTEGER NOT NULL, ProxyPort INTEGER NULL, SuspectTimes TEXT NULL,
            StartTime TEXT NOT NULL, IAmAliveTime TEXT NOT NULL,
            PRIMARY KEY(DeploymentId, Address, Port, Generation),
            FOREIGN KEY(DeploymentId) REFERENCES OrleansMembershipVersionTable(DeploymentId));
        CREATE TRIGGER IF NOT EXISTS OrleansMembershipInserted AFTER INSERT ON OrleansMembershipTable
        BEGIN
            UPDATE OrleansMembershipVersionTable SET Version = Version + 1, Timestamp = CURRENT_TIMESTAMP WHERE DeploymentId = NEW.DeploymentId;
        END;
        CREATE TRIGGER IF NOT EXISTS OrleansMembershipUpdated AFTER UPDATE OF Status, SuspectTimes ON OrleansMembershipTable
        BEGIN
            UPDATE OrleansMembershipVersionTable SET Version = Version + 1, Timestamp = CURRENT_TIMESTAMP WHERE DeploymentId = NEW.DeploymentId;
        END;

        INSERT OR REPLACE INTO OrleansQuery(QueryKey, QueryText) VALUES
        ('UpdateIAmAlivetimeKey', '
            UPDATE OrleansMembershipTable SET IAmAliveTime = MAX(IAmAliveTime, @IAmAliveTime)
            WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation;'),
        ('InsertMembershipVersionKey', '
            INSERT INTO OrleansMembershipVersionTable(DeploymentId)
            SELECT @DeploymentId WHERE NOT EXISTS (SELECT 1 FROM OrleansMembershipVersionTable WHERE DeploymentId = @DeploymentId);
            SELECT changes();'),
        ('InsertMembershipKey', '
            INSERT INTO OrleansMembershipTable(DeploymentId, Address, Port, Generation, SiloName, HostName, Status, ProxyPort, StartTime, IAmAliveTime)
            SELECT @DeploymentId, @Address, @Port, @Generation, @SiloName, @HostName, @Status, @ProxyPort, @StartTime, @IAmAliveTime
            WHERE (SELECT Version FROM OrleansMembershipVersionTable WHERE DeploymentId = @DeploymentId) = @Version
              AND NOT EXISTS (SELECT 1 FROM OrleansMembershipTable WHERE DeploymentId = @DeploymentId AND Address = @Address
                              AND Port = @Port AND Generation = @Generation);
            SELECT changes();'),
        ('UpdateMembershipKey', '
            UPDATE OrleansMembershipTable
            SET Status = @Status, SuspectTimes = @SuspectTimes, IAmAliveTime = MAX(IAmAliveTime, @IAmAliveTime)
            WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation
              AND (SELECT Version FROM OrleansMembershipVersionTable WHERE DeploymentId = @DeploymentId) = @Version;
            SELECT changes() > 0;'),
        ('GatewaysQueryKey', '
            SELECT Address, ProxyPort, Generation FROM OrleansMembershipTable
            WHERE DeploymentId = @DeploymentId AND Status = @Status AND ProxyPort > 0;'),
        ('MembershipReadRowKey', '
            SELECT v.DeploymentId, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status, m.ProxyPort, m.SuspectTimes,
                   m.StartTime, m.IAmAliveTime, v.Version
            FROM OrleansMembershipVersionTable v
            LEFT OUTER JOIN OrleansMembershipTable m ON v.DeploymentId = m.DeploymentId
                AND m.Address = @Address AND m.Port = @Port AND m.Generation = @Generation
            WHERE v.DeploymentId = @DeploymentId;'),
        ('MembershipReadAllKey', '
            SELECT v.DeploymentId, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status, m.ProxyPort, m.SuspectTimes,
                   m.StartTime, m.IAmAliveTime, v.Version
            FROM OrleansMembershipVersionTable v
            LEFT OUTER JOIN OrleansMembershipTable m ON v.DeploymentId = m.DeploymentId
            WHERE v.DeploymentId = @DeploymentId;'),
        ('DeleteMembershipTableEntriesKey', '
            DELETE FROM OrleansMembershipTable WHERE DeploymentId = @DeploymentId;
            DELETE FROM OrleansMembershipVersionTable WHERE DeploymentId = @DeploymentId;'),
        ('CleanupDefunctSiloEntriesKey', '
            DELETE FROM OrleansMembershipTable
            WHERE DeploymentId = @DeploymentId AND IAmAliveTime < @IAmAliveTime AND StartTime < @IAmAliveTime
              AND COALESCE(SuspectTimes, '''') = '''' AND Status = 6;'),
        ('CleanupDefunctSiloEntryKey', '
            DELETE FROM OrleansMembershipTable
            WHERE DeploymentId = @DeploymentId AND Status = 6 AND Address = @Address AND Port = @Port AND Generation = @Generation
              AND IAmAliveTime = @IAmAliveTime AND StartTime = @StartTime AND COALESCE(SuspectTimes, '''') = COALESCE(@SuspectTimes, '''');');
        """;
}
