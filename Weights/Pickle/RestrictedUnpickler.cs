using System.Buffers.Binary;
using System.Text;

namespace NativeASD.Weights.Pickle;

/// <summary>
/// What the unpickler may build: which globals exist, what calling them makes, and what persistent ids load.
/// Implementations decide the whitelist; they throw <see cref="PickleRefusedException"/> for anything else.
/// </summary>
public interface IPickleClasses
{
    /// <summary>The object a GLOBAL/STACK_GLOBAL pushes; throws for a global outside the whitelist.</summary>
    object ResolveGlobal(string module, string name);
    /// <summary>REDUCE and NEWOBJ: "call" an allowed global with positional arguments.</summary>
    object? Call(object? callable, object?[] args);
    /// <summary>BUILD: apply state to an object that <see cref="Call"/> made.</summary>
    void Build(object? target, object? state);
    /// <summary>BINPERSID: what a persistent id stands for (a tensor storage in torch files).</summary>
    object? PersistentLoad(object? pid);
}

/// <summary>The pickle asks for something the whitelist does not allow; the unpickler names it in a <see cref="WeightFormatException"/>.</summary>
public sealed class PickleRefusedException(string message) : Exception(message);

/// <summary>
/// A pickle reader that interprets only the opcodes state dicts use (protocols 2–5) and never executes anything:
/// globals go through <see cref="IPickleClasses"/>, which builds plain C# objects for a short whitelist.
/// Every length read from the input is checked against what is left of it; memo, stack and marks are bounded.
/// Nesting costs no recursion here (pickles are a stack machine), so deep nesting cannot overflow the stack.
/// </summary>
public sealed class RestrictedUnpickler
{
    public const int MaxMemo = 1 << 20;
    public const int MaxStack = 1 << 20;
    public const int MaxGlobalName = 512;

    readonly Stream _input;
    readonly long _end;
    readonly string _path;
    readonly IPickleClasses _classes;
    readonly List<object?> _stack = [];
    readonly List<int> _marks = [];
    readonly Dictionary<long, object?> _memo = [];
    long _opOffset;

    /// <param name="input">Seekable stream positioned at the pickle; reading stops at STOP, leaving the stream just after it.</param>
    /// <param name="end">Absolute stream position the pickle may not read past.</param>
    public RestrictedUnpickler(string path, Stream input, long end, IPickleClasses classes)
    {
        _path = path; _input = input; _end = end; _classes = classes;
    }

    long Remaining => _end - _input.Position;

    /// <summary>Reads one pickle up to STOP and returns its value.</summary>
    public object? Load()
    {
        try { return Run(); }
        catch (PickleRefusedException e) { throw Fail(e.Message); }
        catch (InvalidCastException) { throw Fail("an opcode found an operand of the wrong type"); }
    }

    object? Run()
    {
        while (true)
        {
            _opOffset = _input.Position;
            byte op = ReadByte();
            switch (op)
            {
                case 0x80: // PROTO
                    { byte v = ReadByte(); if (v < 2 || v > 5) throw Fail($"pickle protocol {v} is not supported (2–5 are)"); break; }
                case 0x95: // FRAME: an 8-byte length; the framed opcodes follow inline
                    { ulong n = ReadU64(); if (n > (ulong)Remaining) throw Fail($"frame of {n} bytes runs past the end of the input"); break; }
                case 0x2e: // STOP
                    if (_stack.Count != 1 || _marks.Count != 0) throw Fail($"STOP with {_stack.Count} values on the stack and {_marks.Count} open marks");
                    return _stack[0];
                case 0x28: // MARK
                    if (_marks.Count >= MaxStack) throw Fail("too many open marks");
                    _marks.Add(_stack.Count); break;
                case 0x30: Pop(); break; // POP
                case 0x31: PopMark(); break; // POP_MARK
                case 0x32: Push(Peek()); break; // DUP
                case 0x4e: Push(null); break; // NONE
                case 0x88: Push(true); break; // NEWTRUE
                case 0x89: Push(false); break; // NEWFALSE
                case 0x4a: Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))); break; // BININT
                case 0x4b: Push((long)ReadByte()); break; // BININT1
                case 0x4d: Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2))); break; // BININT2
                case 0x8a: Push(ReadLong(ReadByte())); break; // LONG1
                case 0x8b: // LONG4
                    { uint n = BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)); Push(ReadLong(n)); break; }
                case 0x47: Push(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8))); break; // BINFLOAT
                case 0x8c: Push(ReadString(ReadByte())); break; // SHORT_BINUNICODE
                case 0x58: Push(ReadString(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)))); break; // BINUNICODE
                case 0x8d: Push(ReadString(ReadU64())); break; // BINUNICODE8
                case 0x43: Push(ReadBytes(ReadByte())); break; // SHORT_BINBYTES
                case 0x42: Push(ReadBytes(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)))); break; // BINBYTES
                case 0x8e: Push(ReadBytes(ReadU64())); break; // BINBYTES8
                case 0x29: Push(new PickleTuple([])); break; // EMPTY_TUPLE
                case 0x85: { var a = Pop(); Push(new PickleTuple([a])); break; } // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(new PickleTuple([a, b])); break; } // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new PickleTuple([a, b, c])); break; } // TUPLE3
                case 0x74: Push(new PickleTuple(PopMark())); break; // TUPLE
                case 0x5d: Push(new List<object?>()); break; // EMPTY_LIST
                case 0x6c: Push(new List<object?>(PopMark())); break; // LIST
                case 0x61: { var v = Pop(); As<List<object?>>(Peek(), "APPEND").Add(v); break; } // APPEND
                case 0x65: { var items = PopMark(); As<List<object?>>(Peek(), "APPENDS").AddRange(items); break; } // APPENDS
                case 0x7d: Push(new PickleDict()); break; // EMPTY_DICT
                case 0x64: { var items = PopMark(); var d = new PickleDict(); SetItems(d, items); Push(d); break; } // DICT
                case 0x73: { var v = Pop(); var k = Pop(); As<PickleDict>(Peek(), "SETITEM").Set(k, v); break; } // SETITEM
                case 0x75: { var items = PopMark(); SetItems(As<PickleDict>(Peek(), "SETITEMS"), items); break; } // SETITEMS
                case 0x63: // GLOBAL: "module\nname\n"
                    { string module = ReadLine(); string name = ReadLine(); Push(_classes.ResolveGlobal(module, name)); break; }
                case 0x93: // STACK_GLOBAL
                    { var name = Pop(); var module = Pop(); Push(_classes.ResolveGlobal(As<string>(module, "STACK_GLOBAL"), As<string>(name, "STACK_GLOBAL"))); break; }
                case 0x52: // REDUCE
                    { var args = As<PickleTuple>(Pop(), "REDUCE"); var f = Pop(); Push(_classes.Call(f, args.Items)); break; }
                case 0x81: // NEWOBJ: cls.__new__(cls, *args)
                    { var args = As<PickleTuple>(Pop(), "NEWOBJ"); var cls = Pop(); Push(_classes.Call(cls, args.Items)); break; }
                case 0x62: { var state = Pop(); _classes.Build(Peek(), state); break; } // BUILD
                case 0x51: Push(_classes.PersistentLoad(Pop())); break; // BINPERSID
                case 0x68: Push(Get(ReadByte())); break; // BINGET
                case 0x6a: Push(Get(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)))); break; // LONG_BINGET
                case 0x71: Put(ReadByte()); break; // BINPUT
                case 0x72: Put(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4))); break; // LONG_BINPUT
                case 0x94: Put(_memo.Count); break; // MEMOIZE
                default:
                    throw Fail($"pickle opcode 0x{op:x2} is not supported by the restricted unpickler");
            }
        }
    }

    WeightFormatException Fail(string problem) => new(_path, $"pickle at offset {_opOffset}: {problem}");

    void Push(object? v)
    {
        if (_stack.Count >= MaxStack) throw Fail($"pickle stack exceeds {MaxStack} entries");
        _stack.Add(v);
    }

    object? Pop()
    {
        int floor = _marks.Count > 0 ? _marks[^1] : 0;
        if (_stack.Count <= floor) throw Fail("pickle stack underflow");
        var v = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    object? Peek()
    {
        int floor = _marks.Count > 0 ? _marks[^1] : 0;
        if (_stack.Count <= floor) throw Fail("pickle stack underflow");
        return _stack[^1];
    }

    object?[] PopMark()
    {
        if (_marks.Count == 0) throw Fail("opcode needs a MARK but none is open");
        int mark = _marks[^1];
        _marks.RemoveAt(_marks.Count - 1);
        var items = _stack.GetRange(mark, _stack.Count - mark).ToArray();
        _stack.RemoveRange(mark, _stack.Count - mark);
        return items;
    }

    void SetItems(PickleDict d, object?[] items)
    {
        if (items.Length % 2 != 0) throw Fail("SETITEMS/DICT with an odd number of stack items");
        for (int i = 0; i < items.Length; i += 2) d.Set(items[i], items[i + 1]);
    }

    T As<T>(object? v, string op) where T : class =>
        v as T ?? throw Fail($"{op} expects {typeof(T).Name}, found {(v is null ? "None" : v.GetType().Name)}");

    object? Get(long index) =>
        _memo.TryGetValue(index, out var v) ? v : throw Fail($"memo index {index} was never stored");

    void Put(long index)
    {
        if (!_memo.ContainsKey(index) && _memo.Count >= MaxMemo) throw Fail($"pickle memo exceeds {MaxMemo} entries");
        _memo[index] = Peek();
    }

    byte ReadByte()
    {
        if (Remaining < 1) throw Fail("input ends inside the pickle (truncated)");
        int b = _input.ReadByte();
        if (b < 0) throw Fail("input ends inside the pickle (truncated)");
        return (byte)b;
    }

    byte[] ReadBytes(ulong n)
    {
        if (n > (ulong)Math.Max(0, Remaining)) throw Fail($"needs {n} bytes but only {Remaining} remain (truncated or corrupt length)");
        var buf = new byte[n];
        _input.ReadExactly(buf);
        return buf;
    }

    ulong ReadU64() => BinaryPrimitives.ReadUInt64LittleEndian(ReadBytes(8));

    string ReadString(ulong n)
    {
        var bytes = ReadBytes(n);
        try { return new UTF8Encoding(false, true).GetString(bytes); }
        catch (DecoderFallbackException) { throw Fail("string is not valid UTF-8"); }
    }

    string ReadLine()
    {
        var sb = new StringBuilder();
        while (true)
        {
            byte b = ReadByte();
            if (b == (byte)'\n') return sb.ToString();
            if (b < 0x20 || b > 0x7e) throw Fail("GLOBAL name holds a non-printable byte");
            if (sb.Length >= MaxGlobalName) throw Fail($"GLOBAL name longer than {MaxGlobalName} characters");
            sb.Append((char)b);
        }
    }

    /// <summary>Two's-complement little-endian integer of n bytes: a long up to 64 bits, a BigInteger up to 256 bits (the legacy torch magic number is 80 bits).</summary>
    object ReadLong(ulong n)
    {
        if (n > 32) throw Fail($"integer of {n} bytes is wider than 256 bits");
        var b = ReadBytes(n);
        if (n > 8) return new System.Numerics.BigInteger(b, isUnsigned: false, isBigEndian: false);
        if (n == 0) return 0;
        long v = 0;
        for (int i = (int)n - 1; i >= 0; i--) v = (v << 8) | b[i];
        if (n < 8 && (b[n - 1] & 0x80) != 0) v -= 1L << (int)(8 * n);
        return v;
    }
}
