using NativeASD.Engine.Audio;

namespace NativeASD.Detection.Features;

/// <summary>
/// Features of long recordings in bounded memory. A clip up to <see cref="WholeFileSeconds"/> is read and extracted
/// whole, exactly as before. A longer one is streamed: cut into blocks of <see cref="BlockSeconds"/>, each extended by
/// <see cref="MarginSeconds"/> of the neighbouring audio on both sides (the frontend's frames and the network's receptive
/// field see real audio, not padding, at the block's edges), extracted as one clip, and only the rows whose time lies
/// inside the block kept. Memory is that of one extended block whatever the clip's length.
/// <para>Against the whole-file path: rows inside a block see the same audio (the margin exceeds the receptive field of
/// the shipped backbone), but segment boundaries are placed per block (one per second of the block) instead of
/// proportionally over the whole file, so a row can differ by the share of one network frame at its edges
/// (Tests/Detection/Features/LongClipTests measures it).</para>
/// </summary>
public static class LongClip
{
    public const double WholeFileSeconds = 120, BlockSeconds = 30, MarginSeconds = 3;

    /// <param name="extract">features of one mono clip at <paramref name="sampleRate"/> whose rows are evenly spaced in time.</param>
    public static ClipFeatures Extract(string path, ChannelMix mix, int sampleRate, Func<AudioClip, ClipFeatures> extract)
    {
        if (ReadWhole(path, mix, sampleRate) is AudioClip whole) return extract(whole);
        using var reader = AudioFile.OpenStream(path, mix, sampleRate);

        int block = (int)(BlockSeconds * sampleRate), margin = (int)(MarginSeconds * sampleRate);
        var buffer = new float[margin + block + margin];   // [left margin | block | right margin] of the file
        int filled = 0;                                    // valid samples in buffer
        int blockStart = 0;                                // index in buffer of the current block's first sample
        bool atEnd = false;
        var rows = new List<float>();
        int rowCount = 0, dimension = 0;
        int[] levels = [];
        while (true)
        {
            // Fill up to the block and its right margin (fewer at the end of the file).
            while (!atEnd && filled < buffer.Length)
            {
                int n = reader.Read(buffer.AsSpan(filled));
                if (n == 0) atEnd = true;
                filled += n;
            }
            int blockLength = Math.Min(block, filled - blockStart);
            if (blockLength <= 0) break;
            // The last block takes the short rest with it rather than leaving a sliver.
            if (atEnd && filled - blockStart - blockLength < sampleRate) blockLength = filled - blockStart;
            var piece = new AudioClip(buffer[..filled], sampleRate, path);
            var features = extract(piece);
            double from = (double)blockStart / filled, to = (double)(blockStart + blockLength) / filled;
            for (int r = 0; r < features.Rows; r++)
            {
                double centre = (r + 0.5) / features.Rows;
                if (centre < from || centre >= to) continue;
                foreach (float v in features.Row(r)) rows.Add(v);
                rowCount++;
            }
            dimension = features.Dimension;
            levels = features.Levels;
            if (blockStart + blockLength >= filled && atEnd) break;
            // Slide: keep the margin before the next block.
            int next = blockStart + blockLength, keep = Math.Min(margin, next);
            Array.Copy(buffer, next - keep, buffer, 0, filled - (next - keep));
            filled -= next - keep;
            blockStart = keep;
        }
        if (rowCount == 0) throw new InvalidDataException($"{path}: no feature rows");
        return new ClipFeatures(path, [.. rows], rowCount, dimension, levels);
    }

    /// <summary>The whole clip when it is extracted whole (up to <see cref="WholeFileSeconds"/>), null when it is streamed.</summary>
    public static AudioClip? ReadWhole(string path, ChannelMix mix, int sampleRate)
    {
        using (var reader = AudioFile.OpenStream(path, mix, sampleRate))
            if (reader.Length > WholeFileSeconds * sampleRate) return null;
        return AudioFile.Read(path, mix, sampleRate);
    }
}
