using System.Text;

namespace NativeASD.Weights.Hdf5;

/// <summary>
/// An object (group or dataset) by the messages of its header: its attributes, its links when it is a group (old-style
/// symbol table or link messages), and its dataset description when it is one.
/// </summary>
internal sealed class Hdf5Object
{
    readonly Hdf5File file;
    readonly List<Hdf5Message> messages;
    Dictionary<string, Hdf5Attribute>? attributes;
    Dictionary<string, long>? links;

    public Hdf5Object(Hdf5File file, long address)
    {
        this.file = file;
        Address = address;
        messages = Hdf5ObjectHeader.Read(file, address);
    }

    public long Address { get; }

    public bool HasAttribute(string name) => Attributes.ContainsKey(name);

    public Hdf5Attribute Attribute(string name) =>
        Attributes.TryGetValue(name, out var attribute) ? attribute : throw Error($"no attribute '{name}'");

    public bool HasLink(string name) => Links.ContainsKey(name);

    /// <summary>The object a link of this group points to.</summary>
    public Hdf5Object Child(string name) =>
        Links.TryGetValue(name, out long address) ? file.Object(address) : throw Error($"no link '{name}'");

    /// <summary>This object as a dataset: its type, shape and where its data is.</summary>
    public Hdf5Dataset Dataset(string name) => new(file, name, this, messages);

    WeightFormatException Error(string problem) => file.Error($"object at 0x{Address:x}: {problem}");

    Dictionary<string, Hdf5Attribute> Attributes => attributes ??= ReadAttributes();

    Dictionary<string, long> Links => links ??= ReadLinks();

    Dictionary<string, Hdf5Attribute> ReadAttributes()
    {
        var found = new Dictionary<string, Hdf5Attribute>();
        foreach (var message in messages)
        {
            if (message.Type == Hdf5Message.AttributeInfo && HeapAddress(message, "attribute info") != Hdf5File.Undefined)
                throw Error("attributes in dense storage (a fractal heap) are not read; h5py writes them only for very many or very large attributes");
            if (message.Type != Hdf5Message.Attribute) continue;
            if (message.IsShared) throw Error("a shared attribute message is not read");
            var attribute = Hdf5Attribute.Parse(file, message);
            if (!found.TryAdd(attribute.Name, attribute)) throw Error($"attribute '{attribute.Name}' appears twice");
        }
        return found;
    }

    /// <summary>The fractal heap address of a link info or attribute info message: defined when storage is dense.</summary>
    long HeapAddress(Hdf5Message message, string what)
    {
        var cursor = new Hdf5Cursor(file, message.Data.Span, what + " message", message.Address);
        byte version = cursor.U8();
        if (version != 0) throw cursor.Error($"version {version} (expected 0)");
        byte flags = cursor.U8();
        if ((flags & 1) != 0) cursor.Skip(message.Type == Hdf5Message.LinkInfo ? 8 : 2); // maximum creation index
        return cursor.Address();
    }

    Dictionary<string, long> ReadLinks()
    {
        var found = new Dictionary<string, long>();
        foreach (var message in messages)
        {
            switch (message.Type)
            {
                case Hdf5Message.SymbolTable:
                    var cursor = new Hdf5Cursor(file, message.Data.Span, "symbol table message", message.Address);
                    long tree = cursor.Address(), heap = cursor.Address();
                    Hdf5SymbolTable.Read(file, tree, heap, found);
                    break;
                case Hdf5Message.LinkInfo when HeapAddress(message, "link info") != Hdf5File.Undefined:
                    throw Error("links in dense storage (a fractal heap) are not read; h5py writes them for groups of more than 8 links with libver='latest'");
                case Hdf5Message.Link:
                    ReadLink(message, found);
                    break;
            }
        }
        return found;
    }

    void ReadLink(Hdf5Message message, Dictionary<string, long> found)
    {
        var cursor = new Hdf5Cursor(file, message.Data.Span, "link message", message.Address);
        byte version = cursor.U8();
        if (version != 1) throw cursor.Error($"version {version} (expected 1)");
        byte flags = cursor.U8();
        byte linkType = (flags & 0x08) != 0 ? cursor.U8() : (byte)0;
        if ((flags & 0x04) != 0) cursor.Skip(8); // creation order
        if ((flags & 0x10) != 0) cursor.Skip(1); // name character set
        ulong nameLength = cursor.Sized(1 << (flags & 3));
        if (nameLength == 0 || nameLength > (ulong)cursor.Remaining) throw cursor.Error($"link name of {nameLength} bytes, {cursor.Remaining} left");
        string name = Encoding.UTF8.GetString(cursor.Bytes((long)nameLength));
        // Soft and external links name paths, possibly in other files: never followed.
        if (linkType != 0) return;
        long target = cursor.Address();
        if (!found.TryAdd(name, target)) throw cursor.Error($"link '{name}' appears twice");
    }
}
