namespace NativeASD.Weights.Hdf5;

/// <summary>Bob Jenkins' lookup3 hashlittle (initial value 0): the checksum of HDF5's version-2 structures.</summary>
internal static class Lookup3
{
    public static uint Hash(ReadOnlySpan<byte> key)
    {
        uint a, b, c;
        a = b = c = 0xdeadbeef + (uint)key.Length;
        if (key.Length == 0) return c;
        while (key.Length > 12)
        {
            a += Word(key, 0); b += Word(key, 4); c += Word(key, 8);
            Mix(ref a, ref b, ref c);
            key = key[12..];
        }
        // The last 1..12 bytes, zero-padded: lookup3's fall-through switch adds exactly these words.
        Span<byte> tail = stackalloc byte[12];
        tail.Clear();
        key.CopyTo(tail);
        a += Word(tail, 0); b += Word(tail, 4); c += Word(tail, 8);
        Final(ref a, ref b, ref c);
        return c;
    }

    static uint Word(ReadOnlySpan<byte> k, int at) => k[at] | (uint)k[at + 1] << 8 | (uint)k[at + 2] << 16 | (uint)k[at + 3] << 24;

    static uint Rot(uint x, int k) => (x << k) | (x >> (32 - k));

    static void Mix(ref uint a, ref uint b, ref uint c)
    {
        a -= c; a ^= Rot(c, 4); c += b;
        b -= a; b ^= Rot(a, 6); a += c;
        c -= b; c ^= Rot(b, 8); b += a;
        a -= c; a ^= Rot(c, 16); c += b;
        b -= a; b ^= Rot(a, 19); a += c;
        c -= b; c ^= Rot(b, 4); b += a;
    }

    static void Final(ref uint a, ref uint b, ref uint c)
    {
        c ^= b; c -= Rot(b, 14);
        a ^= c; a -= Rot(c, 11);
        b ^= a; b -= Rot(a, 25);
        c ^= b; c -= Rot(b, 16);
        a ^= c; a -= Rot(c, 4);
        b ^= a; b -= Rot(a, 14);
        c ^= b; c -= Rot(b, 24);
    }
}
