using System.Text;

namespace NativeASD.Weights.Hdf5;

/// <summary>
/// Old-style groups (what h5py writes by default): a version-1 B-tree of type 0 whose leaves point at symbol table
/// nodes ("SNOD"), whose entries name their links by offsets into the group's local heap ("HEAP"). Each B-tree node
/// is visited once and a child must be one level below its parent, so a cyclic or corrupted tree ends.
/// </summary>
internal static class Hdf5SymbolTable
{
    const int EntrySize = 8 + 8 + 4 + 4 + 16;

    public static void Read(Hdf5File file, long treeAddress, long heapAddress, Dictionary<string, long> links)
    {
        var names = LocalHeap(file, heapAddress);
        var visited = new HashSet<long>();
        var pending = new Stack<(long Address, int Level)>();
        pending.Push((treeAddress, -1));
        while (pending.TryPop(out var node))
        {
            if (!visited.Add(node.Address)) throw file.Error($"group B-tree node at 0x{node.Address:x} is reached twice (a cycle)");
            var head = file.Metadata(node.Address, Math.Min(24, file.Length - node.Address), "group B-tree node");
            var cursor = new Hdf5Cursor(file, head.Span, "group B-tree node", node.Address);
            if (!cursor.Bytes(4).SequenceEqual("TREE"u8)) throw cursor.Error("no 'TREE' signature");
            byte type = cursor.U8();
            int level = cursor.U8(), entries = cursor.U16();
            if (type != 0) throw cursor.Error($"node type {type} in a group (expected 0)");
            if (node.Level >= 0 && level != node.Level) throw cursor.Error($"level {level} below a node of level {node.Level + 1}");
            // header 24, then keys (heap offsets) and children interleaved: key, child, ..., key
            var body = file.Metadata(node.Address, 24 + entries * 16L + 8, "group B-tree node");
            cursor = new Hdf5Cursor(file, body.Span, "group B-tree node", node.Address) { Position = 24 };
            for (int i = 0; i < entries; i++)
            {
                cursor.Skip(8);
                long child = cursor.Address();
                if (level > 0) pending.Push((child, level - 1));
                else ReadNode(file, child, names, links);
            }
        }
    }

    static ReadOnlyMemory<byte> LocalHeap(Hdf5File file, long address)
    {
        var head = file.Metadata(address, Math.Min(32, file.Length - address), "local heap");
        var cursor = new Hdf5Cursor(file, head.Span, "local heap", address);
        if (!cursor.Bytes(4).SequenceEqual("HEAP"u8)) throw cursor.Error("no 'HEAP' signature");
        byte version = cursor.U8();
        if (version != 0) throw cursor.Error($"version {version} (expected 0)");
        cursor.Skip(3);
        long size = cursor.Length("data segment size");
        cursor.Skip(8); // free list offset
        long data = cursor.Address();
        return file.Metadata(data, size, "local heap data");
    }

    static void ReadNode(Hdf5File file, long address, ReadOnlyMemory<byte> names, Dictionary<string, long> links)
    {
        var head = file.Metadata(address, Math.Min(8, file.Length - address), "symbol table node");
        var cursor = new Hdf5Cursor(file, head.Span, "symbol table node", address);
        if (!cursor.Bytes(4).SequenceEqual("SNOD"u8)) throw cursor.Error("no 'SNOD' signature");
        byte version = cursor.U8();
        if (version != 1) throw cursor.Error($"version {version} (expected 1)");
        cursor.Skip(1);
        int symbols = cursor.U16();
        var body = file.Metadata(address, 8 + (long)symbols * EntrySize, "symbol table node");
        cursor = new Hdf5Cursor(file, body.Span, "symbol table node", address) { Position = 8 };
        for (int i = 0; i < symbols; i++)
        {
            long nameOffset = (long)Math.Min(cursor.U64(), long.MaxValue);
            long target = cursor.Address();
            cursor.Skip(EntrySize - 16);
            if (nameOffset >= names.Length) throw cursor.Error($"link name at heap offset {nameOffset}, beyond the {names.Length}-byte local heap");
            var rest = names.Span[(int)nameOffset..];
            int nul = rest.IndexOf((byte)0);
            if (nul < 0) throw cursor.Error($"link name at heap offset {nameOffset} has no terminating NUL");
            string name = Encoding.UTF8.GetString(rest[..nul]);
            if (!links.TryAdd(name, target)) throw cursor.Error($"link '{name}' appears twice");
        }
    }
}
